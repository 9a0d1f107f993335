"""The RMT wrapper on a tiny random BERT: layout, recurrence, BPTT, batching, save/load."""

from __future__ import annotations

import torch

from rmt.checkpoint import load_checkpoint, save_checkpoint
from rmt.segments import pack_segment, segment_layout
from tests.conftest import tiny_model


def test_one_segment_equals_plain_encoder_on_the_same_layout(tiny) -> None:
    mem_ids = torch.tensor([50, 51, 52])
    with torch.no_grad():
        tiny.initial_memory.copy_(tiny.backbone.get_input_embeddings()(mem_ids))
    text = [10, 11, 12, 13]
    logits = tiny([text])
    row = segment_layout(text, tiny.config)
    row[1:4] = mem_ids.tolist()
    out = tiny.backbone(input_ids=torch.tensor([row]), token_type_ids=torch.zeros(1, len(row), dtype=torch.long))
    expected = tiny.classifier(out.pooler_output)
    torch.testing.assert_close(logits, expected)


def test_memory_carries_information_between_segments(tiny) -> None:
    text_len = tiny.config.text_per_segment
    tail = list(range(20, 20 + text_len))
    a = tiny([[5] * text_len + tail])
    b = tiny([[6] * text_len + tail])  # differs only in the first segment
    assert not torch.allclose(a, b)


def test_full_bptt_reaches_the_first_segment_and_truncation_stops_it() -> None:
    model = tiny_model().train()
    text_len = model.config.text_per_segment
    first_only = 150  # a token that appears only in the first segment
    seq = [first_only] * text_len + [20] * text_len + [21] * text_len
    emb = model.backbone.get_input_embeddings().weight

    model.zero_grad()
    model([seq]).sum().backward()
    assert emb.grad[first_only].abs().sum() > 0
    assert model.initial_memory.grad.abs().sum() > 0

    model.zero_grad()
    model([seq], truncate_bptt=1).sum().backward()
    assert emb.grad[first_only].abs().sum() == 0
    assert model.initial_memory.grad is None or model.initial_memory.grad.abs().sum() == 0


def test_truncation_keeps_predictions_and_the_last_segments_graph() -> None:
    model = tiny_model().eval()
    n = model.config.text_per_segment
    seqs = [list(range(10, 10 + 4 * n)), list(range(40, 40 + n + 5))]
    full = model(seqs)
    truncated = model(seqs, truncate_bptt=2)
    torch.testing.assert_close(truncated, full)
    assert truncated.requires_grad


def test_mixed_length_batch_matches_one_by_one(tiny) -> None:
    n = tiny.config.text_per_segment
    seqs = [list(range(10, 10 + 3 * n)), list(range(30, 30 + n + 2)), [7, 8, 9]]
    batched = tiny(seqs)
    single = torch.cat([tiny([s]) for s in seqs])
    torch.testing.assert_close(batched, single, atol=1e-5, rtol=1e-4)


def test_step_records_attention_only_when_asked(tiny) -> None:
    seg = pack_segment([[10, 11, 12]], tiny.config, torch.ones(1, dtype=torch.bool))
    memory = tiny.init_memory(1)
    plain = tiny.step(memory, seg.input_ids, seg.attention_mask)
    inspected = tiny.step(memory, seg.input_ids, seg.attention_mask, record_layers=[0, 1])
    assert plain.attentions is None
    assert set(inspected.attentions) == {0, 1}
    length = seg.input_ids.shape[1]
    assert inspected.attentions[1].shape == (1, 4, length, length)
    torch.testing.assert_close(inspected.attentions[1].sum(-1), torch.ones(1, 4, length))
    torch.testing.assert_close(plain.logits, inspected.logits, atol=1e-5, rtol=1e-4)  # eager == SDPA
    assert tiny.backbone.config._attn_implementation == "sdpa"  # switched back afterwards


def test_iter_steps_matches_forward(tiny) -> None:
    seq = list(range(10, 60))
    steps = list(tiny.iter_steps(seq))
    assert len(steps) == -(-len(seq) // tiny.config.text_per_segment)
    torch.testing.assert_close(steps[-1][1].logits, tiny([seq]))


def test_answer_probe_uses_the_memory(tiny) -> None:
    memory = tiny.init_memory(1)
    other = memory + torch.randn_like(memory)  # (a constant shift would vanish in LayerNorm)
    assert not torch.allclose(tiny.answer(memory, [40, 41]), tiny.answer(other, [40, 41]))


def test_save_load_round_trip_is_exact_in_fp32(tiny, tmp_path) -> None:
    save_checkpoint(tiny, tmp_path / "ckpt", dtype=torch.float32)
    loaded = load_checkpoint(tmp_path / "ckpt")
    seq = list(range(10, 70))
    torch.testing.assert_close(loaded([seq]), tiny([seq]), atol=0, rtol=0)


def test_fp16_checkpoint_is_close(tiny, tmp_path) -> None:
    save_checkpoint(tiny, tmp_path / "ckpt")  # the shipped format
    loaded = load_checkpoint(tmp_path / "ckpt")
    seq = list(range(10, 70))
    torch.testing.assert_close(loaded([seq]), tiny([seq]), atol=2e-2, rtol=2e-2)


def test_a_question_alone_in_training_is_the_apps_live_answer(tiny) -> None:
    """Training's question-alone samples must have the layout the app asks the live question in."""
    text = tiny.config.text_per_segment
    body, question = [(7 * i) % 150 + 5 for i in range(2 * text)], [40, 41, 42]
    with torch.no_grad():
        trained = tiny([body + question], question_starts=[2 * text])
        memory = tiny.init_memory(1)
        for _, step in tiny.iter_steps(body):
            memory = step.memory
        live = tiny.answer(memory, question)
        plain = tiny([body + question])
    assert torch.allclose(trained, live, atol=1e-5)
    assert not torch.allclose(trained, plain, atol=1e-5)  # and not the right-aligned split of the same ids


def test_read_hands_back_the_memory_entering_each_segment(tiny) -> None:
    n = tiny.config.text_per_segment
    seq = list(range(10, 10 + 3 * n))
    with torch.no_grad():
        logits, memories = tiny.eval().read([seq])
        stepped = [out.memory for _, out in tiny.iter_steps(seq)]
    assert len(memories) == 3
    torch.testing.assert_close(memories[0], tiny.init_memory(1))
    torch.testing.assert_close(memories[1], stepped[0])
    torch.testing.assert_close(memories[2], stepped[1])
    torch.testing.assert_close(logits, tiny([seq]))


def test_reading_on_from_a_carried_memory_equals_reading_the_whole(tiny) -> None:
    n = tiny.config.text_per_segment
    prefix = [list(range(30, 30 + 2 * n)), list(range(40, 40 + 2 * n))]
    haystacks = [list(range(10, 10 + 3 * n)), list(range(60, 60 + n))]  # whole segments: the splits line up
    with torch.no_grad():
        carried = tiny.eval().carry(prefix, tiny.init_memory(2))
        logits, memories = tiny.read(haystacks, memory=carried)
        whole = tiny([p + h for p, h in zip(prefix, haystacks, strict=True)])
    torch.testing.assert_close(logits, whole)
    torch.testing.assert_close(memories[0], carried)  # each sample starts from its own carried memory
    assert not torch.allclose(logits, tiny(haystacks))
