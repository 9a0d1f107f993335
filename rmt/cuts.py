"""Facts that a segment boundary cuts in two, and how often evaluation missed those haystacks.

A fact goes in at a sentence start of the noise, wherever the segments happen to end, so now and
then "John moved to | the bedroom." is read half in one segment and half in the next: the memory
has to join the halves. Such haystacks are where Detect loses most of its facts (every miss of the
shipped model on the held-out book up to 1,024 segments), so the app points such a cut out, and this
CLI counts it over finished evaluation runs (``rmt.publish --cuts`` ships the count as ``cuts.json``):

    python -m rmt.cuts --checkpoint checkpoints/rmt-minilm-babi runs/nr-detect-1024.json ...

Each run's haystacks are rebuilt from its task, lengths, noise and seed (``rmt.evaluate`` lists a
miss by its haystack's seed), so no model is run. Runs with other people's facts or room sentences
added are not rebuilt exactly and are refused.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path

from rmt.checkpoint import load_checkpoint_tokenizer, read_config, resolve_checkpoint
from rmt.evaluate import run_haystack_seeds
from rmt.haystack import Haystack, build_haystack
from rmt.segments import Reading, fact_cuts


def cut_halves(hay: Haystack, fact_index: int, end: int, tokenizer) -> tuple[str, str]:
    """The fact's words in the segment that ends at ``end`` and in the next one."""
    fact = hay.facts[fact_index]
    first = tokenizer.decode(hay.token_ids[fact.token_start : end].tolist())
    second = tokenizer.decode(hay.token_ids[end : fact.token_end].tolist())
    return first, second.removeprefix("##")  # a cut inside a word: "hall" | "way."


def check_rebuildable(run: dict) -> None:
    """Refuse a run whose haystacks its JSON does not pin down (their extra sentences are drawn apart)."""
    if run.get("other_people") or run.get("room_noise") or run.get("only_cut"):
        raise ValueError(
            "runs with --other-people or --room-noise are not rebuilt exactly, and --only-cut runs skip"
            " seeds: leave them out"
        )


def rebuild_haystack(run: dict, point: dict, seed: int, tokenizer) -> Haystack:
    """The haystack an ``rmt.evaluate --json`` run read at ``point`` for the sample with ``seed``."""
    return build_haystack(
        run["task"], point["tokens"], tokenizer, seed=seed, depth=point.get("depth"), noise=run["noise"]
    )


def checkpoint_reader(checkpoint: str) -> tuple[object, int]:
    """(tokenizer, text tokens per segment) of a checkpoint: all a rebuild needs, without its weights."""
    return load_checkpoint_tokenizer(checkpoint), read_config(resolve_checkpoint(checkpoint)).text_per_segment


def count_run(run: dict, tokenizer, text_per_segment: int) -> list[dict]:
    """Per point of an ``rmt.evaluate --json`` run: haystacks with a cut fact, and the run's listed misses
    split by whether their haystack had one (runs list at most 50 before session 21, and none before session 16)."""
    check_rebuildable(run)
    # read with an overlap, a fact is cut only if no segment reads it whole; snapped, no fact is cut
    reading = Reading.of_run(run, text_per_segment, tokenizer)
    rows = []
    for point in run["points"]:
        missed = {m["seed"] for m in point.get("misses", [])}
        cut_seeds = []
        for seed in run_haystack_seeds(run, point):
            if fact_cuts(rebuild_haystack(run, point, seed, tokenizer), reading):
                cut_seeds.append(seed)
        cut_missed = len(missed.intersection(cut_seeds))
        rows.append(
            {
                "task": run["task"],
                "segments": point.get("segments"),
                "segment_overlap": reading.segment_overlap,
                "segment_snap": reading.segment_snap,
                "tokens": point["tokens"],
                "noise": run["noise"],
                "samples": point["samples"],
                "correct": point["correct"],
                "cut": len(cut_seeds),
                # over the misses the run names (all of them when misses_listed == samples - correct)
                "misses_listed": len(missed),
                "cut_missed": cut_missed,
                "uncut_missed": len(missed) - cut_missed,
            }
        )
    return rows


def cut_totals(rows: list[dict], task: str) -> dict | None:
    """One task's haystacks with and without a cut fact and the misses on each side, summed over the rows
    whose every miss is listed (a row with some unlisted could put a miss on the wrong side); None where
    no such haystack had a cut fact, so there is nothing to set a cut haystack against. Rows read with an
    overlap or snapped to sentence ends are left out: none of their facts is cut, so they would only swell
    the uncut side."""
    rows = [
        r
        for r in rows
        if r["task"] == task
        and r["misses_listed"] == r["samples"] - r["correct"]
        and not (r.get("segment_overlap") or r.get("segment_snap"))
    ]
    cut = sum(r["cut"] for r in rows)
    if not cut:
        return None
    return {
        "samples": sum(r["samples"] for r in rows),
        "cut": cut,
        "cut_missed": sum(r["cut_missed"] for r in rows),
        "uncut_missed": sum(r["uncut_missed"] for r in rows),
        "tokens": [min(r["tokens"] for r in rows), max(r["tokens"] for r in rows)],
    }


def rows_from_runs(paths: list[str], count: Callable[[dict], list[dict]]) -> list[dict]:
    """``count``'s rows for each eval run file, each tagged with its file; a refusal names the file."""
    rows = []
    for path in paths:
        try:
            rows += [row | {"run": path} for row in count(json.loads(Path(path).read_text()))]
        except ValueError as error:
            raise ValueError(f"{path}: {error}") from error
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Count haystacks whose fact a segment boundary cuts, in eval runs.")
    parser.add_argument("runs", nargs="+", help="JSON files printed by `python -m rmt.evaluate --json`")
    parser.add_argument(
        "--checkpoint", required=True, help="the checkpoint the runs evaluated (its tokenizer, segments)"
    )
    args = parser.parse_args(argv)
    tokenizer, text_per_segment = checkpoint_reader(args.checkpoint)
    try:
        rows = rows_from_runs(args.runs, lambda run: count_run(run, tokenizer, text_per_segment))
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    command = "python -m rmt.cuts " + " ".join(sys.argv[1:] if argv is None else argv)
    print(json.dumps({"command": command, "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
