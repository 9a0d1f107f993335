"""What a finished evaluation run's wrong answers were: another fact's room, the question's own, or
a room the book named after the facts.

Reasoning is the task the shipped models miss most, and not at random: at 117,760 tokens 92 of
``rmt-minilm-babi``'s 109 misses answered the room of the fact the question does not ask about, where a
wrong answer drawn at random would do so about 1 time in 5. This CLI sorts a run's listed misses that way, and
gives that chance count beside it, so a new model's misses can be set against the shipped one's:

    python -m rmt.misses --checkpoint checkpoints/rmt-minilm-babi runs/reasoning-1024.json ...

As in ``rmt.cuts`` the haystacks are rebuilt from the run's task, lengths, noise and seeds; no
model is run. Each miss is put in the first kind that holds, in this order:

- ``other_fact``: the room of a fact other than the one asked about (``rmt.haystack.other_fact``);
- ``question_room``: a room the question itself names ("What is north of the kitchen?");
- ``named_after_facts``: a room that a sentence of the book names after the last fact, before the
  question, where it can overwrite the memory (the app marks these ▼);
- ``named_nowhere_after``: none of these.

Two splits of every haystack of a point (so the listed misses have a base rate beside them) say
which Reasoning haystacks are missed: by the question's phrasing (``rmt.tasks.question_phrasing``),
by the direction the asked fact states, by whether it was the later of the two facts read, and by
whether the facts were read beside the question or only through the memory.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter

from rmt.cuts import check_rebuildable, checkpoint_reader, rebuild_haystack, rows_from_runs
from rmt.evaluate import run_haystack_seeds
from rmt.haystack import Haystack, asked_fact, mentions_after_facts, other_fact
from rmt.segments import Reading, fact_cuts, segment_of, text_bounds
from rmt.tasks import ROOMS, question_phrasing, relation_direction, rooms_named

KINDS = ("other_fact", "question_room", "named_after_facts", "named_nowhere_after")


def miss_kind(hay: Haystack, predicted: str) -> str:
    """The first of KINDS that a wrong answer ``predicted`` to ``hay`` is."""
    if predicted == hay.answer:
        raise ValueError(f"{predicted!r} is the right answer, not a miss")
    if other_fact(hay, predicted) is not None:
        return "other_fact"
    if predicted in rooms_named(hay.question):
        return "question_room"
    after = mentions_after_facts(hay)
    if predicted in {hay.room_mentions.room(int(i)) for i in after}:
        return "named_after_facts"
    return "named_nowhere_after"


def other_fact_chance(hay: Haystack) -> float:
    """How often a wrong room drawn at random would be another fact's: the baseline for ``other_fact``."""
    wrong = [room for room in ROOMS if room != hay.answer]
    return sum(other_fact(hay, room) is not None for room in wrong) / len(wrong)


def haystack_splits(hay: Haystack, reading: Reading) -> dict[str, str]:
    """The groups a haystack falls in, one per split, for counting misses against all haystacks.

    Where the facts sit tells a memory that holds each relation from one that holds only rooms: a
    fact in the question's own segment is read beside it, the others only through the memory.
    """
    last = max(hay.facts, key=lambda f: f.token_start)
    asked = asked_fact(hay)
    bounds = text_bounds(hay.token_ids, reading)
    segments = [segment_of(bounds, f.token_start) for f in hay.facts]
    question_start = bounds[segment_of(bounds, hay.question_token_start)][0]
    beside = sum(f.token_start >= question_start for f in hay.facts)  # with an overlap, re-read beside it too
    return {
        "phrasing": question_phrasing(hay.question),
        "asked_direction": relation_direction(asked.text) or "none",  # the asked fact's, whatever the phrasing
        "asked_fact": "last" if asked is last else "earlier",
        "facts": "one segment" if len(set(segments)) == 1 else "apart",
        "facts_beside_question": "all" if beside == len(segments) else "some" if beside else "none",
    }


def miss_record(hay: Haystack, miss: dict, reading: Reading) -> dict:
    """One listed miss, checked against its rebuilt haystack, with its kind."""
    starts = [f.token_start for f in hay.facts]
    if hay.answer != miss["answer"] or miss.get("fact_tokens", starts) != starts:
        raise ValueError(f"seed {miss['seed']} did not rebuild the haystack the run read")
    return {
        "seed": miss["seed"],
        "answer": miss["answer"],
        "predicted": miss["predicted"],
        "kind": miss_kind(hay, miss["predicted"]),
        "cut": bool(fact_cuts(hay, reading)),
        "other_fact_chance": round(other_fact_chance(hay), 4),
    }


def sort_point(
    run: dict, point: dict, tokenizer, text_per_segment: int, splits: bool
) -> tuple[list[dict], dict | None]:
    """A point's listed misses, each rebuilt once, and with ``splits`` {split: {group: {"samples",
    "misses_listed"}}} over every haystack the point read (the missed ones are not built twice)."""
    reading = Reading.of_run(run, text_per_segment, tokenizer)  # how the run read: its segments, its cuts
    listed: dict[int, list[dict]] = {}
    for miss in point.get("misses", []):
        listed.setdefault(miss["seed"], []).append(miss)
    seeds = run_haystack_seeds(run, point) if splits else list(listed)
    if unknown := listed.keys() - set(seeds):
        raise ValueError(f"seed {min(unknown)} did not rebuild the haystack the run read")
    misses, counts = [], {}
    for seed in seeds:
        hay = rebuild_haystack(run, point, seed, tokenizer)
        misses += [miss_record(hay, miss, reading) for miss in listed.get(seed, [])]
        if splits:
            for split, group in haystack_splits(hay, reading).items():
                tally = counts.setdefault(split, {}).setdefault(group, {"samples": 0, "misses_listed": 0})
                tally["samples"] += 1
                tally["misses_listed"] += seed in listed
    return misses, counts if splits else None


def sort_run(run: dict, tokenizer, text_per_segment: int, splits: bool = True) -> list[dict]:
    """Per point of an ``rmt.evaluate --json`` run: its listed misses counted by kind, and each one.

    ``splits`` (Reasoning only) rebuilds every haystack of the point, not just the missed ones: a
    few seconds at 1,024 segments, minutes at 2,000,000 tokens."""
    check_rebuildable(run)
    rows = []
    for point in run["points"]:
        misses, split_counts = sort_point(
            run, point, tokenizer, text_per_segment, splits and run["task"] == "reasoning"
        )
        kinds = Counter(m["kind"] for m in misses)
        rows.append(
            {
                "task": run["task"],
                "tokens": point["tokens"],
                "segments": point.get("segments"),
                **({"segments_read": point["segments_read"]} if "segments_read" in point else {}),  # snapped
                "segment_overlap": run.get("segment_overlap", 0),
                "segment_snap": run.get("segment_snap", 0),
                "eval_command": run.get("command"),  # what printed the run: rerun it to remeasure
                "device": " ".join(str(run[k]) for k in ("device", "dtype") if run.get(k)),
                "noise": run["noise"],
                "samples": point["samples"],
                "correct": point["correct"],
                # runs before session 21 list at most 50 misses: these counts are over the listed ones
                "misses_listed": len(misses),
                "kinds": {kind: kinds[kind] for kind in KINDS},
                "other_fact_by_chance": round(sum(m["other_fact_chance"] for m in misses), 2),
                "cut": sum(m["cut"] for m in misses),
                "complete": len(misses) == point["samples"] - point["correct"],  # every miss listed
                "splits": split_counts,
                "misses": misses,
            }
        )
    return rows


def summary_rows(rows: list[dict]) -> list[dict]:
    """The rows without their list of each miss: the counts a checkpoint ships."""
    return [{key: value for key, value in row.items() if key != "misses"} for row in rows]


def complete_reasoning_rows(result: dict) -> list[dict]:
    """Reasoning rows that list every miss and carry the splits: the ones whose rates can be quoted."""
    return [r for r in result.get("rows", []) if r["task"] == "reasoning" and r["complete"] and r["splits"]]


def group_right(group: dict) -> tuple[int, int]:
    """(right, haystacks) of one split group, from a row that lists every miss (else right is overcounted)."""
    return group["samples"] - group["misses_listed"], group["samples"]


def add_splits(rows: list[dict]) -> dict | None:
    """The rows' split counts added up, or None unless every row has them."""
    if not rows or any(r["splits"] is None for r in rows):
        return None
    out: dict[str, dict[str, dict[str, int]]] = {}
    for row in rows:
        for split, groups in row["splits"].items():
            for group, tally in groups.items():
                into = out.setdefault(split, {}).setdefault(group, {"samples": 0, "misses_listed": 0})
                for key in into:
                    into[key] += tally[key]
    return out


def total(rows: list[dict]) -> dict:
    """The rows' counts added up (several seeds of one point, say)."""
    return {
        "samples": sum(r["samples"] for r in rows),
        "correct": sum(r["correct"] for r in rows),
        "misses_listed": sum(r["misses_listed"] for r in rows),
        "kinds": {kind: sum(r["kinds"][kind] for r in rows) for kind in KINDS},
        "other_fact_by_chance": round(sum(r["other_fact_by_chance"] for r in rows), 2),
        "cut": sum(r["cut"] for r in rows),
        "complete": all(r["complete"] for r in rows),
        "splits": add_splits(rows),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Sort the misses of eval runs by what the wrong answer was.")
    parser.add_argument("runs", nargs="+", help="JSON files printed by `python -m rmt.evaluate --json`")
    parser.add_argument(
        "--checkpoint", required=True, help="the checkpoint the runs evaluated (its tokenizer, segments)"
    )
    parser.add_argument(
        "--no-splits", action="store_true", help="rebuild only the missed haystacks (skips Reasoning's splits)"
    )
    parser.add_argument(
        "--summary", action="store_true", help="counts only, no list of each miss (what a checkpoint ships)"
    )
    args = parser.parse_args(argv)
    tokenizer, text_per_segment = checkpoint_reader(args.checkpoint)
    try:
        rows = rows_from_runs(
            args.runs, lambda run: sort_run(run, tokenizer, text_per_segment, splits=not args.no_splits)
        )
    except ValueError as error:
        print(error, file=sys.stderr)
        return 2
    if args.summary:
        rows = summary_rows(rows)
    command = "python -m rmt.misses " + " ".join(sys.argv[1:] if argv is None else argv)
    print(json.dumps({"command": command, "total": total(rows), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
