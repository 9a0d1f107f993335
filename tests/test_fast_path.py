"""The fast path agrees with the plain path and keeps nothing per segment."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from rmt import fixed_step
from rmt.bench import PeakMemory, benchmark_series, main
from rmt.inference import classify_equal_length, live_run
from rmt.segments import text_bounds
from tests.conftest import tiny_model


def test_compiled_step_agrees_with_eager(tiny, monkeypatch) -> None:
    """RMT_COMPILE routes full segments through torch.compile: same predictions, same logits."""
    rng = np.random.default_rng(1)
    ids = rng.integers(5, 200, size=(2, 4 * tiny.config.text_per_segment + 3), dtype=np.int32)
    eager = classify_equal_length(tiny, ids)
    monkeypatch.setenv("RMT_COMPILE", "default")
    compiled = classify_equal_length(tiny, ids)
    assert tiny in fixed_step._COMPILED  # the compiled step really ran
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


def test_fast_path_matches_plain_forward(tiny) -> None:
    rng = np.random.default_rng(0)
    ids = rng.integers(5, 200, size=(3, 7 * tiny.config.text_per_segment + 5), dtype=np.int32)
    fast = classify_equal_length(tiny, ids)
    plain = tiny([row.tolist() for row in ids])
    torch.testing.assert_close(fast, plain, atol=1e-5, rtol=1e-4)
    assert fast.argmax(-1).tolist() == plain.argmax(-1).tolist()


def test_live_run_final_answer_matches_forward(tiny) -> None:
    ids = np.arange(10, 10 + 5 * tiny.config.text_per_segment, dtype=np.int32) % 190 + 5
    runs = list(live_run(tiny, ids, [40, 41]))
    run = runs[-1]
    assert len(run.records) == 5 and run.final_probabilities is not None
    expected = tiny([ids.tolist()]).softmax(-1)[0].tolist()
    assert np.allclose(run.final_probabilities, expected, atol=1e-5)


def test_live_run_stops_when_asked(tiny) -> None:
    stop = threading.Event()
    ids = np.full(50 * tiny.config.text_per_segment, 7, dtype=np.int32)
    runs = []
    for run in live_run(tiny, ids, [40], stop=stop):
        runs.append(run)
        if len(runs) == 3:
            stop.set()
    assert runs[-1].stopped and len(runs[-1].records) == 3
    stop.set()  # a Stop that lands before the first segment still ends in one (empty, stopped) run
    (run,) = live_run(tiny, ids, [40], stop=stop)
    assert run.stopped and not run.records


def test_live_run_keeps_a_bounded_number_of_snapshots(tiny) -> None:
    ids = np.full(300 * tiny.config.text_per_segment, 7, dtype=np.int32)
    run = list(live_run(tiny, ids, [40], probe_every=100, max_snapshots=16))[-1]
    assert len(run.snapshots) <= 16 and len(run.records) == 300


@pytest.mark.parametrize("segments", [64])
def test_memory_does_not_grow_with_segments(segments: int) -> None:
    model = tiny_model(segment_size=64)
    n = model.config.text_per_segment
    short = np.full((4, 8 * n), 9, dtype=np.int32)
    long = np.full((4, segments * n), 9, dtype=np.int32)
    classify_equal_length(model, short)  # warm-up allocations
    with PeakMemory(torch.device("cpu")) as a:
        classify_equal_length(model, short)
    with PeakMemory(torch.device("cpu")) as b:
        classify_equal_length(model, long)
    assert b.peak - a.peak < 8 * 2**20  # no per-segment activations kept (MiB noise allowed)


def test_bench_cli_small(tmp_path, capsys) -> None:
    from rmt.checkpoint import save_checkpoint

    folder = save_checkpoint(tiny_model(segment_size=64), tmp_path / "tiny")
    main(
        [
            "--checkpoint",
            str(folder),
            "--max-tokens",
            "8192",
            "--reference-max-tokens",
            "8192",
            "--full-max-tokens",
            "4096",
            "--live-max-tokens",
            "4096",
            "--json",
        ]
    )
    out = json.loads(capsys.readouterr().out)
    assert {"rows", "speedup_vs_reference"} <= out.keys()
    assert {r["impl"] for r in out["rows"]} == {"fast", "paper-style", "live", "full-attention"}
    assert all(r["tokens_per_second"] > 0 and r["peak_bytes"] > 0 for r in out["rows"])
    assert out["command"].startswith("python -m rmt.bench --checkpoint") and out["hardware"].endswith(" cores")
    # what the app's Compute tab draws: one haystack's time, RMT beside full attention
    series = benchmark_series(out)
    where = f"{out['hardware']}, {out['dtype']}"
    reading = f"{out['segment_overlap']}-token overlap" if out["segment_overlap"] else "plain segments"
    assert list(series) == [f"RMT ({where}, {reading})", f"full attention ({where})"]
    assert series[f"RMT ({where}, {reading})"][0] == sorted(r["tokens"] for r in out["rows"] if r["impl"] == "fast")
    for overlap, reading in ((7, "7-token overlap"), (0, "plain segments")):
        assert f"RMT ({where}, {reading})" in benchmark_series(out | {"segment_overlap": overlap})
    assert f"RMT ({where}, boundaries at sentence ends)" in benchmark_series(out | {"segment_snap": 8})
    assert benchmark_series(out | {"batch": 64}) == {}  # 64 haystacks at once is not one run's time


def test_bench_runs_only_the_rows_asked_for(tmp_path, capsys) -> None:
    from rmt.checkpoint import save_checkpoint

    folder = save_checkpoint(tiny_model(segment_size=64), tmp_path / "tiny")
    main(["--checkpoint", str(folder), "--max-tokens", "4096", "--impls", "fast", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert [r["impl"] for r in out["rows"]] == ["fast"] and out["speedup_vs_reference"] == {}
    assert out["fast_peak_ratio_max_vs_4096"] == 1.0 and out["token_id_bytes_at_max"] == 4096 * 4
    with pytest.raises(SystemExit):
        main(["--checkpoint", str(folder), "--impls", "fast,bogus"])


def test_snapped_fast_path_matches_the_forward_pass_row_by_row(tiny) -> None:
    """With ``segment_snap`` each row's boundaries follow its own sentence ends, so rows of one length take
    different segments: the batched path pads and aligns them and must still give each row its own answer."""
    tiny.read_segments(0, 4, [3])
    rng = np.random.default_rng(2)
    ids = rng.integers(5, 200, size=(4, 6 * tiny.config.text_per_segment), dtype=np.int32)
    ids[1:][rng.random(ids[1:].shape) < 0.08] = 3  # sentence ends, a different pattern in each row but the first
    counts = {len(text_bounds(row, tiny.config)) for row in ids}
    fast = classify_equal_length(tiny, ids)
    one_by_one = torch.cat([tiny([row.tolist()]) for row in ids])
    torch.testing.assert_close(fast, one_by_one, atol=1e-5, rtol=1e-4)
    assert len(counts) > 1  # the rows really were laid out apart
    last_two = classify_equal_length(tiny, ids, last_segments=2)
    for row, logits in zip(ids, last_two, strict=True):
        start = text_bounds(row, tiny.config)[-2][0]
        torch.testing.assert_close(logits[None], tiny([row[start:].tolist()]), atol=1e-5, rtol=1e-4)
