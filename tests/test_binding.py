"""The binding probe: a linear probe that can fail, and the CLI on the shipped model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from rmt.binding import fit_probe, main

RMT = str(Path(__file__).resolve().parent.parent / "checkpoints" / "rmt-minilm-babi")


def test_probe_reads_what_is_there_and_not_what_is_not() -> None:
    torch.manual_seed(0)
    labels = torch.randint(0, 6, (400,))
    features = torch.randn(400, 32)
    features[:, :6] += 8 * torch.nn.functional.one_hot(labels, 6)  # the label written in plainly
    readable = fit_probe(features, labels.tolist(), 300)
    assert readable["test"] > 0.95
    noise = fit_probe(torch.randn(400, 32), labels.tolist(), 300)  # nothing to read: near 1/6 held out
    assert noise["test"] < 0.35


def test_cli_on_the_shipped_model(capsys) -> None:
    result = main(["--checkpoint", RMT, "--others", "1", "--samples", "40", "--json"])
    assert json.loads(capsys.readouterr().out) == result
    assert result["held_out"] == 10 and result["chance"] == 0.5
    model = result["model"]
    assert 0 <= model["asked_room"] <= 1 and model["asked_room"] + model["other_room"] <= 1
    assert set(result["probe"]) == {"train", "test"}
    alone = main(["--checkpoint", RMT, "--others", "3", "--samples", "20", "--question-alone"])
    assert alone["question_alone"] and alone["chance"] == 0.25
    assert alone["model"]["asked_room"] + alone["model"]["other_room"] <= 1
    with pytest.raises(SystemExit):
        main(["--checkpoint", RMT, "--others", "4"])


@pytest.mark.parametrize("alone", [False, True])
def test_haystacks_are_two_segments_facts_first_question_last(tokenizer, alone: bool) -> None:
    from rmt.binding import binding_haystacks
    from rmt.model import RMTConfig
    from rmt.segments import segment_batch

    config = RMTConfig(num_mem_tokens=10, segment_size=128)
    ids, rooms, starts = binding_haystacks(tokenizer, config.text_per_segment, 4, 2, question_alone=alone)
    first, second = segment_batch(ids, config, starts)
    assert all(len(set(r)) == 3 for r in rooms)  # three people, three different rooms
    for text_first, text_second in zip(first.text_ids, second.text_ids, strict=True):
        named = sum(tokenizer.decode(text_first).count(name) for name in ("mary", "john", "daniel", "sandra"))
        assert named >= 3  # the three facts (the book may name a John of its own)
        assert tokenizer.decode(text_second).endswith("where is mary?")
        assert (tokenizer.decode(text_second) == "where is mary?") == alone


def test_relation_haystacks_ask_one_direction_of_the_two_facts_in_the_first_segment(tokenizer) -> None:
    from rmt.binding import relation_haystacks
    from rmt.model import RMTConfig
    from rmt.segments import segment_batch
    from rmt.tasks import ROOMS

    config = RMTConfig(num_mem_tokens=10, segment_size=128)
    ids, rooms, starts = relation_haystacks(tokenizer, config.text_per_segment, 6, direction="north")
    first, second = segment_batch(ids, config, starts)
    for text_first, text_second, (asked, other) in zip(first.text_ids, second.text_ids, rooms, strict=True):
        read = tokenizer.decode(text_first)
        # the asked room is the one the facts put north of the shared room; the other fact's is not
        assert f"the {ROOMS[asked]} is north of the" in read
        assert f"the {ROOMS[other]} is" in read and f"the {ROOMS[other]} is north" not in read
        question = tokenizer.decode(text_second)
        assert question.endswith("?") and ("north of the" in question or "south of?" in question)
    result = main(["--checkpoint", RMT, "--relations", "--direction", "west", "--samples", "20", "--json"])
    assert result["relations"] and result["chance"] == 0.5 and result["asked"] == "what is west of"
