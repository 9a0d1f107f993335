"""Shared fixtures: a tiny random BERT for fast unit tests, the real tokenizer for haystacks."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
import torch

from rmt.backbone import load_tokenizer
from rmt.model import RecurrentMemoryTransformer, RMTConfig


def tiny_model(segment_size: int = 24, num_mem_tokens: int = 3, seed: int = 0) -> RecurrentMemoryTransformer:
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert = BertConfig(
        vocab_size=200,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        attention_probs_dropout_prob=0.0,
        hidden_dropout_prob=0.0,
    )
    bert._attn_implementation = "sdpa"
    config = RMTConfig(
        num_mem_tokens=num_mem_tokens,
        segment_size=segment_size,
        num_classes=6,
        class_names=[f"c{i}" for i in range(6)],
        backbone=bert.to_diff_dict() | {"model_type": "bert"},
    )
    return RecurrentMemoryTransformer(config, BertModel(bert)).eval()


@pytest.fixture
def tiny() -> RecurrentMemoryTransformer:
    return tiny_model()


@pytest.fixture(scope="session")
def tokenizer():
    return load_tokenizer()


@pytest.fixture(scope="session")
def app_url():
    """The real app (shipped checkpoints), launched as `python app.py` on a free port, offline."""
    import socket
    import subprocess
    import sys
    import time
    import urllib.request
    from pathlib import Path

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    env = os.environ | {"RMT_PORT": str(port), "HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    log = open(root / "tests" / f".app-{port}.log", "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen([sys.executable, "app.py"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited: {(root / 'tests' / f'.app-{port}.log').read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            time.sleep(0.5)
    else:
        proc.kill()
        raise RuntimeError("app did not start in 180 s")
    yield url, proc
    proc.terminate()
    proc.wait(timeout=30)
    log.close()
    (root / "tests" / f".app-{port}.log").unlink(missing_ok=True)
