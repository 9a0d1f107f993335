"""Shared fixtures: a tiny random BERT for fast unit tests, the real tokenizer for haystacks."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
import torch

from rmt.backbone import load_tokenizer
from rmt.model import RecurrentMemoryTransformer
from rmt.train import tiny_rmt


def tiny_model(segment_size: int = 24, num_mem_tokens: int = 3, seed: int = 0) -> RecurrentMemoryTransformer:
    """The training CLI's tiny RMT with a 200-word vocabulary, 4 heads and no dropout."""
    torch.manual_seed(seed)
    return tiny_rmt(segment_size, num_mem_tokens, vocab_size=200, heads=4, hidden_dropout=0.0).eval()


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
