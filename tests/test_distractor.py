"""The distractor probe: a real passage of the held-out book, the shipped model, counts that add up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rmt.distractor import facts_except, main
from rmt.noise import book_sentences
from rmt.tasks import room_named

RMT = str(Path(__file__).resolve().parent.parent / "checkpoints" / "rmt-minilm-babi")


def test_room_words_and_facts() -> None:
    assert room_named("Hussey hurried towards an open door leading to the kitchen.") == "kitchen"
    assert room_named("parks and gardens more opulent") == "garden"
    assert room_named("The whale spouted.") is None
    facts = facts_except("kitchen")
    assert len(facts) == 20 and all(room != "kitchen" for _, room in facts)


def test_held_out_book_sentences_carry_no_licence() -> None:
    sentences = book_sentences("melville-mobydick")
    assert len(sentences) > 5000
    assert not any("principal office is located" in s for s in sentences)  # the licence's "office"


def test_probe_counts_and_control(capsys) -> None:
    main(["--checkpoint", RMT, "--find", "Hussey hurried towards", "--before", "2", "--shifts", "1", "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["room"] == "kitchen" and "Hussey" in result["passage"]
    (point,) = result["points"]
    assert point["segments_before"] == 2
    for name in ("with", "without"):
        counts = point[name]
        assert counts["of"] == 20 and 0 <= counts["right"] <= 20
        assert counts["right"] + counts["to_room"] <= 20  # facts about the kitchen are never asked
    # The control has no kitchen in it: about five segments of book text must not lose the fact.
    assert point["without"]["right"] >= 19


def test_unknown_passage_is_a_clear_error(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--checkpoint", RMT, "--find", "No sentence starts like this", "--json"])
    assert "no sentence" in capsys.readouterr().err
