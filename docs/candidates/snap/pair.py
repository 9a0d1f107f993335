"""Every haystack read with segment ends moved to sentence ends, paired with the same haystacks read plainly
and with the 7-token overlap.

A point's haystacks depend only on its task, length, noise and seed (and ``--start-index``), so the runs in
this folder read the haystacks of the plain runs in `docs/candidates/planted20` and `cut15` and of the
overlap's in `overlap7`. A haystack missed by one reading only is a discordant pair; the exact sign test asks
whether one reading loses more of them. A 2,000,000-token piece (8 haystacks, or 4 on a CPU without native
bf16) is paired with those of the plain run of 32 and of the overlap's piece of 8 that holds them.
`rmt-minilm-reasoning`'s plain points at 1,024 segments left its card in sessions 39-41: they are read from
the commits that still had them (its Detect there was never read with the overlap). Runs on the book without
its room sentences are counted apart from the whole book's. The `--only-cut` point is printed but left out of
the totals: its haystacks were picked for their cuts, and some are the 1,024-segment point's too. Reads JSONs
only, no model run:

    PYTHONPATH=. python docs/candidates/snap/pair.py
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from rmt.evaluate import haystack_seed, run_haystack_seeds, sign_test

HERE = Path(__file__).resolve().parent
CANDIDATES = HERE.parent
ROOT = CANDIDATES.parent.parent
REASONING_PLAIN = {  # rmt-minilm-reasoning's plain points at 1,024 segments, as its card last had them
    "memorize": ("0d8a41c", "checkpoints/rmt-minilm-reasoning/eval.json", "memorize", 117_760),  # 179/200
    "reasoning": ("214d193", "checkpoints/rmt-minilm-reasoning/eval.json", "reasoning", 117_760),  # 111/200
    "detect": ("c72c804", "checkpoints/rmt-minilm-reasoning/eval.json", "detect", 117_760),  # 176/200, no overlap run
}
# its plain Reasoning at 2,000,000 tokens (session 27): 13/32, pooled over --seed 0 to 3 before the overlap replaced it
REASONING_PLAIN_2M = ("0d8a41c^", "checkpoints/rmt-minilm-reasoning/eval.json", "reasoning", 2_000_000)


def sources(name: str) -> tuple[object, object | None] | None:
    """(plain, overlap) sources of the same haystacks as this folder's JSON ``name`` (overlap None where that
    reading was never run); None if it has none."""
    if name == "only-cut-detect-1024.json":
        return CANDIDATES / "cut15/only-cut-rmt-minilm-babi-detect-1024.json", CANDIDATES / "overlap7" / name
    if match := re.fullmatch(r"rmt-minilm-reasoning-(memorize|reasoning)-1024\.json", name):
        return REASONING_PLAIN[match[1]], CANDIDATES / "overlap7" / name
    if re.fullmatch(r"rmt-minilm-reasoning-detect-1024-from\d+\.json", name):  # read in pieces of 64
        return REASONING_PLAIN["detect"], None
    if match := re.fullmatch(r"no-rooms-(\w+)-1024-from\d+\.json", name):  # the book less its room sentences
        return (
            CANDIDATES / f"planted20/no-rooms-{match[1]}-1024.json",
            CANDIDATES / f"overlap7/no-rooms-{match[1]}-1024.json",
        )
    if re.fullmatch(r"rmt-minilm-reasoning-reasoning-2000000-seed\d\.json", name):
        return REASONING_PLAIN_2M, CANDIDATES / "overlap7" / name
    if re.fullmatch(r"reasoning-2000000-seed\d\.json", name):
        return CANDIDATES / "planted20" / name, CANDIDATES / "overlap7" / name
    if match := re.fullmatch(r"(\w+)-2000000-from(\d+)\.json", name):  # the overlap's pieces are of 8
        overlap_piece = f"{match[1]}-2000000-from{int(match[2]) // 8 * 8}.json"
        return CANDIDATES / f"planted20/{match[1]}-2000000.json", CANDIDATES / "overlap7" / overlap_piece
    if re.fullmatch(r"(memorize|detect|reasoning)-1024\.json", name):
        return CANDIDATES / "planted20" / name, CANDIDATES / "overlap7" / name
    return None


def load(source: object) -> tuple[dict, dict]:
    """(run, its one point): a JSON file, or a table point shipped at a commit (its haystacks from its commands)."""
    if isinstance(source, tuple):
        rev, path, task, tokens = source
        table = json.loads(
            subprocess.run(
                ["git", "show", f"{rev}:{path}"], cwd=ROOT, capture_output=True, text=True, check=True
            ).stdout
        )
        (point,) = [p for p in table["tasks"][task]["points"] if p["tokens"] == tokens]
        return {"seeds": pooled_seeds(point), "task": task}, point
    run = json.loads(Path(source).read_text())
    (point,) = run["points"]
    return run, point


def pooled_seeds(point: dict) -> list[int]:
    """The haystack seeds of a table point, pooled from the runs its commands name (one with none: seed 0 from 0)."""
    seeds = []
    for command in point.get("commands") or [point.get("command", "")]:
        args = dict(re.findall(r"--(seed|samples|start-index) (\d+)", command))
        start, samples = int(args.get("start-index", 0)), int(args.get("samples", point["samples"]))
        seeds += [haystack_seed(int(args.get("seed", 0)), start + i) for i in range(samples)]
    if len(seeds) != point["samples"]:
        raise SystemExit(f"{point.get('commands')}: name {len(seeds)} haystacks, the point read {point['samples']}")
    return seeds


def haystacks(run: dict, point: dict) -> set[int] | tuple[int, int]:
    """The seeds a run read; an ``--only-cut`` run skips seeds, so it is known by (drawn, samples) instead."""
    if point.get("only_cut") or run.get("only_cut"):
        return point["drawn"], point["samples"]
    if "seeds" in run:
        return set(run["seeds"])
    return set(run_haystack_seeds(run, point))


def missed(run: dict, point: dict, among: set[int] | tuple[int, int]) -> set[int]:
    """The seeds among ``among`` that the run missed; it must have read them all (and listed every miss)."""
    read = haystacks(run, point)
    if len(point["misses"]) != point["samples"] - point["correct"]:
        raise SystemExit(f"{run.get('command')}: lists {len(point['misses'])} of its misses")
    seeds = {m["seed"] for m in point["misses"]}
    if isinstance(among, tuple) or isinstance(read, tuple):  # the same --only-cut draw: every miss counts
        if read != among:
            raise SystemExit(f"{run.get('command')}: not the same --only-cut haystacks")
        return seeds
    if not among <= read:
        raise SystemExit(f"{run.get('command')}: did not read every haystack it is paired on")
    return seeds & among


def main() -> None:
    totals: dict[
        tuple[str, str], list[int]
    ] = {}  # (checkpoint task, or "all"; other reading) -> [only snapped, only other]
    for path in sorted(HERE.glob("*.json")):
        if (paired := sources(path.name)) is None:
            continue
        run, point = load(path)
        among = haystacks(run, point)
        snap = missed(run, point, among)
        line = [f"{path.name}: {point['samples'] - len(snap)}/{point['samples']}"]
        for other, source in zip(("plain", "overlap"), paired, strict=True):
            if source is None:
                continue
            theirs = missed(*load(source), among)
            only_snap, only_other = len(snap - theirs), len(theirs - snap)
            if not isinstance(among, tuple):  # an --only-cut draw is picked for its cuts and repeats other seeds
                checkpoint = Path(run["checkpoint"]).name
                book = "" if run.get("noise", "valid") == "valid" else f" ({run['noise']})"
                for key in ((f"{checkpoint} {run['task']}{book}", other), (f"all{book}", other)):
                    counts = totals.setdefault(key, [0, 0])
                    counts[0] += only_snap
                    counts[1] += only_other
            line.append(
                f"{other} {point['samples'] - len(theirs)} (only snapped {only_snap}, only {other} {only_other})"
            )
        print("; ".join(line) + (" (not in the totals)" if isinstance(among, tuple) else ""))
    for (task, other), (only_snap, only_other) in sorted(
        totals.items(), key=lambda kv: (kv[0][0].startswith("all"), kv[0])
    ):
        print(
            f"{task}, against {other}: missed only snapped {only_snap}, only {other} {only_other}, "
            f"p = {sign_test(only_snap, only_other):.3f}"
        )


if __name__ == "__main__":
    main()
