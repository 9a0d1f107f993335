"""The training CLI on a tiny random backbone: the loss falls, checkpoints load, resume resumes."""

from __future__ import annotations

import contextlib
import json

import pytest
import torch

from rmt.checkpoint import load_checkpoint
from rmt.model import RecurrentMemoryTransformer
from rmt.train import main


def read_log(out):
    return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]


def run_until_step(args: list[str], monkeypatch, step: int) -> None:
    """Run training whose batches give out at ``step`` (a session ending mid-stage), then restore them."""
    import rmt.train

    real_make_batch = rmt.train.make_batch
    calls = []

    def dies(*a, **k):  # 1 validation batch, then training batches for steps 1, 2, ...
        calls.append(1)
        if len(calls) == 1 + step:
            raise KeyboardInterrupt("session ended")
        return real_make_batch(*a, **k)

    monkeypatch.setattr(rmt.train, "make_batch", dies)
    with contextlib.suppress(KeyboardInterrupt):
        main(args)
    monkeypatch.setattr(rmt.train, "make_batch", real_make_batch)


def test_tiny_training_decreases_loss_and_writes_a_checkpoint(tmp_path) -> None:
    out = tmp_path / "run"
    main(
        [
            "--out",
            str(out),
            "--tiny",
            "--segment-size",
            "48",
            "--tasks",
            "memorize",
            "--stages",
            "1",
            "--max-steps",
            "40",
            "--lr",
            "3e-3",
            "--eval-every",
            "20",
            "--valid-samples",
            "16",
            "--batch-size",
            "8",
            "--overfit-batches",
            "2",
            "--memory-tokens",
            "6",
        ]
    )
    losses = [r["loss"] for r in read_log(out)]
    assert sum(losses[-10:]) / 10 < sum(losses[:10]) / 10
    model = load_checkpoint(out / "stage-1" / "best")
    assert model.config.segment_size == 48
    assert model.config.num_mem_tokens == 6  # --memory-tokens reaches the saved config
    assert model.config.text_per_segment == 48 - 6 - 3


def test_memory_tokens_are_refused_where_they_cannot_apply(tmp_path, capsys) -> None:
    for extra, says in (
        (["--init", str(tmp_path / "ckpt")], "keeps the checkpoint's memory size"),
        (["--segment-size", "48"], "must be from 1 to 44"),
    ):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "run"), "--tiny", "--memory-tokens", "60", *extra])
        assert says in capsys.readouterr().err


def test_drift_settings_out_of_range_are_refused(tmp_path, capsys) -> None:
    for extra, says in (
        (["--drift", "-1"], "numbers of segments"),
        (["--valid-drift", "-5"], "numbers of segments"),
        (["--drift", "4", "--drift-share", "1.5"], "chances, from 0 to 1"),
        (["--drift", "4", "--drift-reset", "-0.1"], "chances, from 0 to 1"),
        (["--drift", "4", "--drift-warmup", "-2"], "number of rounds"),
    ):
        with pytest.raises(SystemExit):
            main(["--out", str(tmp_path / "run"), "--tiny", *extra])
        assert says in capsys.readouterr().err
    assert not (tmp_path / "run").exists()  # refused before anything is written


def test_resume_continues_from_the_saved_step(tmp_path, monkeypatch) -> None:
    out = tmp_path / "run"
    args = [
        "--out",
        str(out),
        "--tiny",
        "--segment-size",
        "48",
        "--stages",
        "1",
        "--eval-every",
        "100",
        "--valid-samples",
        "8",
        "--batch-size",
        "4",
        "--save-every",
        "3",
        "--patience",
        "100",
        "--max-steps",
        "10",
    ]
    run_until_step(args, monkeypatch, 8)
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4, 5, 6, 7]  # saved at 6, lost 7
    main(args)
    assert [r["step"] for r in read_log(out)] == [1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10]


def test_asked_names_narrow_the_questions_not_the_other_people(tmp_path, capsys, tokenizer) -> None:
    import random

    from rmt.data import make_batch

    batch = make_batch(
        ["memorize", "detect"], 2, 16, 115, tokenizer, random.Random(0), other_people_prob=1.0, asked=("Mary",)
    )
    texts = [tokenizer.decode(ids) for ids in batch.token_ids]
    assert all(text.endswith("where is mary?") for text in texts)
    assert any("john" in text or "daniel" in text or "sandra" in text for text in texts)  # others still there
    default = make_batch(["memorize"], 2, 16, 115, tokenizer, random.Random(0))
    assert len({tokenizer.decode(ids).split()[-1] for ids in default.token_ids}) > 1  # all names by default
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "run"), "--tiny", "--asked", "Mary,Ahab"])
    assert "Ahab is not one of the names" in capsys.readouterr().err


def test_cut_facts_puts_a_segment_boundary_inside_a_fact(tokenizer) -> None:
    """``--cut-facts 1`` cuts a fact of every haystack, in both layouts (question alone or not);
    without it about one in 25 is cut."""
    import random

    from rmt.data import make_batch, make_sample
    from rmt.segments import Reading, fact_cuts

    def draws(cut_facts: float) -> list[tuple]:
        rng = random.Random(0)
        return [
            make_sample(task, 4, 115, tokenizer, rng, "train", question_alone_prob=0.5, cut_facts=cut_facts)
            for task in ["memorize", "detect", "reasoning"] * 8
        ]

    def is_cut(hay, question_start) -> bool:
        return bool(fact_cuts(hay, Reading(115), question_start))

    forced, chance = draws(1.0), draws(0.0)
    assert all(is_cut(*d) for d in forced)
    assert {q is None for _, q in forced} == {True, False}  # both layouts were cut
    assert sum(is_cut(*d) for d in chance) <= 5
    args = (["detect"], 4, 8, 115, tokenizer)
    plain, cut = make_batch(*args, random.Random(0)), make_batch(*args, random.Random(0), cut_facts=1.0)
    assert [ids.tolist() for ids in plain.token_ids] != [ids.tolist() for ids in cut.token_ids]  # passed on


def test_asked_directions_narrow_which_relation_reasoning_asks_about(tokenizer) -> None:
    import random

    from rmt.data import make_batch
    from rmt.tasks import make_task, relation_direction, rooms_named

    rng = random.Random(0)
    samples = [make_task("reasoning", rng, asked=("south", "Mary")) for _ in range(40)]
    for sample in samples:
        (asked,) = [fact for fact in sample.facts if sample.answer in rooms_named(fact)]
        assert relation_direction(asked) == "south"
    others = {relation_direction(f) for s in samples for f in s.facts if s.answer not in rooms_named(f)}
    assert others == {"north", "east", "west"}  # the other fact still states any other direction
    # a batch asks the same way, with --asked as the CLI parses it; names keep steering Memorize
    batch = make_batch(["reasoning", "memorize"], 2, 16, 115, tokenizer, random.Random(1), asked=("north", "Mary"))
    texts = [tokenizer.decode(ids) for ids in batch.token_ids]
    assert all(t.endswith("where is mary?") or "north of the" in t.split(".")[-1] or " south of?" in t for t in texts)
    with pytest.raises(SystemExit):
        main(["--out", "unused", "--tiny", "--asked", "up"])


def test_slot_targets_name_each_directions_room_for_haystacks_read_into_memory(tokenizer) -> None:
    import random

    from rmt.data import make_batch
    from rmt.tasks import ROOMS, relation_slots

    facts = ["The office is south of the garden.", "The kitchen is west of the garden."]
    none = len(ROOMS)
    assert relation_slots(facts) == [none, ROOMS.index("office"), none, ROOMS.index("kitchen")]
    batch = make_batch(["reasoning", "memorize"], 2, 40, 40, tokenizer, random.Random(0), question_alone_prob=0.5)
    rows = zip(batch.slot_targets, batch.slots_held, batch.tasks, batch.question_starts, strict=True)
    for targets, held, task, start in rows:
        if task == "memorize":
            assert targets is None and held == 0
        elif start is not None:  # 2 segments, the question alone: only the facts' segment is before it
            assert targets is not None and targets.count(none) == 2 and held == 1
        else:  # held when both facts ended in the first segment
            assert held in (0, 1) and (targets is None) == (held == 0)
    assert any(t is not None for t in batch.slot_targets)
    eight = make_batch(["reasoning"], 8, 16, 40, tokenizer, random.Random(1))
    assert max(eight.slots_held) > 1  # facts early in a long haystack: every later segment enters holding them
    one_segment = make_batch(["reasoning"], 1, 8, 40, tokenizer, random.Random(0))
    assert one_segment.slot_targets == [None] * 8 and one_segment.slots_held == [0] * 8


def test_slot_loss_trains_and_resumes_with_its_head(tmp_path, monkeypatch) -> None:
    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--tasks", "reasoning", "--stages", "2"]
    args += ["--eval-every", "100", "--valid-samples", "8", "--batch-size", "8", "--save-every", "3"]
    args += ["--max-steps", "6", "--question-alone", "1.0", "--slot-loss", "1.0"]
    run_until_step(args, monkeypatch, 5)
    assert (out / "stage-2" / "last" / "slot_head.safetensors").is_file()
    main(args)
    records = read_log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4, 4, 5, 6]
    assert all(r["slot_loss"] > 0 for r in records)  # every batch of question-alone Reasoning has targets
    assert not any(k.startswith("slot_head") for k in load_checkpoint(out / "stage-2" / "best").state_dict())


def test_a_noise_prefix_keeps_each_haystacks_segments(tokenizer) -> None:
    import random

    import numpy as np

    from rmt.data import make_batch, with_noise_prefix
    from rmt.segments import Reading, text_bounds

    text_len, prefix = 40, 4
    batch = make_batch(["detect", "reasoning"], 3, 8, text_len, tokenizer, random.Random(0), question_alone_prob=0.5)
    after = with_noise_prefix(batch, prefix, text_len, tokenizer, random.Random(1), "valid")
    assert any(q is not None for q in batch.question_starts) and any(q is None for q in batch.question_starts)
    size = prefix * text_len
    rows = zip(batch.token_ids, batch.question_starts, after.token_ids, after.question_starts, strict=True)
    for ids, start, longer, longer_start in rows:
        np.testing.assert_array_equal(longer[size:], ids)
        assert len(set(longer[:size].tolist())) > 10  # real noise, not padding
        old = text_bounds(ids, Reading(text_len), start)
        new = text_bounds(longer, Reading(text_len), longer_start)
        assert len(new) == len(old) + prefix
        assert [(a - size, b - size) for a, b in new[-len(old) + 1 :]] == old[1:]  # only the first fills up
    assert (after.labels, after.slots_held, after.slot_targets) == (batch.labels, batch.slots_held, batch.slot_targets)


def test_drift_trains_validates_after_noise_and_resumes_with_its_memories(tmp_path, monkeypatch) -> None:
    from safetensors.torch import load_file

    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--stages", "2", "--batch-size", "4"]
    args += ["--eval-every", "2", "--valid-samples", "4", "--eval-batch", "4", "--save-every", "2", "--patience", "100"]
    args += ["--max-steps", "4", "--drift", "3", "--drift-reset", "0.0", "--drift-share", "1.0", "--valid-drift", "2"]
    run_until_step(args, monkeypatch, 3)
    saved = load_file(str(out / "stage-2" / "last" / "drift.safetensors"))["memory"]  # [B, M, H] after 2 steps
    model = load_checkpoint(out / "stage-2" / "last")
    assert saved.shape == model.init_memory(4).shape
    assert not torch.allclose(saved, model.init_memory(4).float())  # it has read noise
    main(args)
    records = read_log(out)
    assert [r["step"] for r in records] == [1, 2, 3, 4]  # saved at 2, stopped before 3
    scored = [r for r in records if "valid_accuracy" in r]
    assert scored and all(0 <= r["valid_after_noise"] <= 1 for r in scored)
    assert all(r["valid_accuracy"] == pytest.approx((r["valid_plain"] + r["valid_after_noise"]) / 2) for r in scored)


def test_drift_warmup_reads_noise_before_the_first_step_only(tmp_path, monkeypatch) -> None:
    import rmt.train

    reads = []
    real_drift = rmt.train.drift_memories
    monkeypatch.setattr(rmt.train, "drift_memories", lambda *a, **k: reads.append(1) or real_drift(*a, **k))
    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--stages", "2", "--batch-size", "4"]
    args += ["--eval-every", "100", "--valid-samples", "4", "--eval-batch", "4", "--save-every", "2"]
    args += ["--patience", "100"]
    args += ["--max-steps", "4", "--drift", "2", "--drift-warmup", "3"]
    run_until_step(args, monkeypatch, 3)
    assert len(reads) == 3 + 2  # 3 warm-up rounds, then one read per step for steps 1 and 2
    reads.clear()
    main(args)  # resumes at step 2 with its saved pool: no second warm-up
    assert len(reads) == 2


def test_drift_tasks_keep_the_other_tasks_on_the_initial_memory(tmp_path, monkeypatch) -> None:
    import rmt.train

    starts, batches = [], []
    real_read, real_make_batch = RecurrentMemoryTransformer.read, rmt.train.make_batch

    def read(self, token_ids, truncate_bptt=None, question_starts=None, memory=None):
        if self.training:  # a training step, not validation
            starts.append((memory.detach().clone(), self.init_memory(len(token_ids)).detach().clone()))
        return real_read(self, token_ids, truncate_bptt, question_starts, memory)

    monkeypatch.setattr(RecurrentMemoryTransformer, "read", read)
    record = lambda *a, **k: batches.append(real_make_batch(*a, **k)) or batches[-1]  # noqa: E731
    monkeypatch.setattr(rmt.train, "make_batch", record)
    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--stages", "2", "--batch-size", "8"]
    args += ["--eval-every", "100", "--valid-samples", "4", "--eval-batch", "4", "--patience", "100"]
    args += ["--tasks", "memorize,detect", "--mix", "memorize=0.5,detect=0.5", "--max-steps", "2"]
    args += ["--drift", "2", "--drift-reset", "0.0", "--drift-share", "1.0", "--drift-tasks", "detect"]
    main(args)
    training = batches[1:]  # the first is validation's
    assert len(starts) == len(training) == 2
    tasks_seen = set()
    for (start, fresh), batch in zip(starts, training, strict=True):
        for row, task in enumerate(batch.tasks):
            tasks_seen.add(task)
            from_fresh = torch.equal(start[row], fresh[row])
            assert from_fresh == (task == "memorize"), (row, task)
    assert tasks_seen == {"memorize", "detect"}


def test_unknown_drift_task_is_refused(tmp_path, capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path / "run"), "--tiny", "--drift", "2", "--drift-tasks", "detect,sorting"])
    assert "--drift-tasks" in capsys.readouterr().err


def test_stop_at_ends_the_stage_early_with_a_validated_model(tmp_path) -> None:
    out = tmp_path / "run"
    args = ["--out", str(out), "--tiny", "--segment-size", "48", "--stages", "2", "--batch-size", "4"]
    args += ["--eval-every", "100", "--valid-samples", "4", "--eval-batch", "4", "--max-steps", "6", "--stop-at", "3"]
    main(args)
    records = read_log(out)
    assert [r["step"] for r in records] == [1, 2, 3]
    assert "valid_accuracy" in records[-1]
    assert json.loads((out / "stage-2" / "DONE.json").read_text())["steps"] == 3
    assert isinstance(load_checkpoint(out / "stage-2" / "best"), RecurrentMemoryTransformer)


def test_training_from_an_overlapping_reader_reads_plain_segments(tmp_path, capsys) -> None:
    """rmt.data lays out plain segments, so a checkpoint read with an overlap is trained (and saved) without."""
    args = ["--tiny", "--segment-size", "48", "--stages", "1", "--batch-size", "4", "--eval-every", "100"]
    args += ["--valid-samples", "4", "--eval-batch", "4", "--max-steps", "1"]
    main(["--out", str(tmp_path / "first"), *args])
    init = tmp_path / "first" / "stage-1" / "best"
    config = json.loads((init / "config.json").read_text())
    (init / "config.json").write_text(json.dumps(config | {"segment_overlap": 5}))
    assert load_checkpoint(init).config.segment_overlap == 5
    capsys.readouterr()
    main(["--out", str(tmp_path / "second"), "--init", str(init), *args])
    assert "segment_overlap 5 set to 0 here" in capsys.readouterr().out
    assert load_checkpoint(tmp_path / "second" / "stage-1" / "best").config.segment_overlap == 0
