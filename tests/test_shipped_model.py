"""The shipped checkpoints themselves: they load offline and really work on the held-out book."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.evaluate import evaluate_point, main
from rmt.haystack import build_haystack
from rmt.inference import prepare_for_inference

ROOT = Path(__file__).resolve().parent.parent
RMT = ROOT / "checkpoints" / "rmt-minilm-babi"
BASELINE = ROOT / "checkpoints" / "baseline-no-memory"
REASONING = ROOT / "checkpoints" / "rmt-minilm-reasoning"


def load_shipped(folder: Path) -> tuple:
    return prepare_for_inference(load_checkpoint(folder), torch.device("cpu")), load_checkpoint_tokenizer(folder)


def held_out_point(shipped: tuple, task: str, segments: int, samples: int, seed: int, **options) -> dict:
    """A shipped model's score on ``segments`` full segments of the held-out book, in two batches."""
    model, tokenizer = shipped
    length = segments * model.config.text_per_segment
    return evaluate_point(
        model,
        tokenizer,
        task,
        length,
        samples=samples,
        batch_size=samples // 2,
        noise="valid",
        seed=seed,
        progress=False,
        **options,
    )


@pytest.fixture(scope="module")
def shipped():
    return load_shipped(RMT)


@pytest.mark.parametrize("segments", [2, 8])
def test_memorize_on_the_held_out_book(shipped, segments: int) -> None:
    point = held_out_point(shipped, "memorize", segments, samples=40, seed=123)
    assert point["accuracy"] >= 0.95, point


def test_the_reasoning_checkpoint_reads_relations_through_its_memory() -> None:
    """Two segments, on the held-out book: rmt-minilm-babi gets 29 of these 40 (68% of its 200)."""
    point = held_out_point(load_shipped(REASONING), "reasoning", 2, samples=40, seed=123)
    assert point["accuracy"] >= 0.85, point


def test_no_memory_baseline_is_at_chance_once_the_fact_is_out_of_view() -> None:
    baseline = load_shipped(BASELINE)
    _, tokenizer = baseline
    point = held_out_point(baseline, "memorize", 4, samples=48, seed=7, last_segments=1)
    assert point["accuracy"] < 0.45, point
    # each miss names its haystack: rebuilt from its seed, it is the one the model got wrong
    assert len(point["misses"]) == point["samples"] - point["correct"]
    for miss in point["misses"][:3]:
        hay = build_haystack("memorize", point["tokens"], tokenizer, seed=miss["seed"])
        assert hay.answer == miss["answer"] != miss["predicted"]
        assert miss["fact_tokens"] == [f.token_start for f in hay.facts]


def test_a_point_measured_in_pieces_reads_the_haystacks_of_one_run() -> None:
    """--start-index: three runs of 8 haystacks are the 24 of one run, misses and all (the slow 2M points)."""
    from rmt.evaluate import haystack_seed

    model, tokenizer = load_shipped(BASELINE)  # at chance once the fact is out of view: misses to compare

    def point(samples: int, start: int) -> dict:
        return evaluate_point(
            model, tokenizer, "memorize", 460, samples, 4, "valid", 7, 1, progress=False, start_index=start
        )

    whole, pieces = point(24, 0), [point(8, start) for start in (0, 8, 16)]
    assert 0 < whole["correct"] < 24 and sum(p["correct"] for p in pieces) == whole["correct"]
    assert [m for p in pieces for m in p["misses"]] == whole["misses"]
    assert {m["seed"] for m in pieces[1]["misses"]} <= {haystack_seed(7, i) for i in range(8, 16)}


def test_shipped_folders_are_complete_and_small() -> None:
    for folder in (RMT, BASELINE, REASONING):
        names = {p.name for p in folder.iterdir()}
        assert {"config.json", "model.safetensors", "tokenizer.json", "README.md", "eval.json"} <= names
        assert (folder / "model.safetensors").stat().st_size < 50 * 2**20
        assert not list(folder.glob("*.bin")) and not list(folder.glob("*.pt"))
    for folder in (RMT, REASONING):
        table = json.loads((folder / "eval.json").read_text())
        assert set(table["tasks"]) == {"memorize", "detect", "reasoning"}


def test_evaluate_cli_json(capsys) -> None:
    main(
        [
            "--checkpoint",
            str(RMT),
            "--task",
            "detect",
            "--segments",
            "1,2",
            "--samples",
            "4",
            "--batch-size",
            "4",
            "--json",
            "--quiet",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert out["task"] == "detect"
    assert set(out["accuracy"]) == {"1", "2"} and set(out["tokens"]) == {"1", "2"}
    assert out["tokens"]["2"] == 2 * load_checkpoint(RMT).config.text_per_segment


def test_evaluate_splits_answers_by_fact_order_with_other_people(capsys) -> None:
    args = ["--checkpoint", str(RMT), "--task", "detect", "--segments", "2", "--samples", "12", "--batch-size", "12"]
    main([*args, "--other-people", "1", "--json", "--quiet"])
    point = json.loads(capsys.readouterr().out)["points"][0]
    orders = point["by_order"]
    assert set(orders) == {"asked_last", "asked_earlier"}
    assert sum(o["samples"] for o in orders.values()) == 12 and min(o["samples"] for o in orders.values()) > 0
    assert sum(o["correct"] for o in orders.values()) == point["correct"]
    main([*args, "--json", "--quiet"])
    assert json.loads(capsys.readouterr().out)["points"][0]["by_order"] is None  # one person: no order to split


def test_needle_map_cli_places_the_fact_where_asked(capsys) -> None:
    """The baseline sees a fact at depth 1 (last window), misses one at depth 0: the depth reaches the haystack."""
    main(
        [
            "--checkpoint",
            str(BASELINE),
            "--task",
            "detect",
            "--segments",
            "4",
            "--depths",
            "0,1",
            "--samples",
            "24",
            "--batch-size",
            "24",
            "--last-segments",
            "1",
            "--seed",
            "3",
            "--json",
            "--quiet",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert set(out["needle"]) == {"4"} and set(out["needle"]["4"]) == {"0", "1"}
    assert out["needle"]["4"]["1"] >= 0.9 and out["needle"]["4"]["0"] < 0.5, out["needle"]
    assert out["accuracy"]["4"] == pytest.approx((out["needle"]["4"]["0"] + out["needle"]["4"]["1"]) / 2)
    assert [p["depth"] for p in out["points"]] == [0.0, 1.0]


def test_needle_map_refuses_memorize() -> None:
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(RMT), "--task", "memorize", "--depths", "0.5", "--samples", "1", "--quiet"])


def test_shipped_needle_maps_draw() -> None:
    from rmt import plots

    maps = {}
    for name, folder in (("RMT", RMT), ("no memory", BASELINE)):
        table = json.loads((folder / "needle.json").read_text())
        assert table["task"] == "detect" and table["needle"], folder
        maps[name] = table["needle"]
    fig = plots.needle_figure(maps, load_checkpoint(RMT).config.text_per_segment)
    assert len(fig.data) == 2 and all(len(trace.x) >= 4 for trace in fig.data)


def test_evaluate_room_noise_is_recorded_and_refused_without_rooms(capsys, tmp_path) -> None:
    args = ["--checkpoint", str(RMT), "--task", "memorize", "--segments", "2", "--samples", "4", "--batch-size", "4"]
    main([*args, "--room-noise", "2", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    assert out["room_noise"] == 2 and out["points"][0]["room_noise"] == 2
    sea = tmp_path / "sea.txt"
    sea.write_text("The whale spouted. The sea was calm. " * 50)
    with pytest.raises(SystemExit):
        main([*args, "--noise", str(sea), "--room-noise", "2", "--json", "--quiet"])
    assert "has no sentence that names a room" in capsys.readouterr().err


def test_only_cut_keeps_the_haystacks_a_boundary_cuts_and_publish_refuses_them(capsys, tmp_path) -> None:
    from rmt.publish import merge_evals
    from rmt.segments import Reading, fact_cuts

    args = ["--checkpoint", str(RMT), "--task", "detect", "--segments", "4", "--samples", "6", "--batch-size", "3"]
    main([*args, "--only-cut", "--json", "--quiet"])
    out = json.loads(capsys.readouterr().out)
    point = out["points"][0]
    assert out["only_cut"] and point["samples"] == 6 and point["drawn"] > 6  # most draws have no cut
    tokenizer, text = load_checkpoint_tokenizer(RMT), load_checkpoint(RMT).config.text_per_segment

    def cut(seed: int) -> bool:  # run seed 0: the i-th haystack's seed is i
        return bool(fact_cuts(build_haystack("detect", point["tokens"], tokenizer, seed=seed), Reading(text)))

    assert all(cut(miss["seed"]) for miss in point["misses"])  # a listed miss rebuilds from its seed, cut
    kept = [i for i in range(point["drawn"]) if cut(i)]  # the kept ones: exactly the cut ones drawn
    assert len(kept) == 6 and kept[-1] == point["drawn"] - 1
    run = tmp_path / "cut.json"
    run.write_text(json.dumps(out))
    with pytest.raises(ValueError, match="an --only-cut run is a diagnostic"):
        merge_evals([str(run)])
    main([*args, "--only-cut", "--quiet"])  # the printed line says what was kept of what was drawn
    assert f"(cut facts only: 6 of {point['drawn']:,} drawn)" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main([*args, "--only-cut", "--tokens", "2000000", "--quiet"])
    assert "at most 117,760 tokens" in capsys.readouterr().err


def test_only_cut_refuses_a_length_where_no_fact_can_be_cut(capsys) -> None:
    """Memorize's facts open the haystack: at whole segments the first segment holds them whole."""
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(RMT), "--task", "memorize", "--segments", "2", "--samples", "2", "--only-cut"])
    assert "none of the first 500 haystacks of memorize at 230 tokens has a fact cut" in capsys.readouterr().err


def test_overlap_reads_the_same_cut_haystacks_whole(capsys) -> None:
    """--overlap 16: every segment re-reads the last 16 tokens of the one before, so the facts the plain
    reading cuts in two are read whole; --only-cut still picks them by the plain reading's cuts."""
    from rmt.misses import sort_run
    from rmt.segments import num_segments

    args = ["--checkpoint", str(RMT), "--task", "detect", "--segments", "4", "--samples", "6", "--batch-size", "6"]
    main([*args, "--only-cut", "--overlap", "0", "--json", "--quiet"])
    plain = json.loads(capsys.readouterr().out)
    main([*args, "--only-cut", "--overlap", "16", "--json", "--quiet"])
    overlap = json.loads(capsys.readouterr().out)
    assert (plain["segment_overlap"], overlap["segment_overlap"]) == (0, 16)
    (p, o) = plain["points"][0], overlap["points"][0]
    assert o["drawn"] == p["drawn"]  # the same haystacks
    assert (p["segments"], o["segments"]) == (4, num_segments(460, 115, 16)) == (4, 5)
    assert o["correct"] == o["samples"] == 6  # read whole, every fact is kept
    (row,) = sort_run(overlap | {"only_cut": False}, load_checkpoint_tokenizer(RMT), 115)
    assert row["segment_overlap"] == 16 and row["cut"] == 0  # no miss, and none of its facts cut as it read them
    with pytest.raises(SystemExit):
        main([*args, "--overlap", "115", "--quiet"])
    assert "--overlap: segment_overlap must be from 0 to 114" in capsys.readouterr().err


def test_snap_reads_the_same_cut_haystacks_whole_without_reading_twice(capsys) -> None:
    """--snap 8 moves each segment start to just after a sentence end among the 8 tokens from the token before
    it: the facts the plain reading cuts are read whole, nothing is read twice, and the JSON says what was read."""
    from rmt.segments import Reading, sentence_end_ids

    args = ["--checkpoint", str(RMT), "--task", "detect", "--segments", "4", "--samples", "6", "--batch-size", "6"]
    main([*args, "--only-cut", "--snap", "8", "--json", "--quiet"])  # the checkpoint's overlap is dropped for it
    snapped = json.loads(capsys.readouterr().out)
    assert (snapped["segment_overlap"], snapped["segment_snap"]) == (0, 8)
    (point,) = snapped["points"]
    assert point["segments"] == 4 and 4 <= point["segments_read"] <= 5  # a moved start can add a segment
    assert point["correct"] == point["samples"] == 6
    tokenizer = load_checkpoint_tokenizer(RMT)  # rmt.cuts and rmt.misses rebuild the run's reading from its JSON
    assert Reading.of_run(snapped, 115, tokenizer) == Reading(115, 0, 8, tuple(sentence_end_ids(tokenizer)))
    with pytest.raises(SystemExit):
        main([*args, "--overlap", "7", "--snap", "8", "--quiet"])
    assert "--overlap/--snap: segment_snap and segment_overlap are two ways" in capsys.readouterr().err
