"""Does one passage of natural noise overwrite a stored fact? A probe of the model's weak spot.

    python -m rmt.distractor --checkpoint checkpoints/rmt-minilm-babi --scan --json
    python -m rmt.distractor --checkpoint checkpoints/rmt-minilm-babi \\
        --find "Hussey hurried towards" --room kitchen --before 2,16,128 --json

The tasks never ask the model to tell one person from another (a haystack holds one location
fact), so a book sentence that moves someone to one of the six rooms can read like a fact.
Each probe stores a Memorize fact ("Mary went to the garden."), reads book text, and asks the
question two segments of book text later; it runs once with the suspect passage and once with
the passage's sentences that name the room taken out, so any difference is the passage's doing.
Facts about the passage's own room are skipped: an overwrite would not show in them.

``--scan`` runs every sentence of the book that names a room and the sentences after it as the
whole noise; ``--find`` takes one passage and puts 2, 16, 128 ... segments of the book text
that precedes it between the fact and the passage, to see whether a fact stored long ago is safer.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.device import pick_device
from rmt.haystack import build_custom_haystack, count_tokens
from rmt.inference import classify_equal_length, prepare_for_inference
from rmt.noise import VALID_BOOKS, book_sentences
from rmt.tasks import NAMES, ROOMS, room_named


def facts_except(room: str) -> list[tuple[str, str]]:
    """(name, room) for every task name and every room but ``room``: 4 x 5 = 20 facts."""
    return [(name, other) for name in NAMES for other in ROOMS if other != room]


def answers_after(model, tokenizer, noise: str, facts: list[tuple[str, str]], room: str) -> dict:
    """Store each fact, read ``noise``, ask: how many answers stay right, how many turn into ``room``."""
    # Every haystack gets the same length (noise cut at the end if a fact is shorter), so one batch.
    num_tokens = count_tokens([noise], tokenizer) + 18
    hays = [
        build_custom_haystack(
            noise, [f"{name} went to the {where}."], f"Where is {name}?", num_tokens, tokenizer, answer=where, depth=0.0
        )
        for name, where in facts
    ]
    predicted = classify_equal_length(model, np.stack([h.token_ids for h in hays])).argmax(-1).tolist()
    answers = [ROOMS[p] for p in predicted]
    return {
        "right": sum(a == where for a, (_, where) in zip(answers, facts, strict=True)),
        "of": len(facts),
        "to_room": sum(a == room for a in answers),
    }


def with_and_without(
    model, tokenizer, sentences: list[str], index: int, length: int, room: str, before_tokens: int, shifts: int
) -> dict:
    """The passage ``sentences[index:index + length]`` read with and without its room-naming sentences.

    Whether a passage overwrites memory depends on where the segment borders fall around it, so
    each probe runs at ``shifts`` alignments: the book text before the passage grows by a fraction
    of a segment each time. Counts are summed over the alignments.
    """
    facts = facts_except(room)
    passage = sentences[index : index + length]
    kept = [s for s in passage if room_named(s) != room]
    # Two segments of the text that follows, so the question's own segment never holds the passage:
    # a room named next to the question is read there directly, not from memory.
    after = text_after(sentences, index + length, 2 * model.config.text_per_segment, tokenizer)
    step = model.config.text_per_segment // shifts
    totals = {"with": {"right": 0, "of": 0, "to_room": 0}, "without": {"right": 0, "of": 0, "to_room": 0}}
    for shift in range(shifts):
        before = text_before(sentences, index, before_tokens + shift * step, tokenizer)
        for name, text in (("with", passage), ("without", kept)):
            counts = answers_after(model, tokenizer, " ".join(before + text + after), facts, room)
            for key, value in counts.items():
                totals[name][key] += value
    return totals


def scan(model, tokenizer, sentences: list[str], length: int, shifts: int) -> list[dict]:
    rows = []
    for i, sentence in enumerate(sentences):
        room = room_named(sentence)
        if room is not None:
            probe = with_and_without(model, tokenizer, sentences, i, length, room, 0, shifts)
            rows.append({"sentence": sentence[:160], "room": room} | probe)
    return rows


def take_tokens(sentences: list[str], num_tokens: int, tokenizer) -> list[str]:
    """The first of ``sentences``, in order, that add up to at least ``num_tokens`` tokens."""
    chosen: list[str] = []
    count = 0
    for sentence in sentences:
        if count >= num_tokens:
            break
        chosen.append(sentence)
        count += count_tokens([sentence], tokenizer)
    return chosen


def text_before(sentences: list[str], index: int, num_tokens: int, tokenizer) -> list[str]:
    """The sentences just before ``index`` that add up to at least ``num_tokens`` tokens."""
    return take_tokens(sentences[:index][::-1], num_tokens, tokenizer)[::-1]


def text_after(sentences: list[str], index: int, num_tokens: int, tokenizer) -> list[str]:
    """The sentences from ``index`` on that add up to at least ``num_tokens`` tokens."""
    return take_tokens(sentences[index:], num_tokens, tokenizer)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Does a passage of noise overwrite a stored fact?")
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--book", default=VALID_BOOKS[0], help="a bundled book (default: the held-out one)")
    parser.add_argument("--scan", action="store_true", help="probe every sentence that names a room")
    parser.add_argument("--find", default=None, help="the start of the passage's first sentence")
    parser.add_argument("--sentences", type=int, default=12, help="passage length in sentences")
    parser.add_argument("--shifts", type=int, default=4, help="segment alignments per probe")
    parser.add_argument("--room", default=None, help="the room the passage names (default: its first)")
    parser.add_argument("--before", default="2,16,128", help="segments of book text between fact and passage")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.scan == (args.find is not None):
        parser.error("give either --scan or --find TEXT")
    model = prepare_for_inference(load_checkpoint(args.checkpoint), pick_device(args.device))
    tokenizer = load_checkpoint_tokenizer(args.checkpoint)
    sentences = book_sentences(args.book)
    result: dict = {"checkpoint": args.checkpoint, "book": args.book}
    if args.scan:
        result["sentences"] = scan(model, tokenizer, sentences, args.sentences, args.shifts)
    else:
        index = next((i for i, s in enumerate(sentences) if s.startswith(args.find)), None)
        if index is None:
            parser.error(f"no sentence of {args.book} starts with {args.find!r}")
        passage = sentences[index : index + args.sentences]
        room = args.room or next((r for r in map(room_named, passage) if r), None)
        if room not in ROOMS:
            parser.error("the passage names no room: give --room")
        result |= {"passage": " ".join(passage)[:300], "room": room, "points": []}
        for segments in [int(s) for s in args.before.split(",")]:
            before_tokens = segments * model.config.text_per_segment
            probe = with_and_without(
                model, tokenizer, sentences, index, args.sentences, room, before_tokens, args.shifts
            )
            result["points"].append({"segments_before": segments} | probe)
    if args.json:
        print(json.dumps(result))
    else:
        rows = result.get("sentences") or result["points"]
        for row in rows:
            label = row.get("sentence", f"{row.get('segments_before')} segments before")
            w, wo = row["with"], row["without"]
            room = row.get("room", result.get("room"))
            print(
                f"{w['right']:>2}/{w['of']} right with, {wo['right']:>2}/{wo['of']} without,"
                f" {w['to_room']} to {room}: {label!r}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
