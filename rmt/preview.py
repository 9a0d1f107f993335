"""The haystack preview the page shows after Generate, as HTML built from plain data.

A haystack can be 10 MB of text: the preview shows the neighbourhood of each fact, the question and the
room sentences that could mislead the model, never the whole text. ``segment_of`` maps a token to the
0-based segment that reads it under the served reading (the explorer keeps those bounds).
"""

from __future__ import annotations

import html
from collections.abc import Callable

from rmt.haystack import Haystack, mentions_after_facts
from rmt.model import RMTConfig
from rmt.noise import VALID_NO_ROOMS
from rmt.room_sentences import room_sentences
from rmt.tasks import ROOM_WORD

PREVIEW_CONTEXT = 280  # characters shown on each side of a fact


def preview_html(hay: Haystack, summary: dict, config: RMTConfig, segment_of: Callable[[int], int]) -> str:
    """The preview of ``hay``; ``summary`` is the explorer's summary of it (counts, facts, cuts, measured
    accuracy), so the page and the API say the same numbers."""
    parts = [
        f"<div class='rmt-preview'><p><b>{summary['tokens']:,}</b> tokens · <b>{summary['segments']:,}</b> segments "
        f"of {config.segment_size} positions{reading_clause(config)} · {len(hay.text):,} characters · noise: "
        f"{html.escape(hay.noise)}</p>"
    ]
    parts.extend(f"<p class='rmt-note'>⚠ {html.escape(note)}</p>" for note in hay.notes)
    if summary["measured_accuracy"]:
        parts.append(f"<p class='rmt-expect'>{html.escape(summary['measured_accuracy'])}</p>")
    for fact, meta in zip(hay.facts, summary["facts"], strict=True):
        before = hay.text[max(0, fact.char_start - PREVIEW_CONTEXT) : fact.char_start]
        after = hay.text[fact.char_end : fact.char_end + PREVIEW_CONTEXT]
        parts.append(
            f"<p class='rmt-fact'><small>token {meta['token']:,} · segment {meta['segment']:,}{cut_clause(meta)}"
            f"</small><br>…{html.escape(before)}<mark>{html.escape(fact.text)}</mark>{html.escape(after)}…</p>"
        )
    parts.extend(room_mentions_html(hay, segment_of))
    tail = hay.text[max(0, len(hay.text) - len(hay.question) - PREVIEW_CONTEXT) : len(hay.text) - len(hay.question)]
    parts.append(f"<p class='rmt-question'>…{html.escape(tail)}<mark class='q'>{html.escape(hay.question)}</mark></p>")
    truth = html.escape(hay.answer) if hay.answer else "not given"
    parts.append(f"<p>Expected answer: <b>{truth}</b></p></div>")
    return "\n".join(parts)


def cut_clause(fact: dict) -> str:
    """Where a segment boundary cuts a fact (the memory must join the halves), or where plain segments would
    have and the served reading does not; nothing for a fact no plain boundary touches."""
    if fact["cut"]:
        first, second = (html.escape(half) for half in fact["cut"]["halves"])
        return (
            f" · ✂ cut by the end of segment {fact['cut']['segment']:,}: “{first}” | “{second}”; "
            "the memory has to join the halves"
        )
    if fact["bridged"]:
        first, second = (html.escape(half) for half in fact["bridged"]["halves"])
        return (
            f" · plain segments would cut it: “{first}” | “{second}”; segment "
            f"{fact['bridged']['segment']:,} reads it whole"
        )
    return ""


def reading_clause(config: RMTConfig) -> str:
    """How segments keep facts whole: each re-reads the end of the one before, or starts after a sentence end
    (nothing for plain segments)."""
    if config.segment_snap:
        return f", each starting after a sentence end where one lies within {config.segment_snap} tokens"
    if config.segment_overlap:
        return f", each re-reading the last {config.segment_overlap} tokens of the one before"
    return ""


def room_mentions_html(hay: Haystack, segment_of: Callable[[int], int]) -> list[str]:
    """A line on the sentences that name a room without being facts, and the last one after the fact: on long
    haystacks such a sentence is where the shipped model loses a Memorize or Detect fact."""
    mentions = hay.room_mentions
    if not len(mentions) and hay.noise == VALID_NO_ROOMS:
        cut = len(room_sentences("valid"))
        return [
            f"<p class='rmt-rooms'>Nothing in this text but the facts names a room: the {cut} sentences of the "
            "book that do were cut out. The memory only has to keep the fact.</p>"
        ]
    if not len(mentions):
        return []
    after = mentions_after_facts(hay)
    count = f"{len(mentions):,} sentence{'s' if len(mentions) != 1 else ''}"
    parts = [
        f"<p class='rmt-rooms'>The text names a room in {count} that {'are' if len(mentions) != 1 else 'is'} "
        f"not a fact ({len(after):,} after the fact; ▼ on the answer plot). The model can take one for a fact.</p>"
    ]
    if len(after):
        i = int(after[-1])
        segment = segment_of(int(mentions.tokens[i])) + 1
        sentence = html.escape(mentions.sentence(i, hay.text))
        marked = ROOM_WORD.sub(lambda m: f"<mark class='room'>{m.group(0)}</mark>", sentence)
        where = f"<small>segment {segment:,} · the last after the fact</small>"
        parts.append(f"<p class='rmt-room'>{where}<br>{marked}</p>")
    return parts
