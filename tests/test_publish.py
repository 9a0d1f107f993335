"""Shipping helpers: eval tables and the needle map reach the model card correctly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmt.formatting import reading, reading_of
from rmt.publish import (
    merge_evals,
    names_section,
    needle_section,
    supersede,
    table,
    update_cuts,
    update_names,
    update_needle,
    update_no_rooms,
)


def point(segments: int, accuracy: float, depth: float | None = None) -> dict:
    return {
        "segments": segments,
        "tokens": segments * 115,
        "accuracy": accuracy,
        "correct": int(accuracy * 40),
        "samples": 40,
        "ci95": [0.0, 1.0],
        "depth": depth,
    }


def test_merge_keeps_length_points_and_leaves_needle_cells_out(tmp_path) -> None:
    length = {"task": "detect", "noise": "valid", "last_segments": None, "points": [point(4, 1.0), point(1, 1.0)]}
    needle = {"task": "detect", "noise": "valid", "last_segments": None, "points": [point(8, 0.5, depth=0.0)]}
    files = []
    for i, result in enumerate((length, needle)):
        files.append(tmp_path / f"{i}.json")
        files[-1].write_text(json.dumps(result))
    people = {
        "task": "detect",
        "noise": "valid",
        "last_segments": None,
        "points": [point(2, 0.5) | {"other_people": 1}],
    }
    files.append(tmp_path / "people.json")
    files[-1].write_text(json.dumps(people))
    merged = merge_evals([str(f) for f in files])
    assert [p["segments"] for p in merged["tasks"]["detect"]["points"]] == [1, 4]


def test_merge_pools_runs_at_one_length(tmp_path) -> None:
    """Three runs of 8 haystacks at 2M tokens (seeds 0-2) make one row of 24 with every command."""
    files = []
    for seed, correct in enumerate((3, 2, 4)):
        run = {
            "task": "reasoning",
            "noise": "valid",
            "last_segments": None,
            "command": f"python -m rmt.evaluate --tokens 2000000 --seed {seed}",
            "device": "cpu",
            "dtype": "bfloat16",
            "points": [
                point(17_392, correct / 8) | {"tokens": 2_000_000, "correct": correct, "samples": 8, "seconds": 9}
            ],
        }
        if seed == 0:  # a shorter length measured once keeps its own point as it was
            run["points"].append(point(1, 0.5) | {"seconds": 1.0})
        files.append(tmp_path / f"{seed}.json")
        files[-1].write_text(json.dumps(run))
    short, long = merge_evals([str(f) for f in files])["tasks"]["reasoning"]["points"]
    assert short["command"].endswith("--seed 0") and short["correct"] == 20 and "commands" not in short
    assert (long["correct"], long["samples"], long["accuracy"], long["seconds"]) == (9, 24, 9 / 24, 27)
    assert 0.2 < long["ci95"][0] < 0.22 and 0.56 < long["ci95"][1] < 0.59 and long["device"] == "cpu bfloat16"
    assert [c[-1] for c in long["commands"]] == ["0", "1", "2"] and long["misses_unrecorded"] == 15


def test_pieces_of_one_run_pool_and_a_haystack_read_twice_does_not(tmp_path) -> None:
    """--start-index pieces of seed 0 pool into one row; a run repeating one of their haystacks is refused."""

    def run_file(name: str, seed: int, start: int, samples: int) -> str:
        run = {"task": "detect", "noise": "valid", "last_segments": None, "seed": seed, "start_index": start}
        run["points"] = [
            point(17_392, 1.0) | {"tokens": 2_000_000, "correct": samples, "samples": samples, "seconds": 1}
        ]
        (tmp_path / name).write_text(json.dumps(run))
        return str(tmp_path / name)

    pieces = [run_file(f"from{start}.json", 0, start, 8) for start in (0, 8, 16)] + [run_file("s1.json", 1, 0, 8)]
    (pooled,) = merge_evals(pieces)["tasks"]["detect"]["points"]
    assert pooled["samples"] == 32
    with pytest.raises(ValueError, match=r"read the same haystacks \(seed 0, indices 12 on\)"):
        merge_evals([*pieces, run_file("again.json", 0, 12, 8)])


def test_needle_section_rows_are_depths_columns_are_lengths() -> None:
    needle = {
        "task": "detect",
        "command": "python -m rmt.evaluate --depths 0,1",
        "needle": {"16": {"0": 0.5, "1": 0.995}, "4": {"0": 0.975, "1": 1.0}},
        "points": [point(4, 0.975, 0.0)],
    }
    lines = needle_section(needle).splitlines()
    assert "40 samples per cell" in lines[0]
    assert lines[2] == "| fact depth | 4 seg | 16 seg |"
    assert lines[4] == "| 0% | 98% | 50% |"
    assert lines[5] == "| 100% | 100% | 99.5% |"  # 199/200 never reads as a perfect score
    # read with a 7-token overlap, "--segments 4" and "16" were read as 5 and 17 segments: the columns say so
    overlapped = needle | {"points": [point(5, 0.975, 0.0) | {"tokens": 460}, point(17, 0.5, 0.0) | {"tokens": 1840}]}
    assert needle_section(overlapped).splitlines()[2] == "| fact depth | 5 seg | 17 seg |"


def test_supersede_replaces_remeasured_points_and_flags_the_rest() -> None:
    old = {
        "tasks": {
            "memorize": {"points": [point(1, 1.0), point(1024, 0.9), point(17392, 0.4)]},
            "reasoning": {"points": [point(1, 0.9)]},
        }
    }
    new = {"tasks": {"memorize": {"points": [point(1024, 0.98), point(1, 1.0)]}}}
    merged = supersede(old, new, "on the older book")
    memorize = merged["tasks"]["memorize"]["points"]
    assert [(p["segments"], p["accuracy"], p.get("noise_note")) for p in memorize] == [
        (1, 1.0, None),
        (1024, 0.98, None),
        (17392, 0.4, "on the older book"),
    ]
    assert merged["tasks"]["reasoning"]["points"][0]["noise_note"] == "on the older book"
    assert "noise_note" not in old["tasks"]["memorize"]["points"][2]  # the input is left alone
    rows = {line.split(" | ")[1]: line for line in table(merged).splitlines()[2:] if line.startswith("| memorize")}
    assert rows["17,392"].endswith(", on the older book |") and "older" not in rows["1,024"]


def test_supersede_with_no_note_keeps_old_points_as_they_were() -> None:
    """A re-run with more samples under the same setup must not brand the untouched points as old."""
    old = {
        "tasks": {
            "memorize": {"points": [point(1, 1.0), point(1024, 0.95), point(17392, 0.3) | {"noise_note": "older"}]},
            "reasoning": {"points": [point(1, 0.9)]},
        }
    }
    new = {"tasks": {"memorize": {"points": [point(1024, 0.945)]}}}
    merged = supersede(old, new, "")
    memorize = merged["tasks"]["memorize"]["points"]
    assert [(p["segments"], p["accuracy"], p.get("noise_note")) for p in memorize] == [
        (1, 1.0, None),
        (1024, 0.945, None),
        (17392, 0.3, "older"),
    ]
    assert "noise_note" not in merged["tasks"]["reasoning"]["points"][0]


def test_update_needle_replaces_only_the_needle_section(tmp_path) -> None:
    card = "# m\n\n## Measured accuracy\n| task |\n\n## Needle map (old)\n\nold table\n\n## Later\nkept\n"
    (tmp_path / "README.md").write_text(card)
    needle = {
        "task": "detect",
        "command": "python -m rmt.evaluate --depths 0",
        "needle": {"4": {"0": 1.0}},
        "points": [point(4, 1.0, 0.0)],
    }
    update_needle(tmp_path, needle)
    text = (tmp_path / "README.md").read_text()
    assert "old table" not in text and "| 0% | 100% |" in text
    assert text.startswith("# m\n\n## Measured accuracy") and text.endswith("## Later\nkept\n")
    assert json.loads((tmp_path / "needle.json").read_text())["needle"] == {"4": {"0": 1.0}}


def test_names_section_and_update_names(tmp_path) -> None:
    results = [
        {"task": "memorize", "other_people": 3, "command": "c3", "points": [point(1, 0.975), point(4, 0.5)]},
        {"task": "memorize", "other_people": 1, "command": "c1", "points": [point(1, 1.0)]},
    ]
    lines = names_section(results).splitlines()
    header = lines.index("| task | other people | 1 seg | 4 seg |")
    assert lines[header + 2 : header + 4] == ["| memorize | 1 | 100% |  |", "| memorize | 3 | 98% | 50% |"]
    assert "- `c3` (on ?)" in lines
    assert "In brackets" not in names_section(results)
    split = {"asked_last": {"correct": 9, "samples": 10}, "asked_earlier": {"correct": 3, "samples": 10}}
    results[1]["points"][0] |= {"accuracy": 0.6, "by_order": split}
    lines = names_section(results).splitlines()
    assert "| memorize | 1 | 60% (last read 90%, earlier 30%) |  |" in lines and "In brackets" in "\n".join(lines)
    results[1]["points"][0] |= {"accuracy": 1.0, "by_order": None}
    card = "# m\n\n## Measured accuracy\n| task |\n\n## Needle map\nmap\n"
    (tmp_path / "README.md").write_text(card)
    update_names(tmp_path, results)
    update_names(tmp_path, results[:1])  # a second update replaces the section, never duplicates it
    text = (tmp_path / "README.md").read_text()
    assert text.count("## Keeping people apart") == 1 and "| memorize | 1 |" not in text
    assert text.startswith(card.rstrip("\n")) and json.loads((tmp_path / "names.json").read_text()) == results[:1]


def test_names_columns_give_the_segments_a_snapped_run_read() -> None:
    """Read with segment ends at sentence ends, "--segments 4" reads 4.6 segments on average: the header says
    what was read (5), as the accuracy table does, and rows of one length share a column."""
    snapped = [
        {"task": t, "other_people": 1, "command": t, "points": [point(1, 0.6), point(4, 0.5) | {"segments_read": r}]}
        for t, r in (("detect", 4.64), ("memorize", 4.53))
    ]
    lines = names_section(snapped).splitlines()
    assert "| task | other people | 1 seg | 5 seg |" in lines
    assert "| detect | 1 | 60% | 50% |" in lines and "| memorize | 1 | 60% | 50% |" in lines


def test_no_rooms_runs_at_one_length_are_pooled(tmp_path) -> None:
    """Four runs of 8 haystacks at 2M tokens are one point of 32, with the pooled interval."""
    files = []
    miss = {"seed": 1_000_003 + 5, "answer": "office", "predicted": "garden", "fact_tokens": [9]}
    for seed, correct in enumerate((8, 7, 6)):
        run = {
            "task": "memorize",
            "command": f"python -m rmt.evaluate --tokens 2000000 --seed {seed}",
            "device": "cpu",
            "dtype": "bfloat16",
            "points": [
                point(17_392, correct / 8)
                | {"tokens": 2_000_000, "correct": correct, "samples": 8, "seconds": 60.0}
                | ({"misses": [miss] * (8 - correct)} if seed < 2 else {})  # the last run did not list its two
            ],
        }
        if seed == 0:  # more misses than a card names
            run["points"].append(point(1_024, 0.9375) | {"correct": 120, "samples": 128, "seconds": 9.0})
            run["points"][-1]["misses"] = [miss | {"seed": i} for i in range(8)]
        files.append(tmp_path / f"{seed}.json")
        files[-1].write_text(json.dumps(run))
    card = "# m\n\n## Measured accuracy\n| task |\n\n## Without the book's room sentences\nold\n\n## Later\nkept\n"
    (tmp_path / "README.md").write_text(card)
    update_no_rooms(tmp_path, [str(f) for f in files])
    short, long = json.loads((tmp_path / "no_rooms.json").read_text())["tasks"]["memorize"]["points"]
    assert (short["correct"], short["samples"], long["correct"], long["samples"]) == (120, 128, 21, 24)
    assert long["accuracy"] == 21 / 24 and 0.68 < long["ci95"][0] < 0.7 and long["ci95"][1] > 0.95
    assert long["device"] == "cpu bfloat16" and len(long["commands"]) == 3 and long["seconds"] == 180.0
    assert [m["seed"] for m in long["misses"]] == [1_000_008]
    text = (tmp_path / "README.md").read_text()
    assert "old" not in text and text.count("## Without the book's room sentences") == 1
    assert "- memorize, 2,000,000 tokens: seed 1000008 (fact at token 9; truth office, answered garden)" in text
    assert "- memorize, 2,000,000 tokens: 2 not listed (run before rmt.evaluate listed its misses)" in text
    assert long["misses_unrecorded"] == 2 and "2,000,000 tokens: 1 more" not in text
    assert "- memorize, 117,760 tokens: seed 4 " in text and "seed 5 " not in text  # five named, and then
    assert "- memorize, 117,760 tokens: 3 more (8 listed in the JSON)" in text
    assert "| memorize | 17,392 | 2,000,000 | 87.5% | 21 / 24 |" in text and "--seed 2`" in text
    assert text.endswith("## Later\nkept\n")


def test_no_rooms_update_replaces_the_lengths_measured_anew_and_keeps_the_rest(tmp_path) -> None:
    """Re-reading one length with sentence-end boundaries replaces that row only; the older rows, whose runs
    are gone, stay with their own reading noted."""
    (tmp_path / "config.json").write_text(json.dumps({"segment_overlap": 0, "segment_snap": 8}))
    (tmp_path / "README.md").write_text("# m\n")
    update_no_rooms(tmp_path, [overlap_run(tmp_path, "o.json", 7, 38)])  # the detect row, read with an overlap
    memorize = json.loads(Path(overlap_run(tmp_path, "m.json", 7, 36)).read_text()) | {"task": "memorize"}
    (tmp_path / "m.json").write_text(json.dumps(memorize))
    update_no_rooms(tmp_path, [str(tmp_path / "m.json")])
    snapped = memorize | {"segment_overlap": 0, "segment_snap": 8}
    snapped["points"] = [memorize["points"][0] | {"correct": 40, "segments_read": 1_031.9}]
    (tmp_path / "s.json").write_text(json.dumps(snapped))
    update_no_rooms(tmp_path, [str(tmp_path / "s.json")])
    tasks = json.loads((tmp_path / "no_rooms.json").read_text())["tasks"]
    assert [p["correct"] for p in tasks["detect"]["points"]] == [38]
    assert [(p["correct"], p["segments_read"]) for p in tasks["memorize"]["points"]] == [(40, 1_031.9)]
    rows = [line for line in (tmp_path / "README.md").read_text().splitlines() if line.startswith("| ")]
    (detect,) = [r for r in rows if "| 38 / 40 |" in r]
    (kept,) = [r for r in rows if "| 40 / 40 |" in r]
    assert "7-token overlap" in detect and "overlap" not in kept and "36 / 40" not in "".join(rows)


def test_cuts_table_reaches_the_card_once_with_unlisted_misses_said(tmp_path) -> None:
    row = {"task": "detect", "noise": "valid", "segments": 16, "tokens": 1840, "samples": 200, "correct": 197}
    result = {
        "command": "python -m rmt.cuts --checkpoint c run.json",
        "rows": [
            row | {"cut": 13, "misses_listed": 3, "cut_missed": 2, "uncut_missed": 1},
            row
            | {"segments": None, "tokens": 9, "correct": 190, "cut": 4, "misses_listed": 6}
            | {"cut_missed": 1, "uncut_missed": 5},
        ],
    }
    (tmp_path / "README.md").write_text("# m\n\n## Measured accuracy\n| task |\n")
    update_cuts(tmp_path, result)
    update_cuts(tmp_path, result)  # re-measured: the section is replaced, never duplicated
    text = (tmp_path / "README.md").read_text()
    assert text.count("## Facts cut by a segment boundary") == 1
    assert "| detect | `valid` | 16 | 1,840 | 200 | 13 | 2 | 1 |" in text
    assert "| detect | `valid` | - | 9 | 200 | 4 | 1 | 5 (4 more not listed) |" in text
    assert "Reproduce: `python -m rmt.cuts --checkpoint c run.json`" in text
    assert json.loads((tmp_path / "cuts.json").read_text()) == result


def overlap_run(tmp_path, name: str, overlap: int | None, correct: int) -> str:
    """An ``rmt.evaluate`` JSON at 1,024 segments; ``overlap`` None is a run from before the option."""
    run = {
        "task": "detect",
        "noise": "valid",
        "last_segments": None,
        "command": f"python -m rmt.evaluate --overlap {overlap}",
        "points": [point(1_024, correct / 40) | {"correct": correct, "seconds": 1.0}],
    }
    if overlap is not None:
        run["segment_overlap"] = overlap
    (tmp_path / name).write_text(json.dumps(run))
    return str(tmp_path / name)


def test_a_point_keeps_its_reading_and_runs_read_otherwise_never_pool(tmp_path) -> None:
    """An overlap run's point says so; a plain run and an overlap run at one length are two measurements."""
    old, plain, overlapped = (
        overlap_run(tmp_path, f, o, c) for f, o, c in (("old.json", None, 38), ("p.json", 0, 39), ("o.json", 16, 40))
    )
    (point_16,) = merge_evals([overlapped])["tasks"]["detect"]["points"]
    assert point_16["segment_overlap"] == 16 and point_16["correct"] == 40
    assert merge_evals([old, plain])["tasks"]["detect"]["points"][0]["segment_overlap"] == 0  # pooled: both plain
    with pytest.raises(ValueError, match=r"read differently \(a 16-token overlap and plain segments\)"):
        merge_evals([plain, overlapped])
    evals = {"tasks": {"detect": {"points": [point(1, 1.0) | {"segment_overlap": 16}, point(2, 1.0)]}}}
    rows = table(evals, reading(16)).splitlines()[2:]
    assert "plain segments" not in rows[0] and rows[1].endswith(
        ", read with plain segments, not with the 16-token overlap it is read with now |"
    )
    assert "overlap" not in table(evals | {"tasks": {"detect": {"points": [point(2, 1.0)]}}}, reading())


def test_no_rooms_table_notes_plain_points_of_a_checkpoint_read_with_an_overlap(tmp_path) -> None:
    """The config's ``segment_overlap`` is what the no-room table's notes compare each point with."""
    (tmp_path / "config.json").write_text(json.dumps({"segment_overlap": 16}))
    (tmp_path / "README.md").write_text("# m\n")
    update_no_rooms(tmp_path, [overlap_run(tmp_path, "p.json", 0, 39)])
    (row,) = [line for line in (tmp_path / "README.md").read_text().splitlines() if "| 39 / 40 |" in line]
    assert row.endswith(", read with plain segments, not with the 16-token overlap it is read with now |")


@pytest.mark.parametrize("read_now", ["overlap", "snap"])
def test_update_with_no_eval_rewrites_the_tables_for_the_configs_reading(tmp_path, monkeypatch, read_now) -> None:
    """A shipped card round-trips unchanged; once its config reads otherwise, every point and run measured
    otherwise says so, and the others do not."""
    import shutil

    import rmt.publish as publish
    from rmt.formatting import reading_note

    shipped = publish.CHECKPOINTS / "rmt-minilm-babi"
    folder = tmp_path / "rmt-minilm-babi"
    folder.mkdir()
    tables = ("eval.json", "no_rooms.json", "needle.json", "names.json", "cuts.json")
    for name in ("README.md", "config.json", *tables):
        shutil.copy(shipped / name, folder / name)
    monkeypatch.setattr(publish, "CHECKPOINTS", tmp_path)
    assert publish.main(["--name", "rmt-minilm-babi", "--update"]) == 0
    for name in ("README.md", *tables):
        assert (folder / name).read_bytes() == (shipped / name).read_bytes(), name
    config = json.loads((folder / "config.json").read_text())
    # a reading the card was not written for: an overlap, or boundaries moved to sentence ends (else plain)
    wanted = {"overlap": [reading(7), reading()], "snap": [reading(0, 8), reading()]}[read_now]
    other = next(r for r in wanted if r != reading_of(config))
    ends = {"sentence_end_ids": [1012, 999, 1029]} if other["segment_snap"] else {}
    (folder / "config.json").write_text(json.dumps(config | other | ends))
    assert publish.main(["--name", "rmt-minilm-babi", "--update"]) == 0
    card = (folder / "README.md").read_text().splitlines()
    rows = [line for line in card if line.startswith("| memorize |") and "| cpu " in line]  # both tables, any dtype
    points = [
        *json.loads((folder / "eval.json").read_text())["tasks"]["memorize"]["points"],
        *json.loads((folder / "no_rooms.json").read_text())["tasks"]["memorize"]["points"],
    ]
    notes = [reading_note(p, other) for p in points]
    assert len(rows) == len(points) and any(notes)
    for row, note in zip(rows, notes, strict=True):
        assert row.endswith(f", {note} |") if note else "read now" not in row and "read with now" not in row
    runs = [json.loads((folder / "needle.json").read_text()), *json.loads((folder / "names.json").read_text())]
    for run in runs:  # the needle map and the four people runs: each cited with its reading
        (line,) = [line for line in card if f"`{run['command']}` (on" in line]
        note = reading_note(run, other)
        assert line.endswith(f"; {note})") if note else line.endswith(")") and "read now" not in line
    cuts = json.loads((folder / "cuts.json").read_text())["rows"]
    cut_notes = {reading_note(r, other) for r in cuts} - {None}
    assert ("These runs were" in "\n".join(card)) == bool(cut_notes)  # said only when a run was read otherwise
    assert all(f"These runs were {note}" in "\n".join(card) for note in cut_notes)
    for name in tables:  # the data stay as measured
        assert (folder / name).read_bytes() == (shipped / name).read_bytes(), name


def test_the_cut_table_says_how_its_runs_were_read_once_the_checkpoint_reads_otherwise() -> None:
    """Plain runs stay the measure of what a cut costs under an overlap (which cuts none): the card says so."""
    from rmt.publish import cuts_section

    row = {
        "task": "detect",
        "noise": "valid",
        "segments": 16,
        "tokens": 1840,
        "samples": 200,
        "correct": 199,
        "misses_listed": 1,
        "cut": 13,
        "cut_missed": 1,
        "uncut_missed": 0,
        "segment_overlap": 0,
    }
    read_now = cuts_section({"rows": [row]}, reading(7))
    assert "These runs were read with plain segments, not with the 7-token overlap it is read with now" in read_now
    assert "| detect | `valid` | 16 | 1,840 | 200 | 13 | 1 | 0 |" in read_now
    assert "These runs were" not in cuts_section({"rows": [row]}, reading())
    snapped = cuts_section({"rows": [row]}, reading(0, 8))
    assert (
        "These runs were read with plain segments, not as it is read now (segment boundaries moved to sentence "
        "ends): the cuts they count are what boundaries moved to sentence ends avoid." in snapped
    )


def test_snapped_pieces_pool_their_segments_read_and_the_table_shows_them(tmp_path) -> None:
    """Read with boundaries moved to sentence ends each haystack takes its own number of segments: pieces pool
    their mean, weighted by haystacks, and the card's segments column shows it, not the plain count asked for."""
    files = []
    for start, read, correct in ((0, 1_030.0, 39), (40, 1_034.5, 40)):
        run = json.loads(Path(overlap_run(tmp_path, f"s{start}.json", 0, correct)).read_text())
        run |= {"segment_snap": 8, "seed": 0, "start_index": start}
        run["points"][0]["segments_read"] = read
        (tmp_path / f"s{start}.json").write_text(json.dumps(run))
        files.append(str(tmp_path / f"s{start}.json"))
    (pooled,) = merge_evals(files)["tasks"]["detect"]["points"]
    assert (pooled["segment_snap"], pooled["segments_read"], pooled["correct"]) == (8, 1_032.25, 79)
    (row,) = table({"tasks": {"detect": {"points": [pooled]}}}, reading(0, 8)).splitlines()[2:]
    assert row.startswith("| detect | 1,032 | 117,760 | 98.8% | 79 / 80 |") and "read with" not in row
    with pytest.raises(ValueError, match="read differently"):
        merge_evals([files[0], overlap_run(tmp_path, "o.json", 7, 40)])
