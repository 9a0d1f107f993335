"""`python app.py` starts and serves with the network cut off, and never even tries it."""

from __future__ import annotations

from pathlib import Path

from conftest import call_generate, launch_app, stop_app
from gradio_client import Client

GUARD = Path(__file__).resolve().parent / "netguard"


def test_app_starts_and_serves_without_network(tmp_path) -> None:
    log = tmp_path / "network-attempts.txt"
    log.write_text("")
    env = {"PYTHONPATH": str(GUARD), "RMT_NETGUARD_LOG": str(log)}
    url, proc, log_path = launch_app(env, offline_env=False)  # HF_HUB_OFFLINE / analytics: the app's own doing
    try:
        client = Client(url, verbose=False)
        hay_id, *_ = call_generate(client, tokens="1000", seed=0)
        assert "done" in client.submit(hay_id, api_name="/run").result()[0]
        assert proc.poll() is None
    finally:
        stop_app(proc, log_path)
    assert log.read_text() == "", f"the app tried the network: {log.read_text()[:500]}"


def test_the_guard_really_blocks(tmp_path) -> None:
    """The guard must be able to fail the test above: a non-loopback connect is refused and logged."""
    import subprocess
    import sys

    log = tmp_path / "attempts.txt"
    code = (
        "import socket\n"
        "try:\n    socket.create_connection(('93.184.216.34', 80), timeout=2)\n"
        "except OSError as e:\n    print(e)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={"PYTHONPATH": str(GUARD), "RMT_NETGUARD_LOG": str(log), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "network disabled by the test" in out.stdout
    assert "93.184.216.34" in log.read_text()
