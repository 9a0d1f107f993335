"""A bounded load test on loopback: 8 clients at once against an app with a short queue.

Every request must either complete or be told the queue is full; the app must not crash, and its
memory must come back near where it started. Prints one summary line (run pytest with -s to see
it; the README quotes it).
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from conftest import call_generate, launch_app, stop_app
from gradio_client import Client

CLIENTS, ROUNDS, QUEUE_SIZE = 8, 2, 4


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


@pytest.fixture(scope="module")
def small_queue_app():
    url, proc, log_path = launch_app({"RMT_QUEUE_SIZE": str(QUEUE_SIZE)})
    yield url, proc
    stop_app(proc, log_path)


def test_eight_clients_get_answers_or_queue_full(small_queue_app) -> None:
    url, proc = small_queue_app
    warm = Client(url, verbose=False)
    hay_id, *_ = call_generate(warm, tokens="2000", seed=0)
    warm.submit(hay_id, api_name="/run").result()
    baseline = rss_bytes(proc.pid)
    outcomes: list[str] = []
    peak = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.wait(0.05):
            peak[0] = max(peak[0], rss_bytes(proc.pid))

    def user(index: int) -> None:
        client = Client(url, verbose=False)
        for round_ in range(ROUNDS):
            try:
                hay_id, *_ = call_generate(client, tokens="2000", seed=100 * index + round_)
                final = client.submit(hay_id, api_name="/run").result()
                outcomes.append("answered" if "done" in final[0] and "RMT answers" in final[5] else f"odd: {final[0]}")
            except Exception as error:  # the message is what is checked
                outcomes.append("queue full" if "queue is full" in str(error).lower() else f"error: {error}")

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    started = time.perf_counter()
    threads = [threading.Thread(target=user, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    seconds = time.perf_counter() - started
    done.set()
    sampler.join()
    time.sleep(2.0)
    after = rss_bytes(proc.pid)
    print(
        f"\nload: {CLIENTS} clients x {ROUNDS} rounds (generate + run, 2,000 tokens), queue {QUEUE_SIZE}: "
        f"{outcomes.count('answered')} answered, {outcomes.count('queue full')} told the queue is full, "
        f"{len(outcomes) - outcomes.count('answered') - outcomes.count('queue full')} other, in {seconds:.1f} s; "
        f"RSS {baseline / 2**20:.0f} MiB before, peak {peak[0] / 2**20:.0f} MiB, {after / 2**20:.0f} MiB after"
    )
    assert not any(t.is_alive() for t in threads), "a client hung"
    assert len(outcomes) == CLIENTS * ROUNDS
    assert all(o in ("answered", "queue full") for o in outcomes), [o for o in outcomes if o != "queue full"]
    assert outcomes.count("answered") >= CLIENTS  # the queue drains: most work gets done
    assert proc.poll() is None, "the app crashed"
    assert after - baseline < 150 * 2**20, (baseline, after)  # no per-request memory kept
    hay_id, *_ = call_generate(warm, tokens="2000", seed=7)  # and it keeps serving
    assert "done" in warm.submit(hay_id, api_name="/run").result()[0]
