"""Shared fixtures: a tiny random BERT for fast unit tests, the real tokenizer for haystacks, app helpers."""

from __future__ import annotations

import os
import re
from pathlib import Path

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


def call_generate(client, task="memorize", tokens="2000", seed=1, **custom):
    """The /generate endpoint with the UI's defaults; keyword arguments override any field."""
    args = {
        "task": task,
        "tokens": tokens,
        "depth": 50,
        "random_depth": True,
        "seed": seed,
        "noise_source": "valid",
        "noise_text": "",
        "facts": "",
        "question": "",
        "answer": "",
    } | custom
    return client.predict(*args.values(), api_name="/generate")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100  # utime + stime, in clock ticks of 1/100 s


def launch_app(env: dict | None = None, python_args: tuple[str, ...] = (), offline_env: bool = True):
    """Start `python app.py` on a free port; returns (url, process, log path) once it serves.

    ``offline_env=False`` leaves HF_HUB_OFFLINE and GRADIO_ANALYTICS_ENABLED unset, to prove the app
    sets them itself.
    """
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
    offline = {"HF_HUB_OFFLINE": "1", "GRADIO_ANALYTICS_ENABLED": "False"}
    env = os.environ | {"RMT_PORT": str(port)} | (offline if offline_env else {}) | (env or {})
    if not offline_env:
        for name in offline:
            env.pop(name, None)
    log_path = root / "tests" / f".app-{port}.log"
    log = open(log_path, "w")  # noqa: SIM115 - lives as long as the server
    proc = subprocess.Popen(
        [sys.executable, *python_args, "app.py"], cwd=root, env=env, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 180
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app exited: {log_path.read_text()[-3000:]}")
        try:
            urllib.request.urlopen(url, timeout=2)
            return url, proc, log_path
        except OSError:
            time.sleep(0.5)
    proc.kill()
    raise RuntimeError("app did not start in 180 s")


def stop_app(proc, log_path) -> None:
    proc.terminate()
    proc.wait(timeout=30)
    log_path.unlink(missing_ok=True)


@pytest.fixture(scope="session")
def app_url():
    """The real app (shipped checkpoints), launched as `python app.py` on a free port, offline."""
    url, proc, log_path = launch_app()
    yield url, proc
    stop_app(proc, log_path)


SENTENCE_END = re.compile(r"[.!?][\"'\u2019\u201d)\]_]*\s*$")


def assert_facts_well_placed(hay, tokenizer) -> None:
    for fact in hay.facts:
        assert hay.text[fact.char_start : fact.char_end] == fact.text
        decoded = tokenizer.decode(hay.token_ids[fact.token_start : fact.token_end].tolist())
        assert decoded == fact.text.lower()
        before = hay.text[: fact.char_start]
        assert before == "" or SENTENCE_END.search(before), f"fact not at a sentence start: {before[-40:]!r}"
