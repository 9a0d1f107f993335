"""Plotly figures for the explorer. Plain data in, a Figure out; no model, no Gradio.

Payloads stay small whatever the run length: arrays are float32 and large maps are pooled to at
most ``MAX_MAP`` cells a side, so a 2M-token run ships the same few hundred KB as a short one.
"""

from __future__ import annotations

import html
import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative

from rmt.formatting import percent

MAX_MAP = 256
FONT = {"size": 15}
FACT_COLOUR = "rgba(255, 170, 0, 0.35)"
QUESTION_COLOUR = "rgba(0, 150, 255, 0.25)"
ROOM_MENTION_COLOUR = "#6b6b6b"
MAX_ROOM_MARKS = 500  # ▼ marks on the answer plot; a pasted text may name a room in every sentence


TITLE_LINE = 36  # characters of a 17-px title that fit across a phone-wide (360 px) plot


def wrap_title(title: str, width: int = TITLE_LINE) -> str:
    """The title in lines of at most ``width`` characters, broken at spaces (``<br>`` for Plotly).

    Plotly never wraps a title: on a phone a long one runs off the plot's edge and is cut.
    """
    lines: list[str] = []
    for word in title.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= width:
            lines[-1] += " " + word
        else:
            lines.append(word)
    return "<br>".join(lines)


# Legends and colour bars sit under the whole figure, not at a fraction of the plot's height: on a
# phone a legend wraps to several rows, and placed relative to the plot it covered the x-axis title
# and squeezed the plot to a strip shorter than its own y-axis title; a side colour bar took a third
# of a phone-wide plot.
BELOW_FIGURE = {"orientation": "h", "yref": "container", "y": 0, "yanchor": "bottom"}


def base_layout(fig: go.Figure, title: str, height: int = 380, bottom: int = 50) -> go.Figure:
    """Title, font, size and legend shared by every figure; ``bottom`` is the margin under the plot,
    which a figure with rotated ticks or a colour bar below needs more of."""
    wrapped = wrap_title(title)
    fig.update_layout(
        title={"text": wrapped, "x": 0.01, "font": {"size": 17}},
        font=FONT,
        height=height,
        template="plotly_white",
        margin={"l": 60, "r": 20, "t": 30 + 22 * (wrapped.count("<br>") + 1), "b": bottom},
        legend=BELOW_FIGURE | {"itemwidth": 30, "font": {"size": 12}},
    )
    return fig


def colorbar_below(**extra) -> dict:
    """A horizontal colour bar under the figure (see BELOW_FIGURE).

    No title: beside a horizontal bar it took half the bar's length on a phone, above it it sat on
    the bar. The figure's title says what the colour is.
    """
    return BELOW_FIGURE | {"thickness": 12, "len": 0.8} | extra


def whole_segment_ticks(axis: dict, last_segment: int) -> dict:
    """Segments are counted, so a short run gets one tick per segment rather than Plotly's 0.5, 1.5."""
    if last_segment <= 12:
        return axis | {"tickmode": "linear", "tick0": 1, "dtick": 1}
    return axis | {"tickformat": ",d"}


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut at a space with an ellipsis: hover boxes do not wrap."""
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + "…"


def pool_indices(n: int, limit: int = MAX_MAP) -> np.ndarray:
    """Which of n items to show when at most ``limit`` fit: evenly spaced, first and last kept."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, limit).round().astype(int))


def answer_figure(
    segments: Sequence[int],
    probabilities: Sequence[Sequence[float]],
    class_names: Sequence[str],
    fact_segments: Sequence[int] = (),
    total_segments: int | None = None,
    truth: str | None = None,
    rooms_named: Sequence[tuple[int, str, str]] = (),
) -> go.Figure:
    """Probability of each answer after each segment: the answer forming as facts are read.

    ``rooms_named`` are (segment, room, sentence) for the text's sentences that name a room without
    being a fact, drawn as ▼ above the plot: where a curve jumps to a wrong room, the marker shows
    what the memory read there.
    """
    fig = go.Figure()
    probs = np.asarray(probabilities, dtype=np.float32).reshape(len(segments), len(class_names))
    keep = pool_indices(len(segments), 2000)
    x = np.asarray(segments, dtype=np.int32)[keep] + 1
    for c, name in enumerate(class_names):
        width = 4 if name == truth else 2
        fig.add_trace(
            go.Scatter(
                x=x,
                y=probs[keep, c],
                mode="lines",
                name=name,
                line={"width": width},
            )
        )
    for s in fact_segments:
        fig.add_vrect(
            x0=s + 0.5,
            x1=s + 1.5,
            fillcolor=FACT_COLOUR,
            line_width=0,
            annotation_text="fact",
            annotation_position="top left",
        )
    if rooms_named:
        shown = [rooms_named[i] for i in pool_indices(len(rooms_named), MAX_ROOM_MARKS)]
        fig.add_trace(
            go.Scatter(
                x=[segment + 1 for segment, _, _ in shown],
                y=[1.07] * len(shown),
                mode="markers",
                marker={"symbol": "triangle-down", "size": 10, "color": ROOM_MENTION_COLOUR},
                name="room in the text",
                # a pasted text can hold markup: Plotly reads a few tags in hover text, so escape it
                customdata=[[room, html.escape(shorten(sentence, 90), quote=False)] for _, room, sentence in shown],
                hovertemplate="segment %{x:,d}: the text names the <b>%{customdata[0]}</b><br>"
                "“%{customdata[1]}”<extra></extra>",
            )
        )
    last = total_segments or (int(x[-1]) if len(x) else 1)
    fig.update_xaxes(whole_segment_ticks({"title": "segment", "range": [0.5, last + 0.5]}, last))
    fig.update_yaxes(title="P(answer)", range=[0, 1.12 if rooms_named else 1.02], tickvals=[0, 0.2, 0.4, 0.6, 0.8, 1])
    # The truth goes in the title, not in a legend entry: the widest entry sets every column's width,
    # and "bathroom (truth)" left room for one entry a row on a phone.
    title = "The answer forming per segment" + (f" (truth: {truth})" if truth else "")
    fig = base_layout(fig, title)
    fig.update_layout(legend_entrywidth=62)  # fits "bathroom": two rooms a row on a phone, one row on a desktop
    return fig


def memory_distance_figure(
    snapshot_segments: Sequence[int],
    memories: np.ndarray,
    fact_segments: Sequence[int] = (),
    question_segment: int | None = None,
) -> go.Figure:
    """Pairwise distance between memory states: blocks of 'retain', broken where facts are written.

    ``memories`` is [S, M*H] (one flattened state per snapshot); distances are cosine distances.
    """
    mem = np.asarray(memories, dtype=np.float32)
    keep = pool_indices(len(mem))
    mem = mem[keep]
    seg = np.asarray(snapshot_segments)[keep] + 1
    unit = mem / np.maximum(np.linalg.norm(mem, axis=1, keepdims=True), 1e-6)
    distance = np.clip(1.0 - unit @ unit.T, 0.0, 2.0).astype(np.float32)
    fig = go.Figure(
        go.Heatmap(
            z=distance,
            x=seg,
            y=seg,
            colorscale="Viridis",
            colorbar=colorbar_below(),
            hovertemplate="memory after segment %{x} vs %{y}: %{z:.3f}<extra></extra>",
        )
    )
    for s in fact_segments:
        fig.add_vline(x=s + 1, line={"color": "orange", "width": 2, "dash": "dot"})
        fig.add_hline(y=s + 1, line={"color": "orange", "width": 2, "dash": "dot"})
    if question_segment is not None:
        fig.add_vline(x=question_segment + 1, line={"color": "deepskyblue", "width": 2, "dash": "dot"})
    marked = [*fact_segments, *([] if question_segment is None else [question_segment])]
    last = max([int(seg[-1]) if len(seg) else 1, *(m + 1 for m in marked)])
    fig.update_xaxes(whole_segment_ticks({"title": "memory after segment"}, last))
    fig.update_yaxes(whole_segment_ticks({"title": "memory after segment", "autorange": "reversed"}, last))
    # bottom: the x-axis title, then the colour bar
    return base_layout(fig, "Memory over time: cosine distance between states (orange: facts)", height=480, bottom=120)


def memory_change_figure(
    segments: Sequence[int], change: Sequence[float], fact_segments: Sequence[int] = ()
) -> go.Figure:
    """How much each segment rewrites the memory: spikes where a fact is written."""
    keep = pool_indices(len(segments), 4000)
    x = np.asarray(segments, dtype=np.int32)[keep] + 1
    y = np.asarray(change, dtype=np.float32)[keep]
    fig = go.Figure(
        go.Scatter(
            x=x,
            y=y,
            mode="lines",
            name="memory change",
            line={"width": 2},
            hovertemplate="segment %{x}: ‖Δ memory‖ / ‖memory‖ = %{y:.3f}<extra></extra>",
        )
    )
    for s in fact_segments:
        fig.add_vrect(x0=s + 0.5, x1=s + 1.5, fillcolor=FACT_COLOUR, line_width=0)
    last = max([int(x[-1]) if len(x) else 1, *(s + 1 for s in fact_segments)])  # the bands widen the axis too
    fig.update_xaxes(whole_segment_ticks({"title": "segment"}, last))
    fig.update_yaxes(title="relative change")  # the formula, longer than the 300-px plot is tall, is in the hover
    return base_layout(fig, "Memory update per segment", height=300)


def attention_figure(
    attention: np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    highlight_cols: Sequence[int] = (),
    title: str = "Attention",
) -> go.Figure:
    """Rows (memory, [CLS], question tokens) attending over the segment's tokens."""
    att = np.asarray(attention, dtype=np.float32)
    cols = pool_indices(att.shape[1], 1024)
    att = att[:, cols]
    # Token labels as categories: Plotly then shows as many as fit (a dozen on a phone, ~40 on a
    # desktop), where a fixed list of ticks piled up unreadably on a narrow plot. Categories must be
    # unique, so repeated labels get their column number.
    x = [col_labels[c] for c in cols]
    if len(set(x)) < len(x):
        x = [f"{c}:{col_labels[c]}" for c in cols]
    hover = [[f"{row_labels[r]} → {col_labels[c]}" for c in cols] for r in range(att.shape[0])]
    fig = go.Figure(
        go.Heatmap(
            z=att,
            x=x,
            y=list(range(att.shape[0])),
            colorscale="Magma",
            text=hover,
            hovertemplate="%{text}: %{z:.3f}<extra></extra>",
            colorbar=colorbar_below(),
        )
    )
    position = {int(c): i for i, c in enumerate(cols)}
    for first, last in contiguous_runs(sorted(position[c] for c in highlight_cols if c in position)):
        fig.add_shape(
            type="rect",
            x0=first - 0.5,
            x1=last + 0.5,
            y0=-0.5,
            y1=att.shape[0] - 0.5,
            line={"color": "orange", "width": 3},
            fillcolor="rgba(0,0,0,0)",
            layer="above",
        )
    fig.update_yaxes(
        tickmode="array", tickvals=list(range(len(row_labels))), ticktext=list(row_labels), autorange="reversed"
    )
    fig.update_xaxes(type="category", tickangle=-60, title="segment tokens (orange: fact)")
    # bottom: rotated token labels, the axis title, then the colour bar
    return base_layout(fig, title, height=max(420, 24 * len(row_labels) + 220), bottom=150)


def contiguous_runs(values: Sequence[int]) -> list[tuple[int, int]]:
    """[3, 4, 5, 9] -> [(3, 5), (9, 9)]: one outline per fact instead of one per token."""
    runs: list[tuple[int, int]] = []
    for v in values:
        if runs and v == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], v)
        else:
            runs.append((v, v))
    return runs


def flops_figure(
    curves: dict[str, tuple[Sequence[int], Sequence[float], Sequence[float]]],
    marker_tokens: int | None = None,
    marker_text: str = "",
) -> go.Figure:
    """Full attention vs RMT forward FLOPs over input length, log-log, per model shape."""
    fig = go.Figure()
    for i, (name, (tokens, full, rmt)) in enumerate(curves.items()):
        colour = f"hsl({(i * 67) % 360}, 65%, 45%)"
        fig.add_trace(
            go.Scatter(x=tokens, y=full, name=f"{name}: full attention", line={"color": colour, "dash": "dash"})
        )
        fig.add_trace(go.Scatter(x=tokens, y=rmt, name=f"{name}: RMT", line={"color": colour}))
    if marker_tokens:
        lengths = [t for tokens, _, _ in curves.values() for t in tokens] or [marker_tokens]
        fig.add_vline(x=marker_tokens, line={"color": "black", "dash": "dot"})
        # On a log axis Plotly places annotations in log10 units (shapes in data units): the token
        # count itself put the label at 10^tokens, off the chart or (a 250-token run) stretching the
        # axis to 10^250 and squashing every curve.
        fig.add_annotation(
            x=math.log10(marker_tokens),
            xref="x",
            y=1,
            yref="y domain",
            text=marker_text,
            showarrow=False,
            xanchor="right" if marker_tokens > math.sqrt(min(lengths) * max(lengths)) else "left",  # stay inside
            yanchor="top",
        )
    fig.update_xaxes(type="log", title="input tokens")
    fig.update_yaxes(type="log", title="forward FLOPs", exponentformat="power")  # not 1B, 1T, then 10^15
    # Eight legend entries take eight rows on a phone: the extra height keeps the curves readable there.
    return base_layout(fig, "Compute: full attention vs RMT", height=520)


RUN_COLOR, BENCH_COLOR, FULL_COLOR = "#636efa", "#00a087", "#ef553b"  # a run and the benchmark keep their colours


MACHINE_SYMBOLS = ("circle", "diamond", "square", "triangle-up", "x")  # one marker per benchmarked machine


def timed_beside(full_name: str, names: Iterable[str]) -> str | None:
    """The RMT series timed on the machine that full-attention series ``full_name`` names, if one was.

    ``rmt.bench.benchmark_series`` calls them "full attention (where)" and "RMT (where)" or, naming how RMT read
    its segments, "RMT (where, reading)": the pair the chart labels with both times at one length.
    """
    where = full_name.removeprefix("full attention (").removesuffix(")")
    return next((n for n in names if n == f"RMT ({where})" or n.startswith(f"RMT ({where}, ")), None)


def time_figure(
    tokens: Sequence[int],
    seconds: Sequence[float],
    benchmarks: dict[str, tuple[Sequence[int], Sequence[float]]] | None = None,
) -> go.Figure:
    """Measured wall time against tokens read: this run's, and ``rmt.bench``'s RMT and full-attention rows.

    Against the benchmark the axes are log-log, where RMT's time is a line of slope 1 and full
    attention's bends up to slope 2: the FLOP chart's story, timed. Without one (or before any
    run) it is the plain linear plot, with a straight line to show the run's time grows linearly.
    """
    fig = go.Figure()
    keep = pool_indices(len(tokens), 2000)
    x = np.asarray(tokens, dtype=np.int64)[keep]
    y = np.asarray(seconds, dtype=np.float32)[keep]
    if len(x):
        fig.add_trace(
            go.Scatter(x=x, y=y, mode="lines+markers", marker={"size": 3}, name="this run", line={"color": RUN_COLOR})
        )
    # full attention -> the RMT series timed on its machine (None if none was); each machine's pair shares a marker
    pairs = {name: timed_beside(name, benchmarks) for name in benchmarks or {} if name.startswith("full attention")}
    machine = {name: i for i, pair in enumerate(pairs.items()) for name in pair if name is not None}
    for name, (bench_tokens, bench_seconds) in (benchmarks or {}).items():
        full = name.startswith("full attention")
        symbol = MACHINE_SYMBOLS[machine.get(name, 0) % len(MACHINE_SYMBOLS)]  # the colours say RMT or full
        fig.add_trace(
            go.Scatter(
                x=list(bench_tokens),
                y=list(bench_seconds),
                mode="lines+markers",
                name=name,
                marker={"symbol": symbol, "size": 7},
                line={"dash": "dash" if full else "solid", "width": 1.5, "color": FULL_COLOR if full else BENCH_COLOR},
                hovertemplate="%{x:,d} tokens: %{y:.3g} s<extra>" + html.escape(name) + "</extra>",
            )
        )
    labels = []  # (length, full attention's time, RMT's time) per machine: the longest length both were timed at
    for name, rmt_name in pairs.items():
        if rmt_name is None:
            continue
        rmt_time = dict(zip(*benchmarks[rmt_name], strict=True))
        if shared := [(t, s) for t, s in zip(*benchmarks[name], strict=True) if t in rmt_time]:
            length, full_time = max(shared)
            labels.append((length, full_time, rmt_time[length]))
    labels.sort(key=lambda label: label[1])
    for rank, (length, full_time, rmt_time) in enumerate(labels):
        # one machine: beside its point; more: the slowest's above its point, the others' below, none covering another
        side = 0 if len(labels) == 1 else (-1 if rank == len(labels) - 1 else 1)
        fig.add_annotation(
            x=math.log10(length),  # log axis: annotations sit in log10 units
            y=math.log10(full_time),
            text=f"{length:,} tokens: full attention {full_time:,.3g} s<br>RMT {rmt_time:,.3g} s",
            showarrow=True,
            arrowhead=0,
            ax=-24,
            ay=8 if side == 0 else 14 * side,
            xanchor="right",
            yanchor={0: "middle", -1: "bottom", 1: "top"}[side],
            align="right",
            bgcolor="rgba(255,255,255,0.85)",  # legible where the dashed line runs behind it
            font={"size": 11},
        )
    if benchmarks:
        fig.update_xaxes(type="log", title="tokens read")
        fig.update_yaxes(type="log", title="seconds")
        title = "Measured time: your run and the benchmark" if len(x) else "Measured time: RMT vs full attention"
        return base_layout(fig, title, height=380)
    if len(x) > 1 and x[-1] > 0:
        fig.add_trace(
            go.Scatter(
                x=[0, x[-1]],
                y=[0, float(y[-1])],
                mode="lines",
                name="straight line",
                line={"dash": "dot", "color": "grey"},
            )
        )
    fig.update_xaxes(title="tokens read")
    fig.update_yaxes(title="seconds")
    return base_layout(fig, "Measured time of this run", height=320)


def accuracy_point_hover(point: dict) -> str:
    """One measured point as its count, interval and hardware: at 32 haystacks, 100% is not 99%."""
    low, high = point["ci95"]
    return (
        f"{point['tokens']:,} tokens ({point['segments']:,} segments)<br>"
        f"{point['correct']} of {point['samples']} right ({point['accuracy']:.1%}; "
        f"95% CI {low:.1%} to {high:.1%})<br>{html.escape(point.get('device', ''))}"
        + (f"<br>{html.escape(point['note'])}" if point.get("note") else "")
    )


def accuracy_trace(name: str, points: Sequence[dict], **style) -> go.Scatter:
    """Measured points with their 95% intervals as error bars and their counts on hover."""
    accuracy = np.asarray([p["accuracy"] for p in points], dtype=np.float64)
    low, high = (np.asarray([p["ci95"][i] for p in points], dtype=np.float64) for i in (0, 1))
    return go.Scatter(
        x=[p["tokens"] for p in points],
        y=accuracy,
        name=name,
        error_y={
            "type": "data",
            "symmetric": False,
            "array": np.maximum(high - accuracy, 0),
            "arrayminus": np.maximum(accuracy - low, 0),
            "thickness": 1,
            "width": 3,
        },
        customdata=[accuracy_point_hover(p) for p in points],
        hovertemplate="%{customdata}<extra>" + html.escape(name) + "</extra>",
        **style,
    )


MODEL_DASHES = ("solid", "dot", "dashdot", "longdashdot")  # accuracy lines: one per checkpoint, "dash" is no memory


def accuracy_figure(
    series: dict[str, Sequence[dict]],
    chance: float | None = None,
    older: dict[str, Sequence[dict]] | None = None,
    without_rooms: dict[str, Sequence[dict]] | None = None,
) -> go.Figure:
    """Accuracy against input length, one line per model and task, from the eval tables' points.

    Series are named "model: task". A task keeps its colour across models and a model its line
    style (the first solid, "no memory" dashed), so two checkpoints on one task read side by side.
    ``older`` points were measured otherwise than the checkpoint is now read (an earlier version of the
    noise book, or plain segments where it now reads with an overlap), each saying how in its ``note``
    (shown on hover): drawn as open markers off the lines, so they are shown but never read as current.
    ``without_rooms`` points read the same book without its room-naming sentences (``no_rooms.json``):
    stars in their task's colour, off the lines, since it is not the book the lines read.
    """
    fig = go.Figure()
    older, without_rooms = older or {}, without_rooms or {}
    names = list(dict.fromkeys([*series, *older, *without_rooms]))
    tasks = list(dict.fromkeys(name.rpartition(": ")[2] for name in names))
    palette = qualitative.Plotly
    color = {name: palette[tasks.index(name.rpartition(": ")[2]) % len(palette)] for name in names}
    models = list(dict.fromkeys(name.rpartition(": ")[0] for name in series if "no memory" not in name))
    for name, points in series.items():
        model = name.rpartition(": ")[0]
        dash = "dash" if "no memory" in name else MODEL_DASHES[models.index(model) % len(MODEL_DASHES)]
        fig.add_trace(accuracy_trace(name, points, mode="lines+markers", line={"dash": dash, "color": color[name]}))
    for name, points in older.items():
        marker = {"symbol": "circle-open", "size": 10, "color": color[name]}  # same colour as its line
        fig.add_trace(accuracy_trace(f"{name} (measured otherwise)", points, mode="markers", marker=marker))
    for name, points in without_rooms.items():
        marker = {"symbol": "star", "size": 13, "color": color[name], "line": {"width": 1, "color": "white"}}
        fig.add_trace(accuracy_trace(f"{name}, book without its room sentences", points, mode="markers", marker=marker))
    if chance is not None:
        fig.add_hline(y=chance, line={"color": "grey", "dash": "dot"}, annotation_text="chance")
    fig.update_xaxes(type="log", title="input tokens")
    fig.update_yaxes(title="accuracy (held-out book)", range=[0, 1.05])
    # the legend sits under the plot and takes its room from the figure's height: with both checkpoints,
    # the baseline, open circles and stars it is 17 entries, and a fixed 440 px left the plot 100 px tall
    return base_layout(fig, "Accuracy against length", height=accuracy_height(len(fig.data)))


def accuracy_height(entries: int) -> int:
    """Figure height (px) for a legend of ``entries``: the legend takes two columns on a wide page and one on a
    phone, so this gives each entry 16 px, between the two. With 17 entries the plot is 312 px tall on a
    1,400 px wide page and 167 px on a 420 px phone (Chromium); at the fixed 440 px it had before, about 100 px
    on a wide page (by screenshot)."""
    return 380 + 16 * entries


def needle_grid(cells: dict[str, dict[str, float]]) -> tuple[list[str], list[str], list[list[float | None]]]:
    """(segments, depths, table[depth][segment]) of one needle map, sorted numerically, None where not measured.

    The app's heatmap and the model card's table both lay the map out this way.
    """
    segments = sorted(cells, key=int)
    depths = sorted({d for row in cells.values() for d in row}, key=float)
    return segments, depths, [[cells[s].get(d) for s in segments] for d in depths]


def needle_columns(table: dict) -> list[int]:
    """The segments each column of a needle map (``rmt.evaluate --depths`` JSON) read, in column order.

    With an overlap or with boundaries at sentence ends a length takes more segments than the ``--segments N``
    its column was asked for; the points say how many (``segments``, or the mean ``segments_read`` over a
    snapped point's haystacks, averaged over depths). Where the points do not cover every column: N.
    """
    segments, _, _ = needle_grid(table["needle"])
    by_tokens: dict[int, list[float]] = {}
    for p in table.get("points", []):
        by_tokens.setdefault(p["tokens"], []).append(p.get("segments_read", p["segments"]))
    if len(by_tokens) != len(segments):
        return [int(s) for s in segments]
    return [round(sum(read) / len(read)) for _, read in sorted(by_tokens.items())]


def needle_figure(
    maps: dict[str, dict[str, dict[str, float]]],
    text_per_segment: int,
    task: str | None = None,
    columns: Mapping[str, list[int]] | None = None,
    notes: Mapping[str, str | None] | None = None,
) -> go.Figure:
    """Accuracy at every (length, fact depth) cell, one panel per model, side by side.

    ``maps`` is ``{model: {segments: {depth: accuracy}}}`` as ``rmt.evaluate --depths`` writes it.
    Side by side because the contrast is the point: without memory only the bottom row (fact in
    the last window) is lit; with memory the whole map should be. Short panel names (the task
    goes in the title) and a colour bar underneath leave each panel room on a phone. A map's lengths are
    the ``--segments N`` it was asked for, N x ``text_per_segment`` tokens; ``columns`` gives each panel's
    segments read per column (``needle_columns``), so its ticks count what it read (N where not given).
    ``notes`` says on hover how a map was read where that is not how its checkpoint is read now.
    """
    from plotly.subplots import make_subplots

    names = list(maps)
    fig = make_subplots(rows=1, cols=max(1, len(names)), subplot_titles=names, shared_yaxes=True)
    for col, name in enumerate(names, start=1):
        segments, depths, table = needle_grid(maps[name])  # table: [depths, lengths]
        z = np.array([[np.nan if v is None else v for v in row] for row in table], dtype=np.float32)
        labels = [["" if v is None else percent(v) for v in row] for row in table]  # from the exact values, as the card
        lengths = [int(s) * text_per_segment for s in segments]  # tokens of each column
        read = (columns or {}).get(name) or [int(s) for s in segments]
        x = [f"{n:,} seg" for n in read]
        y = [f"{float(d):.0%}" for d in depths]
        note = f"<br>{note}" if (note := (notes or {}).get(name)) else ""
        hover = [
            [
                f"{n:,} segments ({tokens:,} tokens), fact at {float(d):.0%}{note}"
                for n, tokens in zip(read, lengths, strict=True)
            ]
            for d in depths
        ]
        fig.add_trace(
            go.Heatmap(
                z=z,
                x=x,
                y=y,
                zmin=0,
                zmax=1,
                colorscale="Viridis",
                showscale=col == len(names),
                colorbar=colorbar_below(tickformat=".0%"),  # accuracy, in percent: no title needed
                text=labels,
                texttemplate="%{text}",
                customdata=hover,
                hovertemplate="%{customdata}<br>accuracy %{z:.1%}<extra></extra>",
            ),
            row=1,
            col=col,
        )
        fig.update_xaxes(type="category", row=1, col=col)  # the ticks say "16 seg": no axis title to collide
    fig.update_yaxes(title="fact depth (0% = start)", type="category", autorange="reversed", row=1, col=1)
    title = "Needle map: fact depth vs length" + (f" ({task})" if task else "")
    return base_layout(fig, title, height=480, bottom=110)  # rotated length ticks on a phone, then the colour bar


def layout_figure(num_mem_tokens: int, segment_size: int) -> go.Figure:
    """The segment layout as coloured blocks: [CLS] [MEM]xM [SEP] text [SEP]."""
    text = segment_size - num_mem_tokens - 3
    blocks = [
        ("[CLS]", 1, "#888"),
        (f"memory x{num_mem_tokens}", num_mem_tokens, "#e69500"),
        ("[SEP]", 1, "#888"),
        (f"text x{text}", text, "#4a90d9"),
        ("[SEP]", 1, "#888"),
    ]
    fig = go.Figure()
    start = 0
    for label, width, colour in blocks:
        shown = max(width, segment_size * 0.06)  # keep the small blocks readable
        fig.add_trace(
            go.Bar(
                x=[shown],
                y=["segment"],
                base=start,
                orientation="h",
                marker_color=colour,
                text=label,
                textposition="inside",
                hoverinfo="text",
                hovertext=f"{label}: {width} positions",
                showlegend=False,
            )
        )
        start += shown
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False)
    fig.update_layout(barmode="stack")
    return base_layout(fig, "One segment: memory is read at the start, written at the same positions", height=180)
