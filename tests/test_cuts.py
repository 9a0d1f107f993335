"""Facts cut by a segment boundary: found where they are, and counted over an evaluation run."""

from __future__ import annotations

import json

import pytest

from rmt.checkpoint import load_checkpoint_tokenizer, read_config, resolve_checkpoint
from rmt.cuts import count_run, cut_halves, cut_totals, main
from rmt.evaluate import haystack_seed
from rmt.haystack import build_haystack
from rmt.segments import Reading, fact_cuts

CHECKPOINT = "checkpoints/rmt-minilm-babi"


@pytest.fixture(scope="module")
def tokenizer():
    return load_checkpoint_tokenizer(CHECKPOINT)


def test_a_boundary_inside_a_fact_is_found_and_a_fact_inside_a_segment_is_not(tokenizer) -> None:
    hay = build_haystack("detect", 1840, tokenizer, seed=0, noise="valid-no-rooms")
    fact = hay.facts[0]
    # segments are cut from the end of the text: some segment length ends one inside the fact
    per_segment = next(n for n in range(20, 200) if fact_cuts(hay, Reading(n)))
    ((index, end),) = fact_cuts(hay, Reading(per_segment))
    assert index == 0 and fact.token_start < end < fact.token_end
    first, second = cut_halves(hay, 0, end, tokenizer)
    assert f"{first} {second}" == fact.text.lower()
    whole = next(n for n in range(20, 200) if not fact_cuts(hay, Reading(n)))
    assert fact_cuts(hay, Reading(whole)) == []
    # a segment that re-reads one token fewer than the fact has reads it whole wherever the segments end;
    # re-reading two fewer leaves some segment length that cuts it
    length = fact.token_end - fact.token_start
    assert all(fact_cuts(hay, Reading(n, segment_overlap=length - 1)) == [] for n in range(20, 200))
    assert any(fact_cuts(hay, Reading(n, segment_overlap=length - 2)) for n in range(20, 200))


def test_a_run_is_rebuilt_and_its_misses_split_by_cut(tokenizer, tmp_path, capsys) -> None:
    per_segment = read_config(resolve_checkpoint(CHECKPOINT)).text_per_segment
    hays = [
        build_haystack("detect", 1840, tokenizer, seed=haystack_seed(0, i), noise="valid-no-rooms") for i in range(6)
    ]
    cut = [h.seed for h in hays if fact_cuts(h, Reading(per_segment))]
    assert cut == [0]  # "mary travelled to | the office."
    misses = [{"seed": 0}, {"seed": 3}]
    point = {"tokens": 1840, "samples": 6, "correct": 4, "misses": misses}
    run = {"task": "detect", "noise": "valid-no-rooms", "seed": 0, "points": [point]}
    (row,) = count_run(run, tokenizer, per_segment)
    assert (row["cut"], row["misses_listed"], row["cut_missed"], row["uncut_missed"]) == (1, 2, 1, 1)
    with pytest.raises(ValueError, match="other-people"):
        count_run(run | {"other_people": 1}, tokenizer, per_segment)
    (tmp_path / "run.json").write_text(json.dumps(run))
    assert main(["--checkpoint", CHECKPOINT, str(tmp_path / "run.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["rows"][0]["cut_missed"] == 1 and printed["command"].startswith("python -m rmt.cuts --checkpoint")
    assert printed["rows"][0]["segments"] is None  # the point gave none
    (overlapped,) = count_run(run | {"segment_overlap": 16}, tokenizer, per_segment)  # the same haystacks read whole
    assert (overlapped["cut"], overlapped["cut_missed"], overlapped["segment_overlap"]) == (0, 0, 16)
    # a piece from haystack 1 on (--start-index 1) reads haystacks 1-5: none is cut, and seed 3 is its miss
    piece = run | {"start_index": 1, "points": [point | {"samples": 5, "misses": [{"seed": 3}]}]}
    (later,) = count_run(piece, tokenizer, per_segment)
    assert (later["cut"], later["cut_missed"], later["uncut_missed"]) == (0, 0, 1)


def test_cut_totals_sum_a_tasks_rows_whose_misses_are_all_listed() -> None:
    def row(task: str, tokens: int, cut: int, cut_missed: int, uncut_missed: int, unlisted: int = 0) -> dict:
        missed = cut_missed + uncut_missed
        counts = {"cut": cut, "misses_listed": missed, "cut_missed": cut_missed, "uncut_missed": uncut_missed}
        return {"task": task, "tokens": tokens, "samples": 100, "correct": 100 - missed - unlisted} | counts

    rows = [row("detect", 115, 0, 0, 0), row("detect", 1840, 6, 2, 0), row("detect", 9000, 5, 1, 1)]
    rows += [row("detect", 99_999, 9, 9, 0, unlisted=1), row("memorize", 1840, 0, 0, 3)]
    totals = cut_totals(rows, "detect")
    assert totals == {"samples": 300, "cut": 11, "cut_missed": 3, "uncut_missed": 1, "tokens": [115, 9000]}
    assert cut_totals(rows, "memorize") is None  # no haystack was cut: nothing to compare
    assert cut_totals(rows, "reasoning") is None
    read_whole = row("detect", 117_760, 0, 0, 4) | {"segment_overlap": 16}  # no cut: not set against the cut ones
    assert cut_totals([*rows, read_whole], "detect") == totals
