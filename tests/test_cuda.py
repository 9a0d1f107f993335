"""The CUDA path (graph-replayed segments): skipped where there is no GPU, as in CI.

Run on a GPU machine with ``python -m pytest tests/test_cuda.py``; it checks the shipped model,
not a tiny one, because the graph path must agree with the eager path on what users run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.haystack import build_haystack
from rmt.inference import classify_equal_length, prepare_for_inference

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")

RMT = Path(__file__).resolve().parent.parent / "checkpoints" / "rmt-minilm-babi"


@pytest.fixture(scope="module")
def gpu_model():
    return prepare_for_inference(load_checkpoint(RMT), torch.device("cuda"))


@pytest.fixture(scope="module")
def haystacks():
    tokenizer = load_checkpoint_tokenizer(RMT)
    n = load_checkpoint(RMT).config.text_per_segment
    hays = [build_haystack("memorize", 12 * n - 5, tokenizer, seed=s, noise="valid") for s in range(16)]
    return np.stack([h.token_ids for h in hays]).astype(np.int32)


@pytest.fixture
def plain_gpu_model():
    """The shipped model read with plain segments: the reading whose full segments replay a CUDA graph (a snapped
    batch's rows end segments at different tokens, so ``classify_aligned`` steps them eagerly with a mask)."""
    model = prepare_for_inference(load_checkpoint(RMT), torch.device("cuda"))
    model.read_segments(0)
    return model


def test_graph_and_eager_steps_agree(plain_gpu_model, haystacks, monkeypatch) -> None:
    ids = haystacks
    graphed = classify_equal_length(plain_gpu_model, ids)
    monkeypatch.setenv("RMT_CUDA_GRAPHS", "0")
    eager = classify_equal_length(plain_gpu_model, ids)
    assert torch.equal(graphed.argmax(-1), eager.argmax(-1))
    torch.testing.assert_close(graphed.softmax(-1), eager.softmax(-1), atol=2e-2, rtol=0)


def test_a_snapped_batch_reads_each_row_as_it_reads_alone(gpu_model, haystacks) -> None:
    """The shipped reading: rows of one batch take their own boundaries, padded and masked into one step."""
    assert gpu_model.config.segment_snap
    batch = classify_equal_length(gpu_model, haystacks[:6]).softmax(-1)
    alone = torch.cat([classify_equal_length(gpu_model, haystacks[i : i + 1]) for i in range(6)]).softmax(-1)
    assert torch.equal(batch.argmax(-1), alone.argmax(-1))
    assert (batch - alone).abs().max() < 0.05  # bf16: padding changes the kernels, not the answer


def test_gpu_answers_like_the_cpu(gpu_model, haystacks) -> None:
    ids = haystacks
    cpu_model = prepare_for_inference(load_checkpoint(RMT), torch.device("cpu"))
    on_cpu = classify_equal_length(cpu_model, ids).softmax(-1)
    on_gpu = classify_equal_length(gpu_model, ids).cpu().softmax(-1)
    confident = on_cpu.max(-1).values > 0.8
    assert torch.equal(on_gpu.argmax(-1)[confident], on_cpu.argmax(-1)[confident])
    assert (on_gpu - on_cpu).abs().max() < 0.1  # bf16 on the GPU, fp32 on the CPU


def test_a_second_run_does_not_see_the_first(gpu_model, haystacks) -> None:
    """Graphs keep static buffers: results must be copies, and memory must restart each run."""
    ids = haystacks
    first = classify_equal_length(gpu_model, ids[:4])
    classify_equal_length(gpu_model, ids[4:8])
    again = classify_equal_length(gpu_model, ids[:4])
    torch.testing.assert_close(first, again)


def test_gpu_memory_is_flat_in_length(gpu_model) -> None:
    n = gpu_model.config.text_per_segment
    rng = np.random.default_rng(0)
    short = rng.integers(1000, 29000, size=(1, 8 * n), dtype=np.int32)
    long = rng.integers(1000, 29000, size=(1, 512 * n), dtype=np.int32)
    classify_equal_length(gpu_model, short)
    peaks = []
    for ids in (short, long):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        classify_equal_length(gpu_model, ids)
        torch.cuda.synchronize()
        peaks.append(torch.cuda.max_memory_allocated() - ids.nbytes)
    assert peaks[1] <= 1.05 * peaks[0] + 2**20, peaks
