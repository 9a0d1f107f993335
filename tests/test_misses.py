"""Misses sorted by what the wrong answer was, over haystacks rebuilt from an evaluation run."""

from __future__ import annotations

import json

import pytest

from rmt.checkpoint import load_checkpoint_tokenizer, read_config, resolve_checkpoint
from rmt.evaluate import haystack_seed
from rmt.haystack import build_haystack, mentions_after_facts
from rmt.misses import haystack_splits, main, miss_kind, other_fact_chance, sort_run
from rmt.segments import Reading
from rmt.tasks import ROOMS, rooms_named

CHECKPOINT = "checkpoints/rmt-minilm-babi"
TOKENS = 20_000  # long enough that the book names a room after the facts in the first haystack


@pytest.fixture(scope="module")
def tokenizer():
    return load_checkpoint_tokenizer(CHECKPOINT)


@pytest.fixture(scope="module")
def hay(tokenizer):
    return build_haystack("reasoning", TOKENS, tokenizer, seed=haystack_seed(0, 0), noise="valid")


def wrong_room_of_each_kind(hay) -> dict[str, str]:
    """Found from the haystack's own text, not from the code under test."""
    (other,) = [f.text for f in hay.facts if hay.answer not in rooms_named(f.text)]
    asked = rooms_named(hay.question)
    other_room = (rooms_named(other) - asked).pop()
    after = {hay.room_mentions.room(int(i)) for i in mentions_after_facts(hay)}
    named_after = (after - asked - {other_room, hay.answer}).pop()
    nowhere = next(r for r in ROOMS if r not in after | asked | {other_room, hay.answer})
    return {
        "other_fact": other_room,
        "question_room": asked.pop(),
        "named_after_facts": named_after,
        "named_nowhere_after": nowhere,
    }


def test_each_kind_of_wrong_answer_is_told_apart(hay) -> None:
    for kind, room in wrong_room_of_each_kind(hay).items():
        assert miss_kind(hay, room) == kind, room
    with pytest.raises(ValueError, match="right answer"):
        miss_kind(hay, hay.answer)
    # one other fact names one room that is neither asked about nor the answer: 1 of the 5 wrong rooms
    assert other_fact_chance(hay) == pytest.approx(1 / 5)


def test_a_run_is_rebuilt_and_its_listed_misses_counted_by_kind(hay, tokenizer, tmp_path, capsys) -> None:
    rooms = wrong_room_of_each_kind(hay)
    starts = [f.token_start for f in hay.facts]
    seed = haystack_seed(0, 0)
    misses = [
        {"seed": seed, "answer": hay.answer, "predicted": rooms[kind], "fact_tokens": starts}
        for kind in ("other_fact", "other_fact", "named_after_facts")
    ]
    point = {"tokens": TOKENS, "samples": 10, "correct": 7, "misses": misses}
    run = {"task": "reasoning", "noise": "valid", "seed": 0, "points": [point]}
    per_segment = read_config(resolve_checkpoint(CHECKPOINT)).text_per_segment
    (row,) = sort_run(run, tokenizer, per_segment)
    assert row["kinds"] == {"other_fact": 2, "question_room": 0, "named_after_facts": 1, "named_nowhere_after": 0}
    assert row["misses_listed"] == 3 and row["other_fact_by_chance"] == pytest.approx(0.6)
    # a run that does not rebuild to what it read is refused, not miscounted
    moved = [m | {"fact_tokens": [s + 1 for s in starts]} for m in misses]
    with pytest.raises(ValueError, match="did not rebuild"):
        sort_run(run | {"points": [point | {"misses": moved}]}, tokenizer, per_segment)
    (tmp_path / "a.json").write_text(json.dumps(run))
    (tmp_path / "b.json").write_text(json.dumps(run))
    assert main(["--checkpoint", CHECKPOINT, str(tmp_path / "a.json"), str(tmp_path / "b.json")]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["total"]["kinds"]["other_fact"] == 4 and printed["total"]["samples"] == 20
    (tmp_path / "c.json").write_text(json.dumps(run | {"room_noise": 4}))
    assert main(["--checkpoint", CHECKPOINT, str(tmp_path / "c.json")]) == 2
    assert "c.json" in capsys.readouterr().err


def test_splits_say_where_the_facts_were_read_and_how_the_question_was_put(hay, tokenizer) -> None:
    per_segment = read_config(resolve_checkpoint(CHECKPOINT)).text_per_segment
    # the facts lie more than a segment before the question: read only through the memory
    assert all(f.token_end < hay.question_token_start - per_segment for f in hay.facts)
    far = haystack_splits(hay, Reading(per_segment))
    assert far["facts_beside_question"] == "none"
    assert far["phrasing"] == ("inverted" if hay.question.startswith("What is the ") else "direct")
    short = build_haystack("reasoning", 100, tokenizer, seed=1, noise="valid")  # one segment: all beside it
    near = haystack_splits(short, Reading(per_segment))
    assert (near["facts"], near["facts_beside_question"]) == ("one segment", "all")
    asked = next(f for f in short.facts if short.answer in rooms_named(f.text))
    assert near["asked_fact"] == ("last" if asked is max(short.facts, key=lambda f: f.token_start) else "earlier")
    assert f" is {near['asked_direction']} of the " in asked.text
    run = {"task": "reasoning", "noise": "valid", "seed": 0, "points": [{"tokens": 300, "samples": 6, "correct": 6}]}
    (row,) = sort_run(run, tokenizer, per_segment)
    assert all(sum(g["samples"] for g in groups.values()) == 6 for groups in row["splits"].values())
    assert row["complete"] and row["misses_listed"] == 0


def test_a_checkpoint_ships_the_counts_and_its_card_a_table_once(hay, tokenizer, tmp_path) -> None:
    from rmt.publish import MISSES_HEADING, update_misses

    rooms = wrong_room_of_each_kind(hay)
    seed = haystack_seed(0, 0)
    miss = {"seed": seed, "answer": hay.answer, "predicted": rooms["other_fact"]}
    point = {"tokens": TOKENS, "segments": 174, "samples": 3, "correct": 2, "misses": [miss]}
    run = {"task": "reasoning", "noise": "valid", "seed": 0, "points": [point], "command": "python -m rmt.evaluate X"}
    per_segment = read_config(resolve_checkpoint(CHECKPOINT)).text_per_segment
    rows = sort_run(run, tokenizer, per_segment)
    (tmp_path / "README.md").write_text("# card\n\n## Training\nrecipe\n")
    update_misses(tmp_path, {"command": "python -m rmt.misses Y", "rows": rows})
    update_misses(tmp_path, {"command": "python -m rmt.misses Y", "rows": rows})  # replaced, not added twice
    card = (tmp_path / "README.md").read_text()
    assert card.count(f"## {MISSES_HEADING}") == 1 and card.startswith("# card\n\n## Training\nrecipe")
    (row,) = json.loads((tmp_path / "misses.json").read_text())["rows"]
    assert "misses" not in row  # counts only: no list of seeds in the shipped file
    asked = row["splits"]["asked_direction"]
    (direction,) = [d for d, g in asked.items() if g["misses_listed"]]  # the one missed haystack's
    line = next(line for line in card.splitlines() if line.startswith("| 174 | 20,000 | 2/3 | 1 ("))
    cells = [c.strip() for c in line.strip("|").split("|")]
    column = ["north", "south", "east", "west"].index(direction)
    assert cells[7 + column] == f"{asked[direction]['samples'] - 1}/{asked[direction]['samples']}"
    assert "`python -m rmt.evaluate X`" in card and "`python -m rmt.misses Y`" in card
    # read with boundaries at sentence ends a point asked for 174 segments read 175.6 a haystack: the row
    # keeps that mean and the card gives it, as the accuracy table does
    snapped = run | {"points": [point | {"segments_read": 175.6}], "segment_snap": 8}
    rows = sort_run(snapped, tokenizer, per_segment)
    assert rows[0]["segments_read"] == 175.6 and rows[0]["segment_snap"] == 8
    update_misses(tmp_path, {"command": "python -m rmt.misses Y", "rows": rows})
    assert "| 176 | 20,000 | 2/3 | 1 (" in (tmp_path / "README.md").read_text()


def test_a_run_read_with_an_overlap_is_sorted_by_its_own_segments(tokenizer) -> None:
    """With a 16-token overlap a fact in the first 16 tokens of the question's segment is read first by the
    segment before, and again beside the question: it counts as beside it. The row keeps the run's overlap."""
    from rmt.segments import segment_bounds, segment_of

    per_segment = read_config(resolve_checkpoint(CHECKPOINT)).text_per_segment

    def in_reread_prefix(h) -> bool:  # one fact where the last segment re-reads the one before, one earlier
        start = segment_bounds(h.num_tokens, per_segment, 16)[-1][0]
        return (
            sorted(start <= f.token_start < start + 16 for f in h.facts) == [False, True]
            and min(f.token_start for f in h.facts) < start
        )

    hay = next(
        h for seed in range(500) if in_reread_prefix(h := build_haystack("reasoning", 300, tokenizer, seed=seed))
    )
    fact = next(f for f in hay.facts if hay.num_tokens - per_segment <= f.token_start)
    bounds = segment_bounds(hay.num_tokens, per_segment, 16)
    assert segment_of(bounds, fact.token_start) < segment_of(bounds, hay.question_token_start)  # read the step before
    assert haystack_splits(hay, Reading(per_segment, 16))["facts_beside_question"] == "some"
    run = {"task": "reasoning", "noise": "valid", "seed": 0, "segment_overlap": 16}
    (row,) = sort_run(run | {"points": [{"tokens": 300, "samples": 4, "correct": 4}]}, tokenizer, per_segment)
    assert row["segment_overlap"] == 16 and row["complete"]
