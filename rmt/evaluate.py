"""Accuracy against haystack length on the held-out book, in constant memory.

    python -m rmt.evaluate --checkpoint checkpoints/rmt-minilm-babi --task detect \\
        --segments 1,2,4,8,16 --samples 200 --json

Each point builds ``--samples`` haystacks of exactly that many segments (seeded), runs them in
batches through the fast path and reports the fraction answered right, with a 95% Wilson
interval. ``--last-segments 1`` is the no-memory baseline: only the last window is read.
``--depths 0,0.5,1`` pins the fact at those fractions of the noise and evaluates every length at
every depth: a needle map (``"needle": {segments: {depth: accuracy}}`` in the JSON), which the app
draws from a checkpoint's ``needle.json``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import random
import sys
import time
from collections.abc import Callable, Iterator

import numpy as np
import torch
from tqdm import tqdm

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.device import pick_device
from rmt.haystack import Haystack, asked_fact_is_last, build_haystack
from rmt.inference import classify_equal_length, prepare_for_inference
from rmt.room_sentences import draw_room_sentences, room_sentences
from rmt.segments import Reading, fact_cuts, num_segments, sentence_end_ids, text_bounds
from rmt.tasks import ROOMS, check_task

ONLY_CUT_MAX_TOKENS = 117_760  # --only-cut: 1,024 segments of the shipped models' 115 text tokens
ONLY_CUT_GIVE_UP = 500  # haystacks drawn without a cut fact before --only-cut refuses the length
MAX_MISSES = 1000  # missed haystacks a point lists (seed, truth, answer): all of a 200-haystack point, so
# rmt.misses and rmt.cuts count every miss, not the first few


def sign_test(a: int, b: int) -> float:
    """Two-sided exact sign (McNemar) test on the haystacks only one of two readings missed: the same haystacks,
    paired (``a`` missed only by one, ``b`` only by the other)."""
    n, k = a + b, min(a, b)
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(k + 1)) / 2**n) if n else 1.0


def wilson_interval(correct: int, total: int, z: float = 1.96) -> tuple[float, float]:
    """95% interval for a proportion that stays sensible at 0% and 100% with few samples."""
    if total == 0:
        return 0.0, 1.0
    p = correct / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / (1 + z * z / total)
    return max(0.0, centre - half), min(1.0, centre + half)


def haystack_seed(run_seed: int, index: int) -> int:
    """The seed of a run's ``index``-th haystack.

    With no other people or room sentences added, ``build_haystack(task, tokens, seed=...)`` and the app
    (that seed, this noise, random depth) rebuild a missed haystack exactly, to watch where it went wrong.
    """
    return run_seed * 1_000_003 + index


def run_haystack_seeds(run: dict, point: dict) -> list[int]:
    """The seeds of the haystacks an ``rmt.evaluate --json`` run read at ``point``, in order (from its
    ``--start-index``): what ``rmt.cuts`` and ``rmt.misses`` rebuild, with no model run."""
    start = run.get("start_index", 0)
    return [haystack_seed(run["seed"], start + i) for i in range(point["samples"])]


def order_split(point: dict) -> tuple[dict, dict] | None:
    """A point's (asked_last, asked_earlier) counts, or None where it has no split or one side is empty."""
    orders = point.get("by_order")
    if not orders or not all(o["samples"] for o in orders.values()):
        return None
    return orders["asked_last"], orders["asked_earlier"]


def evaluate_point(
    model,
    tokenizer,
    task: str,
    num_tokens: int,
    samples: int,
    batch_size: int,
    noise: str,
    seed: int,
    last_segments: int | None = None,
    progress: bool = True,
    depth: float | None = None,
    other_people: int = 0,
    room_noise: int = 0,
    only_cut: bool = False,
    start_index: int = 0,
) -> dict:
    """Accuracy at one length; haystacks are built one batch at a time to keep memory flat.

    ``depth`` pins the fact at that fraction of the noise (a needle map's cell); None draws it at
    random per sample, which is what the accuracy-vs-length table averages over. With other people
    the point also splits its answers by whether the asked person's fact was the last one read
    (``by_order``): that tells a memory that keeps the latest room from one that keeps each person's.
    ``room_noise`` puts that many sentences of the noise's books that name a room (each swapped
    to a random room) into every haystack: the distractors of ``rmt.room_sentences``, at a known dose.
    ``only_cut`` keeps only haystacks with a fact cut in two by a boundary of the plain reading (no
    overlap, so a run with ``segment_overlap`` reads the same haystacks; about one in 25,
    where Detect loses most of its facts), skipping the others' seeds; ``drawn`` says how many were built.
    ``start_index`` begins at that haystack of the run's seed: a long point measured in pieces (8
    haystacks at 2M tokens is 17 minutes of a 2-core CPU) reads the same haystacks as one run would.
    """
    correct = segments_read = 0
    misses: list[dict] = []
    by_order = {order: {"correct": 0, "samples": 0} for order in ("asked_last", "asked_earlier")}
    total_segments = num_segments(num_tokens, model.config.text_per_segment, model.config.segment_overlap)
    steps = total_segments if last_segments is None else min(last_segments, total_segments)
    bar = tqdm(
        total=samples * steps,
        desc=f"{task} {num_tokens:,} tok" + ("" if depth is None else f" @{depth:.0%}"),
        unit="seg",
        disable=not progress,
        dynamic_ncols=True,
        file=sys.stderr,
    )
    started = time.perf_counter()

    def build(i: int) -> Haystack:
        return build_haystack(
            task,
            num_tokens,
            tokenizer,
            seed=haystack_seed(seed, i),
            noise=noise,
            depth=depth,
            other_people=other_people,
            distractors=(
                draw_room_sentences(noise, room_noise, random.Random(f"rooms:{seed}:{i}")) if room_noise else ()
            ),
        )

    text_per_segment = model.config.text_per_segment
    indices = itertools.count(start_index)
    drawn = cut_haystacks(build, text_per_segment, indices) if only_cut else ((i, build(i)) for i in indices)
    for first in range(0, samples, batch_size):
        indexed = list(itertools.islice(drawn, min(batch_size, samples - first)))
        hays = [hay for _, hay in indexed]
        ids = np.stack([h.token_ids for h in hays])  # [B, T]
        batch = len(hays)
        if model.config.segment_snap:  # each haystack's own count: its sentence ends move its boundaries
            read = [min(len(text_bounds(h.token_ids, model.config)), last_segments or math.inf) for h in hays]
            segments_read += sum(read)
            bar.total += batch * (max(read) - steps)  # the batch steps through its longest row's segments
        logits = classify_equal_length(model, ids, last_segments, on_segment=lambda *_, n=batch: bar.update(n))
        predicted = logits.argmax(-1).cpu().tolist()
        for (i, h), p in zip(indexed, predicted, strict=True):
            right = ROOMS[p] == h.answer
            correct += right
            if not right and len(misses) < MAX_MISSES:
                misses.append(
                    {
                        "seed": haystack_seed(seed, i),
                        "answer": h.answer,
                        "predicted": ROOMS[p],
                        "fact_tokens": [f.token_start for f in h.facts],
                    }
                )
            if other_people:
                counts = by_order["asked_last" if asked_fact_is_last(h) else "asked_earlier"]
                counts["correct"] += right
                counts["samples"] += 1
    bar.close()
    seconds = time.perf_counter() - started
    low, high = wilson_interval(correct, samples)
    return (
        {
            "accuracy": correct / samples,
            "correct": correct,
            "samples": samples,
            "ci95": [round(low, 4), round(high, 4)],
            "segments": total_segments,
            "tokens": num_tokens,
            "seconds": round(seconds, 2),
            "tokens_per_second": round(samples * num_tokens / seconds, 1),
            "depth": depth,
            "other_people": other_people,
            "room_noise": room_noise,
            "by_order": by_order if other_people else None,
            "misses": misses,
        }
        | ({"only_cut": True, "drawn": indexed[-1][0] + 1} if only_cut else {})
        | ({"segments_read": round(segments_read / samples, 2)} if model.config.segment_snap else {})
    )


def cut_haystacks(
    build: Callable[[int], Haystack], text_per_segment: int, indices: Iterator[int]
) -> Iterator[tuple[int, Haystack]]:
    """(index, haystack) for the haystacks ``build(i)``, i from ``indices``, whose fact a boundary cuts.

    About one in 25 is, but none may be: Memorize's facts open the haystack, so at a whole number of
    segments its first segment is full and no boundary falls inside them. Without a cut in the first
    ONLY_CUT_GIVE_UP draws this refuses, rather than draw forever.
    """
    found = 0
    for tried, i in enumerate(indices, start=1):
        hay = build(i)
        if fact_cuts(hay, Reading(text_per_segment)):  # the plain reading's cuts, whatever the model reads
            found += 1
            yield i, hay
        elif not found and tried >= ONLY_CUT_GIVE_UP:
            raise ValueError(
                f"none of the first {ONLY_CUT_GIVE_UP} haystacks of {hay.task} at {hay.num_tokens:,} tokens has a fact "
                "cut by a segment boundary (Memorize's facts open the haystack: try a length that is not a whole "
                "number of segments)"
            )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Accuracy vs haystack length for an RMT checkpoint.")
    parser.add_argument("--checkpoint", required=True, help="checkpoint folder or Hub repo id")
    parser.add_argument("--task", required=True, help="memorize, detect or reasoning")
    parser.add_argument("--segments", default=None, help="comma list of segment counts (default 1,2,4,8,16)")
    parser.add_argument("--tokens", default=None, help="comma list of token counts, instead of --segments")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument(
        "--noise",
        default="valid",
        help="valid (held-out book), valid-no-rooms (it, less its sentences naming a room), train, all, or a text FILE",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--start-index",
        type=int,
        default=0,
        help="begin at this haystack of the seed (default 0): --samples 8 --start-index 8 reads haystacks 8-15 of "
        "a --samples 32 run, so a slow point can be measured in pieces that rmt.publish pools",
    )
    parser.add_argument("--last-segments", type=int, default=None, help="read only the last k segments (1 = no memory)")
    parser.add_argument(
        "--depths",
        default=None,
        help="comma list of fact depths 0..1: a needle map (every length at every depth; detect, reasoning)",
    )
    parser.add_argument(
        "--other-people",
        type=int,
        default=0,
        help="also place facts about this many other people (0-3; memorize, detect): does the model keep names apart?",
    )
    parser.add_argument(
        "--room-noise",
        type=int,
        default=0,
        help="also place this many sentences of the noise's books that name a room (not facts) in each haystack",
    )
    parser.add_argument(
        "--only-cut",
        action="store_true",
        help="only haystacks with a fact cut in two by a segment boundary (a diagnostic: seeds of uncut ones are "
        "skipped, about 24 in 25; up to 1,024 segments). Cut as read without --overlap, so both readings get the "
        "same haystacks",
    )
    parser.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="text tokens each segment re-reads from the one before (default: the checkpoint's segment_overlap);"
        " a fact of at most OVERLAP+1 tokens is then read whole wherever the segments end. --segments N still means"
        " N x the segment's text tokens; each point's segments counts those read",
    )
    parser.add_argument(
        "--snap",
        type=int,
        default=None,
        help="move each segment's start up to SNAP tokens forward, to just after a sentence end (default: the "
        "checkpoint's segment_snap; 8 keeps every fact whole and reads nothing twice); with --overlap 0 only. "
        "Each point's segments_read is the mean a haystack took",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    task = check_task(args.task)
    device = pick_device(args.device)
    model = prepare_for_inference(load_checkpoint(args.checkpoint), device)
    tokenizer = load_checkpoint_tokenizer(args.checkpoint)
    if args.overlap is not None or args.snap is not None:
        # one of the two asked for alone replaces the checkpoint's reading: --snap 8 on a checkpoint read
        # with an overlap reads without it
        overlap = args.overlap if args.overlap is not None else 0 if args.snap else model.config.segment_overlap
        snap = args.snap if args.snap is not None else 0 if args.overlap else model.config.segment_snap
        try:
            model.read_segments(overlap, snap, sentence_end_ids(tokenizer) if snap else ())
        except ValueError as error:
            given = [name for name, value in (("--overlap", args.overlap), ("--snap", args.snap)) if value is not None]
            parser.error(f"{'/'.join(given)}: {error}")
    text = model.config.text_per_segment
    if args.tokens:
        lengths = [int(t) for t in args.tokens.split(",")]
    else:
        lengths = [int(s) * text for s in (args.segments or "1,2,4,8,16").split(",")]
    depths: list[float | None] = [None]
    if args.depths:
        if task == "memorize":
            parser.error("--depths needs a task that places its facts (detect, reasoning); memorize's are at the start")
        depths = [float(d) for d in args.depths.split(",")]
        if not all(0.0 <= d <= 1.0 for d in depths):
            parser.error(f"--depths must lie between 0 and 1, got {args.depths}")
    if args.start_index < 0:
        parser.error(f"--start-index must be 0 or more, got {args.start_index}")
    if args.room_noise < 0:
        parser.error(f"--room-noise must be 0 or more, got {args.room_noise}")
    if args.room_noise and not room_sentences(args.noise):
        parser.error(f"--room-noise: {args.noise} has no sentence that names a room ({', '.join(ROOMS)})")
    if args.only_cut and max(lengths) > ONLY_CUT_MAX_TOKENS:
        parser.error(f"--only-cut builds about 25 haystacks for each one kept: at most {ONLY_CUT_MAX_TOKENS:,} tokens")
    command = "python -m rmt.evaluate " + " ".join(sys.argv[1:] if argv is None else argv)
    result = {
        "task": task,
        "checkpoint": str(args.checkpoint),
        "command": command,
        "noise": args.noise,
        "seed": args.seed,
        "start_index": args.start_index,
        "device": str(device),
        "dtype": str(model.dtype).removeprefix("torch."),
        "last_segments": args.last_segments,
        "other_people": args.other_people,
        "room_noise": args.room_noise,
        "only_cut": args.only_cut,
        "segment_overlap": model.config.segment_overlap,
        "segment_snap": model.config.segment_snap,
        "accuracy": {},
        "tokens": {},
        "points": [],
    }
    if args.depths:
        result["needle"] = {}
    for length in lengths:
        key = str(length) if args.tokens else str(num_segments(length, text))
        correct = samples = 0  # over all depths: the length's accuracy
        for depth in depths:
            torch.manual_seed(args.seed)
            try:
                point = evaluate_point(
                    model,
                    tokenizer,
                    task,
                    length,
                    args.samples,
                    args.batch_size,
                    args.noise,
                    args.seed,
                    args.last_segments,
                    progress=not args.quiet,
                    depth=depth,
                    other_people=args.other_people,
                    room_noise=args.room_noise,
                    only_cut=args.only_cut,
                    start_index=args.start_index,
                )
            except ValueError as error:  # a length or option these haystacks cannot be built with
                parser.error(str(error))
            correct += point["correct"]
            samples += point["samples"]
            if depth is not None:
                result["needle"].setdefault(key, {})[f"{depth:g}"] = point["accuracy"]
            result["points"].append(point)
            if not args.json:
                where = "" if depth is None else f" at depth {depth:.0%}"
                if args.only_cut:
                    where += f" (cut facts only: {point['samples']} of {point['drawn']:,} drawn)"
                if "segments_read" in point:
                    where += f" ({point['segments_read']:,} segments read, boundaries at sentence ends)"
                print(
                    f"{task} {point['segments']:>6} segments {length:>9,} tokens{where}: {point['accuracy']:.3f} "
                    f"({point['correct']}/{point['samples']}, 95% CI {point['ci95']}) "
                    f"{point['tokens_per_second']:,.0f} tok/s"
                )
                for order, counts in (point["by_order"] or {}).items():
                    print(f"    {order.replace('_', ' ')}: {counts['correct']}/{counts['samples']}")
        result["accuracy"][key] = correct / samples
        result["tokens"][key] = length
    if args.json:
        print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
