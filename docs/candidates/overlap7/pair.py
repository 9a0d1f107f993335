"""Every `rmt-minilm-babi` haystack read both ways, plainly and with the 7-token overlap, counted by task.

A point's haystacks depend only on its task, length, noise and seed, so the plain runs in
`docs/candidates/planted20` and the overlap's in this folder read the same haystacks; a haystack missed by
one reading only is a discordant pair, and the exact sign test asks whether one reading loses more of them.
Reads the JSONs only, no model run: `PYTHONPATH=. python docs/candidates/overlap7/pair.py`.
"""

from __future__ import annotations

import json
from pathlib import Path

from rmt.evaluate import sign_test

HERE = Path(__file__).resolve().parent
PLAIN = HERE.parent / "planted20"
WHOLE_BOOK_2M = [f"from{start}" for start in (0, 8, 16, 24)]  # the overlap's 2M run of 32, in four pieces
POINTS = {  # task: (plain JSON, the overlap's JSONs of the same haystacks)
    task: [
        (f"{task}-1024.json", [f"{task}-1024.json"]),
        (f"no-rooms-{task}-1024.json", [f"no-rooms-{task}-1024.json"]),
    ]
    + (
        [
            (f"{task}-2000000.json", [f"{task}-2000000-{piece}.json" for piece in WHOLE_BOOK_2M]),
            (f"no-rooms-{task}-2000000-seed0.json", [f"no-rooms-{task}-2000000-seed0.json"]),
        ]
        if task != "reasoning"
        else [(f"reasoning-2000000-seed{s}.json", [f"reasoning-2000000-seed{s}.json"]) for s in range(4)]
    )
    for task in ("memorize", "detect", "reasoning")
}


def misses(paths: list[Path]) -> tuple[set[int], int]:
    """Seeds missed and haystacks read, over runs of one point each."""
    seeds: set[int] = set()
    samples = 0
    for path in paths:
        (point,) = json.loads(path.read_text())["points"]
        seeds |= {m["seed"] for m in point["misses"]}
        samples += point["samples"]
    return seeds, samples


def main() -> None:
    total_overlap = total_plain = 0
    for task, points in POINTS.items():
        only_overlap = only_plain = 0
        for plain_name, overlap_names in points:
            plain, plain_samples = misses([PLAIN / plain_name])
            overlap, overlap_samples = misses([HERE / n for n in overlap_names])
            if plain_samples != overlap_samples:
                raise SystemExit(f"{plain_name}: {plain_samples} haystacks plainly, {overlap_samples} with the overlap")
            only_overlap += len(overlap - plain)
            only_plain += len(plain - overlap)
            print(
                f"  {plain_name}: plainly {plain_samples - len(plain)}/{plain_samples}, with the overlap "
                f"{overlap_samples - len(overlap)}/{overlap_samples}; only with the overlap {sorted(overlap - plain)}, "
                f"only plainly {sorted(plain - overlap)}"
            )
        print(
            f"{task}: missed only with the overlap {only_overlap}, only plainly {only_plain}, "
            f"p = {sign_test(only_overlap, only_plain):.2f}"
        )
        total_overlap, total_plain = total_overlap + only_overlap, total_plain + only_plain
    print(f"all: {total_overlap} against {total_plain}, p = {sign_test(total_overlap, total_plain):.2f}")


if __name__ == "__main__":
    main()
