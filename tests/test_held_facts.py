"""``rmt.train --held``: memories told a Memorize fact, aged over noise, then read by training rows."""

from __future__ import annotations

import contextlib
import json
import random
import re

import numpy as np
import pytest
import torch

from rmt.data import make_batch, make_sample
from rmt.held_facts import age_held_facts, empty_held_facts, held_accuracy, with_held_rows
from rmt.tasks import NAMES, ROOMS, VERBS
from rmt.train import main, tiny_rmt
from tests.test_train import read_log, run_until_step

FACT = re.compile(rf"\b({'|'.join(NAMES)}) ({'|'.join(VERBS)}) to the ", re.IGNORECASE)


def tiny_held_model():
    torch.manual_seed(0)
    return tiny_rmt(48, num_mem_tokens=3, hidden_dropout=0.0).eval()


def test_ageing_tells_each_memory_a_fact_then_reads_only_noise(tokenizer) -> None:
    model = tiny_held_model()
    text_len = model.config.text_per_segment
    held = age_held_facts(
        model, empty_held_facts(model, 3), 2, 0.0, tokenizer, random.Random(5), "train", contextlib.nullcontext
    )
    # An empty pool draws no restart chances: each row's fact is the next Memorize sample of the same rng.
    replay = random.Random(5)
    told = [make_sample("memorize", 2, text_len, tokenizer, replay, "train")[0] for _ in range(3)]
    assert held.labels == [ROOMS.index(hay.answer) for hay in told]
    assert held.questions == [hay.question_ids for hay in told]
    assert held.ages == [2, 2, 2]
    assert not torch.allclose(held.memory, model.init_memory(3).float())
    older = age_held_facts(model, held, 3, 0.0, tokenizer, random.Random(6), "train", contextlib.nullcontext)
    assert (older.labels, older.questions, older.ages) == (held.labels, held.questions, [5, 5, 5])
    assert not torch.allclose(older.memory, held.memory)
    again = age_held_facts(model, older, 3, 1.0, tokenizer, random.Random(7), "train", contextlib.nullcontext)
    assert again.ages == [3, 3, 3]  # every row told a new fact
    assert 0.0 <= held_accuracy(model, again, contextlib.nullcontext) <= 1.0


def test_held_rows_replace_memorize_rows_with_noise_and_the_pooled_fact(tokenizer) -> None:
    model = tiny_held_model()
    text_len = model.config.text_per_segment
    held = age_held_facts(
        model, empty_held_facts(model, 2), 2, 0.0, tokenizer, random.Random(1), "train", contextlib.nullcontext
    )
    mix = {"memorize": 0.5, "detect": 0.5, "reasoning": 0.0}
    batch = make_batch(["memorize", "detect"], 3, 8, text_len, tokenizer, random.Random(3), "train", mix=mix)
    memorize_rows = [row for row, task in enumerate(batch.tasks) if task == "memorize"]
    assert len(memorize_rows) > 2  # more than the pool holds
    start = model.init_memory(8).detach()
    new, new_start, used = with_held_rows(
        batch, start, held, 1.0, 3, text_len, tokenizer, random.Random(4), "train", question_alone_prob=1.0
    )
    assert used == 2
    for row in range(8):
        if row in memorize_rows[:2]:
            k = memorize_rows.index(row)
            ids = new.token_ids[row]
            question = held.questions[k]
            assert ids[-len(question) :].tolist() == question
            assert new.labels[row] == held.labels[k]
            assert new.question_starts[row] == len(ids) - len(question)  # the question alone, as asked
            assert FACT.search(tokenizer.decode(ids[: -len(question)])) is None  # the fact is the memory's
            assert torch.equal(new_start[row], held.memory[k].to(start.dtype))
        else:
            assert np.array_equal(new.token_ids[row], batch.token_ids[row])
            assert new.labels[row] == batch.labels[row]
            assert torch.equal(new_start[row], start[row])


def test_held_training_logs_the_pool_and_resumes_with_it(tmp_path, monkeypatch) -> None:
    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--stages", "2", "--batch-size", "8"]
    args += ["--tasks", "memorize", "--eval-every", "100", "--valid-samples", "4", "--eval-batch", "4"]
    args += ["--save-every", "2", "--patience", "100", "--max-steps", "4"]
    args += ["--held", "2", "--held-rows", "3", "--held-share", "1.0", "--held-reset", "0.0", "--held-warmup", "1"]
    run_until_step(args, monkeypatch, 3)
    saved = json.loads((out / "stage-2" / "last" / "held.json").read_text())
    assert saved["ages"] == [6, 6, 6]  # warm-up told the facts (2), then steps 1 and 2 read 2 more each
    main(args)
    records = read_log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4]
    assert [r["held_mean_age"] for r in records] == [4, 6, 8, 10]  # resumed with its aged pool
    assert all(r["held_rows"] == 3 and 0 <= r["held_accuracy"] <= 1 for r in records)


@pytest.mark.parametrize(
    "extra",
    [
        ["--held", "-1"],
        ["--held", "2", "--held-rows", "0"],
        ["--held", "2", "--held-share", "1.5"],
        ["--held", "2", "--tasks", "detect"],
    ],
)
def test_held_settings_out_of_range_are_refused(tmp_path, capsys, extra) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "run"), "--tiny", *extra])
    assert "--held" in capsys.readouterr().err
