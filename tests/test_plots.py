"""Figure builders: right shapes, fact marks where the facts are, bounded payloads."""

from __future__ import annotations

import numpy as np
import pytest

from rmt import plots


def test_answer_figure_has_a_line_per_class_and_marks_fact_segments() -> None:
    probs = np.full((50, 6), 1 / 6)
    fig = plots.answer_figure(list(range(50)), probs, ["a", "b", "c", "d", "e", "f"], fact_segments=[7, 30], truth="c")
    assert len(fig.data) == 6
    assert [t.name for t in fig.data] == ["a", "b", "c", "d", "e", "f"]
    assert fig.data[2].line.width > fig.data[0].line.width  # the truth's line stands out
    assert "truth: c" in fig.layout.title.text
    rects = [s for s in fig.layout.shapes if s.type == "rect"]
    assert sorted((r.x0, r.x1) for r in rects) == [(7.5, 8.5), (30.5, 31.5)]  # segments 8 and 31, 1-based


def test_answer_figure_marks_rooms_named_in_the_text_above_the_curves() -> None:
    probs = np.full((50, 6), 1 / 6)
    named = [(11, "office", "By some writers this office is called a <b>sinecure</b>."), (40, "garden", "x " * 80)]
    fig = plots.answer_figure(list(range(50)), probs, list("abcdef"), rooms_named=named)
    (marks,) = [t for t in fig.data if t.name == "room in the text"]
    assert list(marks.x) == [12, 41]  # 1-based segments, as on the axis
    assert min(marks.y) > 1 and fig.layout.yaxis.range[1] > max(marks.y)  # above P = 1, inside the plot
    assert [row[0] for row in marks.customdata] == ["office", "garden"]
    assert "&lt;b&gt;sinecure" in marks.customdata[0][1]  # the text's own markup is shown, not applied
    assert len(marks.customdata[1][1]) <= 91 and marks.customdata[1][1].endswith("…")
    plain = plots.answer_figure(list(range(50)), probs, list("abcdef"))
    assert len(plain.data) == 6 and plain.layout.yaxis.range[1] < 1.05
    many = [(s, "office", "s") for s in range(5000)]
    fig = plots.answer_figure(list(range(5000)), np.full((5000, 6), 1 / 6), list("abcdef"), rooms_named=many)
    assert len(fig.data[-1].x) <= 500


def test_memory_distance_map_is_pooled_and_float32() -> None:
    rng = np.random.default_rng(0)
    memories = rng.normal(size=(1000, 64)).astype(np.float32)
    fig = plots.memory_distance_figure(list(range(1000)), memories, fact_segments=[10])
    z = np.asarray(fig.data[0].z)
    assert z.shape == (plots.MAX_MAP, plots.MAX_MAP)
    assert z.dtype == np.float32
    assert np.allclose(np.diag(z), 0, atol=1e-5)
    assert len(fig.to_json()) < 2_000_000


def test_memory_distance_separates_states_before_and_after_a_fact() -> None:
    before, after = np.ones((5, 8)), -np.ones((5, 8))
    fig = plots.memory_distance_figure(list(range(10)), np.concatenate([before, after]))
    z = np.asarray(fig.data[0].z)
    assert z[0, 1] < 1e-5 and z[0, 9] > 1.9


def test_attention_figure_rows_columns_and_fact_highlight() -> None:
    att = np.random.default_rng(0).random((11, 128)).astype(np.float32)
    rows = ["CLS"] + [f"MEM{i}" for i in range(10)]
    cols = [f"t{i}" for i in range(128)]
    fig = plots.attention_figure(att, rows, cols, highlight_cols=[40, 41])
    assert np.asarray(fig.data[0].z).shape == (11, 128)
    assert [(s.x0, s.x1) for s in fig.layout.shapes] == [(39.5, 41.5)]  # one outline around the fact
    assert list(fig.layout.yaxis.ticktext) == rows


def test_attention_columns_are_pooled_for_huge_segments() -> None:
    att = np.zeros((3, 5000), dtype=np.float32)
    fig = plots.attention_figure(att, ["a", "b", "c"], [str(i) for i in range(5000)])
    assert np.asarray(fig.data[0].z).shape[1] <= 1024


def test_flops_figure_is_log_log_with_marker() -> None:
    fig = plots.flops_figure(
        {"m": ([128, 4_000_000], [1e9, 1e18], [1e9, 1e13])}, marker_tokens=2_048_000, marker_text="here"
    )
    assert fig.layout.xaxis.type == "log" and fig.layout.yaxis.type == "log"
    assert len(fig.data) == 2 and fig.layout.shapes[0].x0 == 2_048_000  # shapes: data units
    (label,) = fig.layout.annotations
    assert label.text == "here" and label.x == pytest.approx(6.3113, abs=1e-3)  # annotations: log10 units
    assert label.xanchor == "right"  # late on the axis: the label runs left of the line
    early = plots.flops_figure({"m": ([128, 4_000_000], [1e9, 1e18], [1e9, 1e13])}, 250, "here")
    assert early.layout.annotations[0].xanchor == "left"  # early: it runs right, not off the chart


def test_segment_axes_tick_whole_segments() -> None:
    short = [
        plots.answer_figure([0, 1, 2], np.full((3, 6), 1 / 6), list("abcdef"), [0], 3, "a").layout.xaxis,
        plots.memory_change_figure([0, 1, 2], [1.0, 0.1, 0.1], [0]).layout.xaxis,
        plots.memory_distance_figure([0, 1], np.eye(2, 8), [0], question_segment=2).layout.yaxis,
    ]
    assert all(axis.dtick == 1 and axis.tick0 == 1 for axis in short)  # 1, 2, 3: no 0.5 or 1.5 segment
    long = plots.memory_change_figure(list(range(500)), list(np.ones(500))).layout.xaxis
    assert long.dtick is None and long.tickformat == ",d"
    # a run stopped after 3 segments of a 2M-token haystack whose fact lies at segment 9,000: one tick
    # per segment over the 9,000 the fact's band spans froze the browser
    stopped = plots.memory_change_figure([0, 1, 2], [1.0, 0.1, 0.1], [9000]).layout.xaxis
    assert stopped.dtick is None and stopped.tickformat == ",d"


def test_time_and_change_figures_bounded() -> None:
    n = 20_000
    fig = plots.time_figure(list(range(0, n * 115, 115)), list(np.linspace(0, 60, n)))
    assert len(fig.data[0].x) <= 2000
    fig = plots.memory_change_figure(list(range(n)), list(np.ones(n)))
    assert len(fig.data[0].x) <= 4000


def test_time_figure_beside_the_benchmark_is_log_log() -> None:
    bench = {"RMT (cpu)": ([4096, 16384], [1.2, 4.8]), "full attention (cpu)": ([4096, 16384], [2.1, 28.2])}
    before = plots.time_figure([], [], bench)  # the Compute tab before any run
    assert [t.name for t in before.data] == list(bench) and before.layout.xaxis.type == "log"
    assert before.data[1].line.dash == "dash" and "RMT vs full attention" in before.layout.title.text
    (note,) = before.layout.annotations  # the longest length both were timed at, in seconds
    assert note.text == "16,384 tokens: full attention 28.2 s<br>RMT 4.8 s" and note.x == np.log10(16384)
    after = plots.time_figure([115, 230, 345], [0.1, 0.2, 0.3], bench)
    assert [t.name for t in after.data] == ["this run", *bench] and after.layout.yaxis.type == "log"
    assert after.data[1].line.color == before.data[0].line.color  # the benchmark's colours do not move with a run
    alone = plots.time_figure([115, 230, 345], [0.1, 0.2, 0.3])  # no benchmark shipped: linear, straight line
    assert [t.name for t in alone.data] == ["this run", "straight line"] and alone.layout.xaxis.type is None


def test_each_machines_full_attention_is_labelled_beside_its_own_rmt_time() -> None:
    """``rmt.bench`` names RMT's line with its reading too: the label still pairs it with full attention."""
    from rmt.bench import benchmark_series

    def result(dtype: str, rmt: float, full: float) -> dict:
        rows = [
            {"impl": "fast", "tokens": 65536, "seconds": rmt},
            {"impl": "full-attention", "tokens": 65536, "seconds": full},
        ]
        return {"hardware": "AMD EPYC, 2 cores", "device": "cpu", "dtype": dtype, "segment_snap": 8, "rows": rows}

    bench = benchmark_series(result("bfloat16", 11.4, 335.0)) | benchmark_series(result("float32", 37.0, 961.0))
    assert "RMT (AMD EPYC, 2 cores, float32, boundaries at sentence ends)" in bench
    notes = sorted(a.text for a in plots.time_figure([], [], bench).layout.annotations)
    assert notes == [
        "65,536 tokens: full attention 335 s<br>RMT 11.4 s",
        "65,536 tokens: full attention 961 s<br>RMT 37 s",
    ]
    symbols = {t.name.split(", ")[2].rstrip(")"): t.marker.symbol for t in plots.time_figure([], [], bench).data}
    assert symbols == {"bfloat16": "circle", "float32": "diamond"}  # each machine's two lines share a marker


def test_needle_figure_one_panel_per_model_cells_in_place() -> None:
    maps = {
        "RMT: detect": {"16": {"0": 0.9, "1": 0.995}, "4": {"0": 1.0, "0.5": 0.95, "1": 1.0}},
        "no memory: detect": {"4": {"0": 0.2, "1": 1.0}},
    }
    fig = plots.needle_figure(maps, text_per_segment=115)
    rmt, baseline = fig.data
    assert list(rmt.x) == ["4 seg", "16 seg"] and list(rmt.y) == ["0%", "50%", "100%"]
    z = np.asarray(rmt.z)
    assert z.shape == (3, 2) and z.dtype == np.float32
    assert z[0, 1] == np.float32(0.9) and np.isnan(z[1, 1])  # 16 segments has no 50% cell
    assert rmt.text[0][1] == "90%" and rmt.text[1][1] == "" and rmt.text[1][0] == "95%"
    assert rmt.text[2][1] == "99.5%" and rmt.text[2][0] == "100%"  # as the app's sentences and the card
    assert "460 tokens" in rmt.customdata[0][0]
    assert list(baseline.y) == ["0%", "100%"] and np.asarray(baseline.z)[0, 0] == np.float32(0.2)
    assert [a.text for a in fig.layout.annotations] == list(maps)
    titled = plots.needle_figure(maps, text_per_segment=115, task="detect")
    assert titled.layout.title.text.endswith("(detect)")
    read = plots.needle_figure(maps, 115, columns={"RMT: detect": [5, 17]}, notes={"RMT: detect": "read otherwise"})
    # "--segments 4" asks for 460 tokens; re-reading 7 tokens a segment, that is 5 segments (115 + 4 x 108 >= 460)
    assert read.data[0].customdata[0][0] == "5 segments (460 tokens), fact at 0%<br>read otherwise"
    assert list(read.data[0].x) == ["5 seg", "17 seg"] and list(read.data[1].x) == ["4 seg"]
    assert "<br>" not in read.data[1].customdata[0][0]
    assert titled.data[-1].colorbar.orientation == "h"  # under the panels: a side bar squeezed them on a phone


def measured(tokens: int, correct: int, samples: int) -> dict:
    return {
        "tokens": tokens,
        "segments": -(-tokens // 115),
        "accuracy": correct / samples,
        "correct": correct,
        "samples": samples,
        "ci95": [max(0.0, correct / samples - 0.1), min(1.0, correct / samples + 0.02)],
        "device": "cuda <bfloat16>",
    }


def test_accuracy_points_from_an_older_book_or_without_room_sentences_are_set_apart() -> None:
    fig = plots.accuracy_figure(
        {"RMT: memorize": [measured(115, 200, 200), measured(117_760, 189, 200)]},
        chance=1 / 6,
        older={"RMT: memorize": [measured(2_000_000, 39, 100) | {"note": "read with plain segments"}]},
        without_rooms={"RMT: memorize": [measured(2_000_000, 32, 32)]},
    )
    current, older, without = fig.data
    assert current.mode == "lines+markers" and list(current.x) == [115, 117_760]
    assert older.mode == "markers" and list(older.x) == [2_000_000]
    assert older.marker.symbol == "circle-open" and "measured otherwise" in older.name
    assert older.customdata[0].endswith("<br>read with plain segments")  # how, on hover
    assert (
        without.mode == "markers" and without.marker.symbol == "star" and "without its room sentences" in without.name
    )
    assert older.marker.color == current.line.color == without.marker.color  # read as the same model and task
    # each point's count and interval on hover, the interval as error bars: 32 of 32 is not 99%
    assert "189 of 200 right (94.5%; 95% CI 84.5% to 96.5%)" in current.customdata[1]
    assert "&lt;bfloat16&gt;" in current.customdata[1] and "32 of 32 right" in without.customdata[0]
    assert np.allclose(current.error_y.arrayminus, [0.1, 0.1]) and np.allclose(without.error_y.array, [0.0])


def test_long_titles_wrap_to_fit_a_phone() -> None:
    title = "One segment: memory is read at the start, written at the same positions"
    wrapped = plots.wrap_title(title)
    lines = wrapped.split("<br>")
    assert len(lines) == 2 and all(len(line) <= plots.TITLE_LINE for line in lines)
    assert " ".join(lines) == title
    assert plots.wrap_title("Accuracy against length") == "Accuracy against length"
    fig = plots.base_layout(plots.go.Figure(), title)
    assert (
        fig.layout.title.text == wrapped
        and fig.layout.margin.t > plots.base_layout(plots.go.Figure(), "x").layout.margin.t
    )


def test_accuracy_lines_keep_a_colour_per_task_and_a_line_style_per_checkpoint() -> None:
    """Two checkpoints on one task read side by side: same colour, solid against dotted; no memory dashed."""
    point = [measured(115, 200, 200)]
    names = ["a: memorize", "a: reasoning", "b: memorize", "b: reasoning", "no memory: memorize"]
    fig = plots.accuracy_figure({name: point for name in names}, without_rooms={"b: reasoning": point})
    lines = {trace.name: trace for trace in fig.data}
    assert lines["a: memorize"].line.color == lines["b: memorize"].line.color == lines["no memory: memorize"].line.color
    assert lines["a: reasoning"].line.color == lines["b: reasoning"].line.color != lines["a: memorize"].line.color
    assert [lines[n].line.dash for n in names] == ["solid", "solid", "dot", "dot", "dash"]
    assert lines["b: reasoning, book without its room sentences"].marker.color == lines["a: reasoning"].line.color


def test_accuracy_figure_grows_with_its_legend_so_the_plot_keeps_its_height() -> None:
    """The legend sits under the plot inside the figure's height: 17 entries (what the app serves) in a fixed
    440 px left the plot about 100 px tall, where 90% and 100% could not be told apart."""
    point = [measured(115, 200, 200)]
    few = plots.accuracy_figure({"a: memorize": point})
    many = plots.accuracy_figure({f"m{i}: memorize": point for i in range(17)})
    assert many.layout.height - few.layout.height >= 16 * (len(many.data) - len(few.data))


def test_needle_columns_count_the_segments_each_length_read() -> None:
    """The ticks and the card's header say what was read: a snapped point's mean over its haystacks and depths,
    an overlapped point's segments; a baseline reading one window keeps the numbers asked for."""
    cells = {"1": {"0": 1.0, "1": 1.0}, "4": {"0": 1.0, "1": 1.0}, "256": {"0": 1.0, "1": 1.0}}
    snapped = [
        {"tokens": 115, "segments": 1, "segments_read": 1.0},
        {"tokens": 460, "segments": 4, "segments_read": 4.58},
        {"tokens": 460, "segments": 4, "segments_read": 4.62},
        {"tokens": 29_440, "segments": 256, "segments_read": 258.3},
        {"tokens": 29_440, "segments": 256, "segments_read": 258.38},
    ]
    assert plots.needle_columns({"needle": cells, "points": snapped}) == [1, 5, 258]
    overlapped = [{"tokens": t, "segments": n} for t, n in ((115, 1), (460, 5), (29_440, 273))]
    assert plots.needle_columns({"needle": cells, "points": overlapped}) == [1, 5, 273]
    assert plots.needle_columns({"needle": cells, "points": overlapped[:2]}) == [1, 4, 256]  # points missing
    assert plots.needle_columns({"needle": cells}) == [1, 4, 256]
