"""Are the Reasoning misses added by an overlap the haystacks whose facts it reads whole twice?

Rebuilds the haystacks of the plain card points (each checkpoint's eval.json) and of the overlap runs in a
folder (default: this one; `docs/candidates/overlap7` for `--overlap 7`) at 2 to 32 segments, and counts
misses among haystacks with a fact that two overlapping segments both read whole, and among the others.
No model run: `python docs/candidates/overlap16/double_read.py [FOLDER]` (a minute).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from rmt.checkpoint import load_checkpoint_tokenizer
from rmt.cuts import rebuild_haystack
from rmt.evaluate import haystack_seed, sign_test
from rmt.segments import segment_bounds

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
PAIRS = {  # checkpoint: its overlap run's file in the folder (the plain points are its card's)
    "rmt-minilm-reasoning": "rmt-minilm-reasoning-reasoning-1-32.json",
    "rmt-minilm-babi": "reasoning-1-32.json",
}


def missed(points: list[dict]) -> dict[int, set[int]]:
    return {p["tokens"]: {m["seed"] for m in p["misses"]} for p in points}


def read_twice(hay, per_segment: int, overlap: int) -> bool:
    """Whether two segments of the overlapping reading both read one of the haystack's facts whole."""
    bounds = segment_bounds(hay.num_tokens, per_segment, overlap)
    return any(sum(a <= f.token_start and f.token_end <= b for a, b in bounds) >= 2 for f in hay.facts)


def main(folder: Path) -> None:
    tokenizer = load_checkpoint_tokenizer(ROOT / "checkpoints" / "rmt-minilm-babi")
    for name, overlap_file in PAIRS.items():
        card = json.loads((ROOT / "checkpoints" / name / "eval.json").read_text())
        run = json.loads((folder / overlap_file).read_text())
        plain, overlapped = missed(card["tasks"]["reasoning"]["points"]), missed(run["points"])
        counts = {
            "twice": [0, 0, 0, 0, 0],
            "once": [0, 0, 0, 0, 0],
        }  # haystacks, plain, overlap, only plain, only overlap
        for point in run["points"]:
            if point["tokens"] not in plain or point["tokens"] <= 115:  # one segment: nothing overlaps
                continue
            for i in range(point["samples"]):
                seed = haystack_seed(run["seed"], i)
                hay = rebuild_haystack(run, point, seed, tokenizer)
                row = counts["twice" if read_twice(hay, 115, run["segment_overlap"]) else "once"]
                lost_plain, lost_overlapped = seed in plain[point["tokens"]], seed in overlapped[point["tokens"]]
                for i, add in enumerate(
                    (1, lost_plain, lost_overlapped, lost_plain > lost_overlapped, lost_overlapped > lost_plain)
                ):
                    row[i] += add
        for kind, (n, p, o, only_p, only_o) in counts.items():
            print(
                f"{name}: a fact read whole {kind}: {n} haystacks, plain missed {p}, "
                f"--overlap {run['segment_overlap']} missed {o} "
                f"(missed by one reading only: plain {only_p}, overlap {only_o}; "
                f"sign test p = {sign_test(only_p, only_o):.2g})"
            )


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else HERE)
