"""The sentences beside a run's answer that say what the text did to it, from plain data.

Each says only what was read (a room another fact names, a sentence naming the answer after the fact, a
fact cut by a segment boundary) and quotes what evaluation measured for such haystacks; none claims to know
why the model answered as it did. ``segment_of`` maps a token to the 0-based segment that reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from rmt.formatting import markdown_literal
from rmt.haystack import Haystack, fact_person, mentions_after_facts, other_fact
from rmt.inference import SegmentRecord
from rmt.model import RMTConfig
from rmt.plots import shorten
from rmt.tasks import ROOMS


def other_fact_verdict(hay: Haystack, answer: str) -> str | None:
    """A line for a wrong answer that is another fact's room (rmt-minilm-babi's Reasoning at 117,760 tokens: 92 of
    109 misses, where a random wrong room would be 22; ``python -m rmt.misses`` counts them in a run)."""
    fact = other_fact(hay, answer)
    if fact is None:
        return None
    why = (  # a relation ("The kitchen is north of the hallway.") names no person
        "the shipped model never learned to keep people apart"
        if fact_person(fact.text)
        else "Reasoning's commonest miss"
    )
    return (
        f"The **{answer}** is another fact's room: “{markdown_literal(fact.text)}” The model read a "
        f"fact, just not the one the question asks about ({why}; see About)."
    )


def room_mentions_verdict(
    hay: Haystack,
    records: Sequence[SegmentRecord],
    answer: str,
    class_names: Sequence[str],
    segment_of: Callable[[int], int],
) -> str | None:
    """What the text said about rooms after the fact, next to a right or a wrong answer.

    Only what was read: which sentence named the room the model gave, and whether it sat in the
    question's own segment, where the answer reads it directly rather than through the memory.
    It does not claim the sentence is why; evaluation without the book's room sentences is what
    says it usually is. ``records`` are the run's segments, for what the memory answered before.
    """
    after = mentions_after_facts(hay)
    if not len(after):
        return None
    mentions = hay.room_mentions
    if answer == hay.answer:
        count = f"{len(after):,} sentence{'s' if len(after) != 1 else ''}"
        return f"After the fact the text named a room in {count} (▼); the memory kept the fact."
    same = after[mentions.rooms[after] == ROOMS.index(answer)] if answer in ROOMS else after[:0]
    if not len(same):
        return None
    i = int(same[-1])
    segment = segment_of(int(mentions.tokens[i]))
    quote = f"“{markdown_literal(shorten(mentions.sentence(i, hay.text), 160))}”"
    if segment == segment_of(hay.question_token_start):
        before = [r for r in records if r.index < segment and r.probabilities is not None]
        kept = class_names[int(np.argmax(before[-1].probabilities))] if before else None
        return (
            f"The question's own segment ({segment + 1:,}, ▼) names the **{answer}**: {quote} "
            "The answer reads that segment directly, beside the question"
            + (f"; asked of the memory just before it, the model answered **{kept}**." if kept else ".")
        )
    return (
        f"After the fact the text named the **{answer}** (segment {segment + 1:,}, ▼): {quote} "
        "Sentences like this are where the shipped model loses facts on long haystacks (see About)."
    )


def cut_verdict(cuts: dict[int, dict], right: bool, measured: str | None) -> str | None:
    """A right or wrong answer on a haystack whose fact a segment boundary cut, with ``measured``: how often the
    answering checkpoint missed haystacks with a cut fact in evaluation, beside those without one
    (``measured_notes.cut_line``). ``cuts`` is the explorer's ``fact_cuts``: fact index -> the segment
    (1-based) ending inside it and the two halves."""
    if not cuts:
        return None
    segment, (first, second) = next((c["segment"], c["halves"]) for c in cuts.values())
    where = (
        f"A segment boundary cut the fact in two (segment {segment:,} read “{markdown_literal(first)}”, "
        f"segment {segment + 1:,} “{markdown_literal(second)}”)"
    )
    line = where + (": the memory joined the halves." if right else ": the memory had to join the halves.")
    return line + (f" In evaluation {measured}" if measured else "")


def bridge_verdict(bridges: dict[int, dict], config: RMTConfig, measured: str | None) -> str | None:
    """The served reading at work: where plain segments would have cut the fact, which segment read it whole,
    and what such cuts cost plain segments in evaluation (``measured``). ``bridges`` is the explorer's
    ``fact_bridges``."""
    if not bridges:
        return None
    segment, (first, second) = next((b["segment"], b["halves"]) for b in bridges.values())
    how = (
        "with the boundary moved to the sentence end"
        if config.segment_snap
        else f"re-reading the last {config.segment_overlap} tokens of each segment"
    )
    line = (
        f"Plain segments would have cut the fact in two (“{markdown_literal(first)}” | "
        f"“{markdown_literal(second)}”); {how}, segment {segment:,} read it whole."
    )
    return line + (f" Read with plain segments, in evaluation {measured}" if measured else "")
