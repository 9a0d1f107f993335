"""The launched app through its API (gradio_client), with the shipped checkpoints."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from conftest import call_generate as generate
from conftest import cpu_seconds
from gradio_client import Client

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url[0], verbose=False)


def test_generate_and_run_memorize_gives_the_right_answer(client) -> None:
    hay_id, preview, summary, _ = generate(client)
    assert summary["tokens"] == 2000 and summary["answer"] in preview
    assert "<mark>" in preview and len(preview) < 20_000  # a preview, not the haystack
    job = client.submit(hay_id, api_name="/run")
    updates = list(job)
    final = job.outputs()[-1]
    status, verdict = final[0], final[5]
    assert "done" in status and f"segment {summary['segments']} of {summary['segments']}" in status
    assert "**Correct.**" in verdict, verdict
    assert len(updates) >= 1


def test_preview_quotes_what_evaluation_measured_near_this_length(client) -> None:
    _, preview, summary, _ = generate(client)  # memorize, 2,000 tokens
    points = json.loads((ROOT / "checkpoints/rmt-minilm-babi/eval.json").read_text())["tasks"]["memorize"]["points"]
    nearest = min(points, key=lambda p: abs(math.log(p["tokens"] / 2000)))
    counts = f"({nearest['correct']} of {nearest['samples']}"
    expected = f"of memorize haystacks of {nearest['tokens']:,} tokens right {counts}"
    assert expected in summary["measured_accuracy"] and expected in preview
    custom = generate(client, task="custom", facts="Mary went to the garden.", question="Where is Mary?")[2]
    assert custom["measured_accuracy"] is None
    # on the book without its room sentences, the count measured on that text (no_rooms.json)
    no_rooms = json.loads((ROOT / "checkpoints/rmt-minilm-babi/no_rooms.json").read_text())
    point = no_rooms["tasks"]["detect"]["points"][0]
    _, _, summary, _ = generate(client, task="detect", tokens=str(point["tokens"]), noise_source="valid-no-rooms")
    expected = f"({point['correct']} of {point['samples']}, held-out book without its room sentences;"
    assert summary["noise"] == "valid-no-rooms" and expected in summary["measured_accuracy"]


def test_a_fact_at_a_segment_boundary_reaches_the_api_summary(client) -> None:
    """A script sees what the page shows for the scene's haystack: read as shipped (boundaries moved to sentence
    ends), no segment boundary cuts the fact; ``bridged`` says where a plain boundary would have, and which segment
    reads the fact whole."""
    summary = generate(client, task="detect", tokens="1840", seed=538)[2]
    (fact,) = summary["facts"]
    assert fact["cut"] is None
    assert fact["bridged"]["halves"] == ["sandra travelled", "to the hallway."]
    assert fact["bridged"]["segment"] in (fact["segment"], fact["segment"] + 1)
    plain = generate(client, task="detect", tokens="1840", seed=1, noise_source="valid-no-rooms")[2]["facts"][0]
    assert plain["cut"] is None and plain["bridged"] is None  # no boundary near this one


def test_stream_is_throttled_not_one_message_per_segment(client) -> None:
    hay_id, _, summary, _ = generate(client, task="detect", tokens="30000", seed=2)
    started = time.perf_counter()
    job = client.submit(hay_id, api_name="/run")
    outputs = list(job)
    elapsed = time.perf_counter() - started
    assert summary["segments"] > 200
    assert 2 <= len(outputs) <= elapsed / 0.25 + 3  # documented: at most one update every 0.25 s, plus the last
    assert any(" left · " in update[0] for update in outputs[:-1])  # time left, once a second has gone by
    assert " left" not in outputs[-1][0] and "done" in outputs[-1][0]


def test_stop_ends_a_long_run_and_frees_the_cpu(client, app_url) -> None:
    hay_id, *_ = generate(client, task="detect", tokens="2000000", seed=3)
    job = client.submit(hay_id, api_name="/run")
    deadline = time.time() + 60
    while not job.outputs() and time.time() < deadline:
        time.sleep(0.2)
    assert job.outputs(), "no first update within 60 s"
    assert "**stopped** · segment" in client.predict(hay_id, api_name="/stop")
    deadline = time.time() + 30
    while not job.done() and time.time() < deadline:
        time.sleep(0.2)
    assert job.done()
    assert "stopped" in job.outputs()[-1][0]
    pid = app_url[1].pid
    before = cpu_seconds(pid)
    time.sleep(2.0)
    assert cpu_seconds(pid) - before < 0.6  # idle again: the loop is not running in the background
    # and the app keeps serving
    hay_id, *_ = generate(client, seed=4)
    assert client.submit(hay_id, api_name="/run").result()


def test_run_takes_a_model_by_name_and_auto_by_default(client) -> None:
    """A script can compare both served checkpoints on one haystack; left out, the model is auto."""
    hay_id, _, summary, _ = generate(client, task="reasoning", tokens="920", seed=4)
    assert summary["model"] == "rmt-minilm-reasoning"
    auto = client.submit(hay_id, api_name="/run").result()
    named = client.submit(hay_id, "rmt-minilm-babi", api_name="/run").result()
    assert "· rmt-minilm-reasoning ·" in auto[0] and "`rmt-minilm-reasoning`" in auto[5]
    assert "· rmt-minilm-babi ·" in named[0] and "`rmt-minilm-babi`" in named[5]


def test_inspect_and_flops(client) -> None:
    hay_id, _, summary, _ = generate(client, task="detect", tokens="1000", seed=5)
    client.submit(hay_id, api_name="/run").result()
    figure = client.predict(hay_id, summary["facts"][0]["segment"], "3", "mean", api_name="/inspect")
    assert figure["type"] == "plotly" and "MEM0" in figure["plot"]
    table, _ = client.predict(2_048_000, api_name="/flops")
    assert table["opt-175b"]["ratio"] > 20 and table["minilm-l6"]["rmt_flops"] > 0
