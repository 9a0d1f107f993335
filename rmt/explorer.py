"""What the web app does, as plain Python: generate, run, inspect, compare. No Gradio here.

The app keeps one ``Explorer`` (models loaded once) and passes each browser session a haystack
id; haystacks and their runs live server-side in a small LRU, so a 2M-token haystack never
travels to the browser and gr.State never copies megabytes.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import torch

from rmt import plots
from rmt.bench import benchmark_series
from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer, resolve_checkpoint
from rmt.cuts import cut_halves
from rmt.device import hardware_name, inference_dtype, pick_device
from rmt.flops import PRESETS, compare
from rmt.formatting import flops_saving, format_duration, percent, reading, reading_note, reading_of
from rmt.haystack import (
    Haystack,
    build_custom_haystack,
    build_haystack,
)
from rmt.inference import LiveRun, classify_equal_length, inspect_segment, live_run, prepare_for_inference
from rmt.measured_notes import cut_line, direction_note, measured_accuracy, people_note
from rmt.noise import NOISE_SOURCES
from rmt.preview import preview_html
from rmt.segments import Reading, fact_cuts, segment_of, text_bounds
from rmt.served import ServedModel, checkpoint_name, checkpoint_table, nearest_point, point_note, same_layout
from rmt.tasks import (
    ROOMS,
    TASKS,
    check_task,
    relation_direction,
)
from rmt.verdicts import bridge_verdict, cut_verdict, other_fact_verdict, room_mentions_verdict

ROOT = Path(__file__).resolve().parent.parent
BENCH_DIR = ROOT / "assets" / "bench"  # rmt.bench results: the measured time beside the FLOP chart
DEFAULT_CHECKPOINT = ROOT / "checkpoints" / "rmt-minilm-babi"
DEFAULT_BASELINE = ROOT / "checkpoints" / "baseline-no-memory"
# Served beside the default where it exists: far better at Reasoning, a little worse at keeping
# Memorize and Detect facts over 1,024 segments. "auto" lets evaluation pick per haystack.
REASONING_CHECKPOINT = ROOT / "checkpoints" / "rmt-minilm-reasoning"
AUTO = "auto"
FLOP_PRESETS = ("minilm-l6", "bert-base", "opt-125m", "opt-1.3b", "opt-6.7b", "opt-30b", "opt-175b")


CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
log = logging.getLogger(__name__)


def load_benchmarks(folder: Path) -> dict[str, tuple[list[int], list[float]]]:
    """Every ``rmt.bench --json`` result shipped in ``folder``, as time-against-length series."""
    series: dict[str, tuple[list[int], list[float]]] = {}
    for file in sorted(folder.glob("*.json")):
        series |= benchmark_series(json.loads(file.read_text(encoding="utf-8")))
    return series


@dataclass
class Limits:
    """Configurable input limits; the CPU default keeps a run under a few minutes here."""

    max_tokens: int
    max_paste_chars: int

    @classmethod
    def from_env(cls, device: torch.device) -> Limits:
        on_gpu = device.type == "cuda"
        return cls(
            max_tokens=int(os.environ.get("RMT_MAX_TOKENS", 10_000_000 if on_gpu else 2_000_000)),
            max_paste_chars=int(os.environ.get("RMT_MAX_PASTE_CHARS", 20_000_000 if on_gpu else 5_000_000)),
        )


@dataclass
class Entry:
    """One generated haystack and, once run, its LiveRun."""

    haystack: Haystack
    run: LiveRun | None = None
    served: ServedModel | None = None  # the model that made ``run``: Continue and inspection use it
    stop: threading.Event = field(default_factory=threading.Event)
    running: bool = False
    superseded: bool = False  # stopped because the visitor moved on: no verdict is owed
    # A run waits in the queue while another visitor's holds the model; a Stop pressed then must
    # still count when it starts. The page notes when its run was asked for (request_run).
    requested_at: float | None = None
    stop_asked_at: float = -math.inf


@dataclass
class RunView:
    """One update of a live run, ready for the page."""

    status: str
    answer_figure: go.Figure | None
    change_figure: go.Figure | None = None
    memory_figure: go.Figure | None = None
    time_figure: go.Figure | None = None
    verdict: str = ""
    done: bool = False
    segment: int = 0  # the segment to inspect by default (the first fact's)
    num_segments: int = 1
    tokens: int = 0  # tokens of the haystack, for the compute panel's marker


def overlap_from_env() -> int | None:
    """``RMT_SEGMENT_OVERLAP``: read every served checkpoint with this overlap, not its config's reading (unset: the
    config's; set, no boundary is moved to a sentence end either).

    The shipped configs move segment boundaries to sentence ends (``segment_snap``), so no fact is cut;
    ``RMT_SEGMENT_OVERLAP=0`` shows on stage what plain segments do to a fact a boundary cuts in two, and
    ``RMT_SEGMENT_OVERLAP=7`` reads with the overlap the checkpoints shipped with in sessions 39-41.
    """
    value = os.environ.get("RMT_SEGMENT_OVERLAP", "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"RMT_SEGMENT_OVERLAP must be a whole number of tokens, got {value!r}") from None


def extra_checkpoints_from_env() -> list[str]:
    """``RMT_EXTRA_CHECKPOINTS`` (comma-separated; empty serves the default alone), else the
    shipped Reasoning checkpoint where it exists."""
    value = os.environ.get("RMT_EXTRA_CHECKPOINTS")
    if value is not None:
        return [part.strip() for part in value.split(",") if part.strip()]
    return [str(REASONING_CHECKPOINT)] if REASONING_CHECKPOINT.is_dir() else []


class Explorer:
    def __init__(
        self,
        checkpoint: str | None = None,
        baseline: str | None = None,
        device: str = "auto",
        max_entries: int = 64,
        extra_checkpoints: list[str] | None = None,
        segment_overlap: int | None = None,
    ) -> None:
        self.device = pick_device(device)
        self.checkpoint = str(checkpoint or os.environ.get("RMT_CHECKPOINT") or DEFAULT_CHECKPOINT)
        overlap = overlap_from_env() if segment_overlap is None else segment_overlap
        default = ServedModel.load(self.checkpoint, self.device, overlap)
        self.served: dict[str, ServedModel] = {default.name: default}  # the default first: it wins ties
        for path in extra_checkpoints_from_env() if extra_checkpoints is None else extra_checkpoints:
            if checkpoint_name(path) in self.served:
                continue
            extra = ServedModel.load(path, self.device, overlap)
            if same_layout(extra.model, default.model):
                self.served[extra.name] = extra
            else:  # the page draws one segment layout and one set of answers for every model
                log.warning("not serving %s: its segments, memory or classes differ from %s", path, default.name)
        self.model = default.model  # the layout every served model shares (segments, memory, classes)
        self.tokenizer = load_checkpoint_tokenizer(self.checkpoint)
        baseline = baseline or os.environ.get("RMT_BASELINE") or DEFAULT_BASELINE
        self.baseline = (
            prepare_for_inference(load_checkpoint(baseline), self.device) if Path(baseline).exists() else None
        )
        self.baseline_path = str(baseline)
        self.baseline_evals = checkpoint_table(self.baseline_path, "eval.json") or {}
        self.limits = Limits.from_env(self.device)
        self.model_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rmt-model")
        if self.device.type == "cuda":  # capture the CUDA graphs now, not during the first visitors' runs
            warm_up = np.zeros((1, 2 * self.model.config.text_per_segment), dtype=np.int32)
            for served in self.served.values():
                self.on_model_thread(classify_equal_length, served.model, warm_up)
        self.entries: OrderedDict[str, Entry] = OrderedDict()
        self.max_entries = max_entries
        self.max_cached_tokens = 4 * self.limits.max_tokens  # ~9 bytes a token (ids + text): 72 MB on the CPU
        self.lock = threading.Lock()
        self.bounds_kept: OrderedDict[int, tuple[Haystack, list[tuple[int, int]]]] = OrderedDict()  # see bounds
        self.class_names = default.class_names
        self.benchmarks = load_benchmarks(BENCH_DIR)

    # ----- models ----------------------------------------------------------------------------
    def model_choices(self) -> list[tuple[str, str]]:
        """(label, value) pairs for the page: auto first, then every served checkpoint."""
        return [("auto: the best measured for the task and length", AUTO)] + [(name, name) for name in self.served]

    def served_model(self, choice: str | None, hay: Haystack) -> ServedModel:
        """The checkpoint named by ``choice``; "auto" (or nothing) picks by evaluation for this haystack."""
        choice = (choice or AUTO).strip()
        if choice == AUTO:
            return self.auto_model(hay)
        if choice not in self.served:
            raise ValueError(f"unknown model {choice!r}: use {', '.join([AUTO, *self.served])}")
        return self.served[choice]

    def auto_model(self, hay: Haystack) -> ServedModel:
        """The served model that evaluation measured most accurate on this task near this length.

        Models are compared at one length all of them were measured at, the nearest to the haystack's:
        a point at 117,760 tokens says nothing against another model's at 2,000,000. A custom haystack
        is read as the task it resembles: Reasoning if a fact states a direction, else Detect. A tie, or
        a task no length of which all were measured at, goes to the default checkpoint.
        """
        task = hay.task
        if task not in TASKS:
            task = "reasoning" if any(relation_direction(f.text) for f in hay.facts) else "detect"
        default = next(iter(self.served.values()))
        measured = {name: served.points(task) for name, served in self.served.items()}  # the book all read
        shared = set.intersection(*({p["tokens"] for p in points} for points in measured.values()))
        if not shared:
            return default
        tokens = nearest_point([{"tokens": t} for t in sorted(shared)], hay.num_tokens)["tokens"]
        best, best_accuracy = default, -1.0
        for name, points in measured.items():
            accuracy = next(p["accuracy"] for p in points if p["tokens"] == tokens)
            if accuracy > best_accuracy:
                best, best_accuracy = self.served[name], accuracy
        return best

    def on_model_thread(self, fn: Callable, *args):
        """Run ``fn(*args)`` on the one thread that does all model work, and wait for it.

        Gradio calls a generator from whichever pool thread is free, and every new calling thread
        gets its own OpenMP team: on 2 cores a run fed from pool threads went from 1,679 to 672
        tokens/s (and stayed slow). One long-lived thread keeps one team.
        """
        return self.model_thread.submit(fn, *args).result()

    # ----- haystacks -----------------------------------------------------------------------
    def check_tokens(self, tokens: float | int | str | None) -> int:
        try:
            value = float(tokens)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise ValueError(f"length must be a number of tokens, got {tokens!r}") from None
        if not np.isfinite(value) or value < 1:
            raise ValueError(f"length must be a positive number of tokens, got {tokens!r}")
        if value > self.limits.max_tokens:
            raise ValueError(f"length {int(value):,} is above this server's limit of {self.limits.max_tokens:,} tokens")
        return int(value)

    @staticmethod
    def check_depth(depth: float | None) -> float | None:
        if depth is None or depth == "" or (isinstance(depth, str) and depth.lower() == "random"):
            return None
        try:
            value = float(depth)
        except (TypeError, ValueError):
            raise ValueError(f"fact depth must be a percentage 0-100 or empty for random, got {depth!r}") from None
        if not np.isfinite(value) or not 0 <= value <= 100:
            raise ValueError(f"fact depth must be between 0 and 100 %, got {depth!r}")
        return value / 100.0

    @staticmethod
    def check_seed(seed: float | int | None) -> int:
        try:
            value = float(seed if seed is not None else 0)
        except (TypeError, ValueError):
            raise ValueError(f"seed must be a whole number, got {seed!r}") from None
        if not np.isfinite(value) or value < 0 or value >= 2**31 or value != int(value):
            raise ValueError(f"seed must be a whole number from 0 to {2**31 - 1}, got {seed!r}")
        return int(value)

    def check_text(self, text: str | None, what: str) -> str:
        text = text or ""
        if len(text) > self.limits.max_paste_chars:
            raise ValueError(
                f"{what} is {len(text):,} characters; this server takes at most {self.limits.max_paste_chars:,}"
            )
        if "\x00" in text or sum(ch < " " and ch not in "\n\r\t" for ch in text[:100_000]) > 0.1 * min(
            len(text), 100_000
        ):
            raise ValueError(f"{what} looks like binary data, not text")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:  # lone surrogates: what undecodable bytes become on the way in
            raise ValueError(f"{what} is not valid UTF-8 text") from None
        return CONTROL_CHARS.sub("", text)  # stray control characters (terminal colours, bells) are dropped

    def generate(
        self,
        task: str,
        tokens,
        depth=None,
        seed=0,
        noise_text: str | None = None,
        facts_text: str | None = None,
        question: str | None = None,
        answer: str | None = None,
        noise_source: str = "valid",
    ) -> tuple[str, str, dict]:
        """Build a haystack; returns (id, preview HTML, summary dict)."""
        num_tokens = self.check_tokens(tokens)
        fraction = self.check_depth(depth)
        seed = self.check_seed(seed)
        if noise_source not in NOISE_SOURCES:
            raise ValueError(f"unknown noise source {noise_source!r}: use {', '.join(NOISE_SOURCES)}")
        if (task or "").strip().lower() == "custom":
            noise_text = self.check_text(noise_text, "the pasted noise")
            facts = [f for f in self.check_text(facts_text, "the facts").splitlines() if f.strip()]
            question = self.check_text(question, "the question").strip()
            if not question:
                raise ValueError("a custom haystack needs a question: the model answers it at the end")
            if answer and answer.strip() and answer.strip().lower() not in ROOMS:
                raise ValueError(f"the answer must be one of the rooms the model knows: {', '.join(ROOMS)}")
            hay = build_custom_haystack(
                noise_text,
                facts,
                question,
                num_tokens,
                self.tokenizer,
                answer=(answer or "").strip().lower() or None,
                depth=fraction,
                seed=seed,
                noise=noise_source,
            )
            if note := people_note(facts, hay.num_tokens, self.auto_model(hay)):
                hay.notes.append(note)
        else:
            try:
                name = check_task(task or "")
            except ValueError as error:
                raise ValueError(f"{error} (or custom)") from None
            hay = build_haystack(name, num_tokens, self.tokenizer, seed=seed, depth=fraction, noise=noise_source)
        hay_id = uuid.uuid4().hex[:12]
        with self.lock:
            self.entries[hay_id] = Entry(hay)
            self.evict()
        info = self.summary(hay)
        return hay_id, preview_html(hay, info, self.model.config, partial(self.segment_of, hay=hay)), info

    def evict(self) -> None:
        """Forget the least recently used haystacks beyond the count and token budgets.

        A haystack whose run is in progress is never dropped: under load, queued users must
        still find theirs, and a running job must not be stopped by someone else's Generate.
        """

        def over() -> bool:
            tokens = sum(e.haystack.num_tokens for e in self.entries.values())
            return len(self.entries) > self.max_entries or tokens > self.max_cached_tokens

        for hay_id in list(self.entries)[:-1]:  # the newest always stays
            if not over():
                break
            if not self.entries[hay_id].running:
                del self.entries[hay_id]

    def find_entry(self, hay_id: str | None) -> Entry | None:
        """The haystack's entry if it is still kept; unlike ``entry`` it neither raises nor marks it used."""
        with self.lock:
            return self.entries.get(hay_id or "")

    def entry(self, hay_id: str | None) -> Entry:
        with self.lock:
            if not hay_id or hay_id not in self.entries:
                raise ValueError("generate a haystack first (or it expired: generate it again)")
            self.entries.move_to_end(hay_id)
            return self.entries[hay_id]

    def bounds(self, hay: Haystack) -> list[tuple[int, int]]:
        """(start, end) of each segment of ``hay`` as the served models read it. Snapped to sentence ends they
        depend on its text (50 ms at 2M tokens), so the last few haystacks' are kept: a preview asks often."""
        with self.lock:
            if (kept := self.bounds_kept.get(id(hay))) is not None and kept[0] is hay:
                return kept[1]
        bounds = text_bounds(hay.token_ids, self.model.config)
        with self.lock:
            self.bounds_kept[id(hay)] = (hay, bounds)
            while len(self.bounds_kept) > 8:
                self.bounds_kept.popitem(last=False)
        return bounds

    def segment_of(self, token: int, hay: Haystack) -> int:
        return segment_of(self.bounds(hay), token)

    def fact_segments(self, hay: Haystack) -> list[int]:
        """Every segment that reads part of a fact: the plots band them all, a cut fact's two halves and,
        with an overlap, the segment that re-reads it."""
        bounds = self.bounds(hay)
        segments = set()
        for f in hay.facts:
            k = segment_of(bounds, f.token_start)  # the first to read it; the next ones may read it too
            while k < len(bounds) and bounds[k][0] < f.token_end:
                segments.add(k)
                k += 1
        return sorted(segments)

    def segment_count(self, hay: Haystack) -> int:
        return len(self.bounds(hay))

    def summary(self, hay: Haystack) -> dict:
        total = self.segment_count(hay)
        cuts, bridges = self.fact_cuts(hay), self.fact_bridges(hay)
        return {
            "task": hay.task,
            "tokens": hay.num_tokens,
            "segments": total,
            "question": hay.question,
            "answer": hay.answer,
            "noise": hay.noise,
            "characters": len(hay.text),
            "notes": list(hay.notes),
            "model": self.auto_model(hay).name,  # what a run with the model left at "auto" uses
            "measured_accuracy": measured_accuracy(self.served.values(), hay.task, hay.num_tokens, hay.noise),
            "rooms_named": len(hay.room_mentions),  # sentences of the noise that name a room: see room_mentions
            "facts": [
                {"text": f.text, "token": f.token_start, "segment": self.segment_of(f.token_start, hay) + 1}
                | {"cut": cuts.get(i), "bridged": bridges.get(i)}
                for i, f in enumerate(hay.facts)
            ],
        }

    def fact_cuts(self, hay: Haystack) -> dict[int, dict]:
        """Fact index -> where a segment boundary cuts it: the segment (1-based) ending inside it, and the halves.

        The memory has to join "john moved to" and "the bedroom." across two steps; such cuts are where
        Detect loses most of its facts (the checkpoint's ``cuts.json``), so the page says when it happens.
        """
        return {
            i: {"segment": self.segment_of(end - 1, hay) + 1, "halves": list(cut_halves(hay, i, end, self.tokenizer))}
            for i, end in fact_cuts(hay, self.model.config)
        }

    def fact_bridges(self, hay: Haystack) -> dict[int, dict]:
        """Fact index -> where plain segments would have cut it, for the facts the served reading reads whole.

        With ``segment_overlap`` or ``segment_snap`` no short fact is cut (``fact_cuts`` is empty); the page
        still shows where a plain boundary falls inside a fact and which segment reads it whole: that is what
        the reading buys. Empty when the served models read plain segments.
        """
        cfg = self.model.config
        if not (cfg.segment_overlap or cfg.segment_snap):
            return {}
        bounds = self.bounds(hay)
        bridges = {}
        for i, end in fact_cuts(hay, Reading(cfg.text_per_segment)):  # the plain reading's cuts
            fact = hay.facts[i]
            whole = next(k for k, (a, b) in enumerate(bounds) if a <= fact.token_start and fact.token_end <= b)
            bridges[i] = {"segment": whole + 1, "halves": list(cut_halves(hay, i, end, self.tokenizer))}
        return bridges

    # ----- running ---------------------------------------------------------------------------
    def stop(self, hay_id: str | None, wait: float = 10.0) -> str:
        """Stop the run at its next segment and return its status once it is over.

        The run's own last view (where it stopped, no final answer) reaches the page first, so the
        status returned here agrees with it instead of leaving "Stopping…" on screen.
        """
        entry = self.find_entry(hay_id)
        if entry is None:
            return "Nothing is running."
        if not entry.running:
            entry.stop_asked_at = time.monotonic()
            if entry.requested_at is None:
                return "Nothing is running."
            return "**stopped** before it started: it will not run."
        entry.stop.set()
        self.wait_until_over(entry, wait)
        return self.status(entry) if entry.run is not None else "**stopped** before its first segment"

    @staticmethod
    def wait_until_over(entry: Entry, wait: float) -> None:
        deadline = time.monotonic() + wait
        while entry.running and time.monotonic() < deadline:
            time.sleep(0.01)

    def end_run(self, hay_id: str | None, wait: float = 10.0) -> None:
        """The visitor moved on to a new haystack: end this one's run, if any, before anything new starts.

        The run stops at its next segment and yields nothing more (a verdict would land under the new
        haystack's preview); returning only once it is over keeps the next run from queueing behind it.
        """
        entry = self.find_entry(hay_id)
        if entry is None or not entry.running:
            return
        entry.superseded = True
        entry.stop.set()
        self.wait_until_over(entry, wait)

    def request_run(self, hay_id: str | None) -> None:
        """The page asked for a run: a Stop from now on ends it, even while it waits in the queue."""
        entry = self.find_entry(hay_id)
        if entry is not None:
            entry.requested_at = time.monotonic()

    def run(
        self, hay_id: str | None, min_interval: float = 0.25, resume: bool = False, model: str | None = AUTO
    ) -> Iterator[RunView]:
        """Run ``model`` (a served checkpoint's name, or "auto") over the haystack, yielding a view at
        most every ``min_interval`` seconds.

        The loop itself does one step per segment; throttling only decides what the page sees.
        ``resume`` continues the haystack's stopped run from the segment it stopped at, with the
        model that started it: a memory is only readable by the model that wrote it.
        """
        entry = self.entry(hay_id)
        served = None if resume else self.served_model(model, entry.haystack)  # a bad name fails before anything
        requested_at, entry.requested_at = entry.requested_at, None
        if requested_at is not None and entry.stop_asked_at > requested_at:
            yield RunView(
                "**stopped** before it started: Stop was pressed while it waited for the model.",
                None,
                verdict="No answer: the run was stopped before its first segment.",
            )
            return
        stopped = entry.run if entry.run is not None and entry.run.memory is not None else None
        if resume and stopped is None:
            raise ValueError("nothing to continue: no run of this haystack was stopped part-way. Press Run RMT.")
        entry.stop.clear()
        entry.superseded = False
        entry.running = True
        if served is not None:
            entry.run, entry.served = None, served
        try:
            yield from self.run_entry(entry, min_interval, stopped if resume else None)
        finally:
            entry.running = False

    def run_entry(self, entry: Entry, min_interval: float, resume: LiveRun | None = None) -> Iterator[RunView]:
        hay = entry.haystack
        fact_segments = self.fact_segments(hay)
        question_segment = self.segment_of(hay.question_token_start, hay)
        total = self.segment_count(hay)
        probe_every = max(1, total // 400)  # at most ~400 live answers: each costs a short extra pass
        last_shown, interval = 0.0, min_interval
        run = None
        model = entry.served.model
        steps = live_run(model, hay.token_ids, hay.question_ids, probe_every, entry.stop, resume=resume)
        while (step := self.on_model_thread(next, steps, None)) is not None:
            run = entry.run = step
            now = time.perf_counter()
            if now - last_shown >= interval and len(run.records) < total:
                last_shown = now
                view = RunView(self.status(entry), self.answer_figure(run, fact_segments, hay), num_segments=total)
                # A figure costs ~50 ms to build and as much to send: on a long CPU run, updating every
                # 0.25 s took a third of the time. Updates slow down so they take ~5% of it at most.
                interval = max(min_interval, 20 * (time.perf_counter() - now))
                yield view
        if run is None:
            raise ValueError("the haystack is empty")
        entry.run = run
        if not entry.superseded:
            yield self.final_view(entry, fact_segments, question_segment)

    def status(self, entry: Entry) -> str:
        run, served = entry.run, entry.served
        done = len(run.records)
        seconds = run.seconds[-1] if run.seconds else 0.0
        tokens = run.records[-1].token_end if run.records else 0
        rate = tokens / seconds if seconds > 0 else 0.0
        state = "stopped" if run.stopped else ("done" if done == run.num_segments else "running")
        left = ""
        if state == "running" and rate > 0 and seconds >= 1.0:  # a speaker needs to know whether to wait
            left = f" · about {format_duration((run.num_tokens - tokens) / rate)} left"
        return (
            f"**{state}** · segment {done:,} of {run.num_segments:,} · {tokens:,} tokens · "
            f"{rate:,.0f} tokens/s · {seconds:.1f} s{left} · {served.name} · {self.device.type} "
            f"{str(served.model.dtype).removeprefix('torch.')}"
        )

    def answer_figure(self, run: LiveRun, fact_segments: list[int], hay: Haystack) -> go.Figure:
        probed = [r for r in run.records if r.probabilities is not None]
        mentions = hay.room_mentions
        return plots.answer_figure(
            [r.index for r in probed],
            [r.probabilities for r in probed],
            self.class_names,
            fact_segments,
            run.num_segments,
            hay.answer,
            rooms_named=[  # pooled before the sentences are cut out: this runs at every live update
                (self.segment_of(int(mentions.tokens[i]), hay), mentions.room(i), mentions.sentence(i, hay.text))
                for i in plots.pool_indices(len(mentions), plots.MAX_ROOM_MARKS)
            ],
        )

    def final_view(self, entry: Entry, fact_segments: list[int], question_segment: int) -> RunView:
        run, hay = entry.run, entry.haystack
        snaps = sorted(s for s in run.snapshots if s > 0)  # skip the learned initial memory: an outlier
        memories = np.stack([run.snapshots[s].reshape(-1).numpy() for s in snaps]) if snaps else np.zeros((0, 1))
        # A stopped run marks only what it read: a fact 9,000 segments ahead would squash its plots.
        read = len(run.records)
        facts_read = [s for s in fact_segments if s < read]
        question_read = question_segment if question_segment < read else None
        # a snapshot holds the memory *before* segment s, i.e. after segment s-1
        memory_fig = (  # a distance map needs two states: a 1-segment run or an early stop has fewer
            plots.memory_distance_figure([s - 1 for s in snaps], memories, facts_read, question_read)
            if len(snaps) >= 2
            else None
        )
        change_fig = plots.memory_change_figure(
            [r.index for r in run.records], [r.memory_change for r in run.records], facts_read
        )
        time_fig = plots.time_figure([r.token_end for r in run.records], run.seconds, self.benchmarks)
        return RunView(
            self.status(entry),
            self.answer_figure(run, fact_segments, hay),
            change_fig,
            memory_fig,
            time_fig,
            self.verdict(entry),
            done=True,
            segment=(facts_read[0] if facts_read else 0) + 1,
            num_segments=run.num_segments,
            tokens=hay.num_tokens,
        )

    def verdict(self, entry: Entry) -> str:
        run, hay, served = entry.run, entry.haystack, entry.served
        if run.stopped or run.final_probabilities is None:
            return (
                f"Stopped after {len(run.records):,} of {run.num_segments:,} segments: no final answer yet. "
                "**Continue** goes on from here; **Run RMT** starts again."
            )
        probs = run.final_probabilities
        best = int(np.argmax(probs))
        answer = self.class_names[best]
        lines = [f"### RMT answers **{answer}** ({percent(probs[best])}) · `{served.name}`"]
        if hay.answer:
            lines.append("**Correct.**" if answer == hay.answer else f"**Wrong**: the facts say **{hay.answer}**")
            segment_of = partial(self.segment_of, hay=hay)
            if line := other_fact_verdict(hay, answer) or room_mentions_verdict(
                hay, run.records, answer, self.class_names, segment_of
            ):
                lines.append(line)
            measured = cut_line(served, hay.task)
            if line := cut_verdict(self.fact_cuts(hay), answer == hay.answer, measured) or bridge_verdict(
                self.fact_bridges(hay), self.model.config, measured
            ):
                lines.append(line)
            if line := direction_note(hay, served):
                lines.append(line)
        if line := measured_accuracy([served], hay.task, hay.num_tokens, hay.noise):
            lines.append(line + " One run is one sample.")
        if self.baseline is not None:
            window = self.baseline.config.text_per_segment
            ids = hay.token_ids[None, -window:] if hay.num_tokens > window else hay.token_ids[None]
            logits = self.on_model_thread(classify_equal_length, self.baseline, ids, 1)
            base = self.class_names[int(logits.argmax())]
            sees = any(f.token_start >= hay.num_tokens - window for f in hay.facts)
            note = ""
            if not sees and any(f.token_end > hay.num_tokens - window for f in hay.facts):
                note = " (it reads only the end of a fact that its window cuts)"
            elif not sees:  # it can only guess: say so, even when the guess happens to be right
                lucky = hay.answer and base == hay.answer
                note = (
                    " (a lucky guess: the facts are outside its window)"
                    if lucky
                    else " (the facts are outside its window)"
                )
            lines.append(
                f"Without memory (same encoder, fine-tuned, reads only the last {window} tokens): **{base}**{note}"
            )
        return "\n\n".join(lines)

    # ----- inspection ------------------------------------------------------------------------
    def inspect(self, hay_id: str | None, segment: int | float, layer: int | float | str, head: str | int) -> go.Figure:
        """Attention of [CLS], memory and (last segment) question tokens over one segment."""
        entry = self.entry(hay_id)
        if entry.run is None or not entry.run.records:
            raise ValueError("run the model first: inspection re-runs a segment from the run's stored memory")
        run, hay = entry.run, entry.haystack
        index = int(segment) - 1
        if not 0 <= index < len(run.records):
            raise ValueError(f"segment must be between 1 and {len(run.records):,} (the segments this run reached)")
        layers = self.model.backbone.config.num_hidden_layers
        layer = int(layer) - 1
        if not 0 <= layer < layers:
            raise ValueError(f"layer must be between 1 and {layers}")
        model = entry.served.model  # the memory stored by the run is only readable by the model that wrote it
        ids, attentions, _ = self.on_model_thread(inspect_segment, model, hay.token_ids, run, index, [layer])
        att = attentions[layer]  # [heads, L, L]
        heads = att.shape[0]
        if str(head).lower().startswith("mean"):
            matrix, head_label = att.mean(0), "mean over heads"
        else:
            h = int(head)
            if not 0 <= h < heads:
                raise ValueError(f"head must be 0-{heads - 1} or 'mean'")
            matrix, head_label = att[h], f"head {h}"
        m = self.model.config.num_mem_tokens
        tokens = self.tokenizer.convert_ids_to_tokens(ids.tolist())
        labels = [f"{i}:{t}" for i, t in enumerate(tokens)]
        for j in range(m):
            labels[1 + j] = f"{1 + j}:MEM{j}"
        rows = list(range(0, 1 + m))
        record = run.records[index]
        if record.token_start <= hay.question_token_start < record.token_end:  # the question is here: show "read"
            q0 = 2 + m + hay.question_token_start - record.token_start
            rows += list(range(q0, min(q0 + 12, len(tokens) - 1)))
        highlight = []
        for fact in hay.facts:
            for t in range(max(fact.token_start, record.token_start), min(fact.token_end, record.token_end)):
                highlight.append(2 + m + t - record.token_start)
        rows_label = "[CLS], memory" + (", question" if len(rows) > m + 1 else "")
        title = f"Segment {index + 1:,} · layer {layer + 1} · {head_label}: rows = {rows_label}"
        return plots.attention_figure(matrix[rows].numpy(), [labels[r] for r in rows], labels, highlight, title)

    # ----- compute and accuracy --------------------------------------------------------------
    @staticmethod
    def flop_tokens(tokens: int | float | str | None) -> int:
        """The length to compare: empty means the paper's 2,048,000; the FLOP model stops at 10^12."""
        try:
            num_tokens = int(float(tokens)) if tokens not in (None, "") else 2_048_000
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"tokens must be a number, got {tokens!r}") from None
        if not 1 <= num_tokens <= 10**12:
            raise ValueError(f"tokens must be between 1 and 10^12 for the FLOP model, got {tokens!r}")
        return num_tokens

    def flop_row(self, preset: str, tokens: int, segment: int) -> dict:
        """``rmt.flops.compare`` for a preset shape read as the served model reads: its memory and overlap.

        Segment ends snapped to sentence ends (``segment_snap``) add segments that depend on the text (1,032
        for 1,024 plain ones on the held-out book): the curves count the plain ones, a 1% difference."""
        cfg = self.model.config
        return compare(PRESETS[preset], tokens, segment, cfg.num_mem_tokens, cfg.segment_overlap)

    def flops(self, tokens: int | float | str | None, segment: int | None = None) -> dict:
        num_tokens = self.flop_tokens(tokens)
        segment = segment or self.model.config.segment_size
        rows = {name: self.flop_row(name, num_tokens, segment) for name in FLOP_PRESETS}
        # as floats: FLOP counts pass 2**63, which JSON encoders for the page cannot take as integers
        return {name: {k: float(v) if k.endswith("flops") else v for k, v in row.items()} for name, row in rows.items()}

    def benchmark_figure(self) -> go.Figure | None:
        """The shipped benchmark's time against length, before any run (None if none is shipped)."""
        return plots.time_figure([], [], self.benchmarks) if self.benchmarks else None

    def flops_figure(self, tokens: int | None = None, marker: str = "this run") -> go.Figure:
        """The FLOP curves, with ``tokens`` marked and labelled ``marker`` (a run, or a length compared).

        The curves reach at least 4M tokens and always the marked length, so a mark never sits
        beyond where they end.
        """
        segment = self.model.config.segment_size
        end = max(4_000_000, tokens or 0)
        lengths = sorted({int(x) for x in np.logspace(np.log10(segment), np.log10(end), 40)})
        curves = {}
        for name in ("minilm-l6", "bert-base", "opt-125m", "opt-175b"):
            rows = [self.flop_row(name, t, segment) for t in lengths]
            curves[PRESETS[name].name] = (
                lengths,
                [float(r["full_attention_flops"]) for r in rows],
                [float(r["rmt_flops"]) for r in rows],
            )
        text = ""
        if tokens:
            ratio = self.flop_row("minilm-l6", tokens, segment)["ratio"]
            text = f"{marker}: {tokens:,} tokens, {flops_saving(ratio)} (ours)"
        return plots.flops_figure(curves, tokens, text)

    def eval_tables(self, file_name: str = "eval.json") -> dict[str, dict]:
        """A measured table shipped beside each served checkpoint, then the baseline's, where it exists."""
        tables = {name: checkpoint_table(served.path, file_name) for name, served in self.served.items()}
        tables["no memory"] = checkpoint_table(self.baseline_path, file_name)
        return {name: table for name, table in tables.items() if table}

    def needle_figure(self) -> go.Figure | None:
        """The needle map from the checkpoints' ``needle.json`` (``rmt.evaluate --depths``); None if not shipped."""
        tables = {name: table for name, table in self.eval_tables("needle.json").items() if table.get("needle")}
        tasks = {table["task"] for table in tables.values()}
        task = tasks.pop() if len(tasks) == 1 else None  # one task: named once in the title, short panel names
        panels = {(name if task else f"{name}: {table['task']}"): name for name, table in tables.items()}
        maps = {panel: tables[name]["needle"] for panel, name in panels.items()}
        served_readings = {name: reading_of(served.model.config) for name, served in self.served.items()}
        notes = {  # the baseline reads one window: nothing to overlap
            panel: reading_note(tables[name], served_readings.get(name, reading())) for panel, name in panels.items()
        }
        columns = {panel: plots.needle_columns(tables[name]) for panel, name in panels.items()}
        return plots.needle_figure(maps, self.model.config.text_per_segment, task, columns, notes) if maps else None

    def accuracy_figure(self) -> go.Figure:
        """Every served checkpoint's accuracy against length, the baseline's dashed, on the held-out book."""
        series, older = {}, {}
        tables = {name: (served.evals, reading_of(served.model.config)) for name, served in self.served.items()}
        tables["no memory"] = (self.baseline_evals, reading())  # it reads one window: no segments to overlap
        for model_name, (table, read) in tables.items():
            for task, result in table.get("tasks", {}).items():
                points = [
                    p | {"note": point_note(p, read)} for p in sorted(result["points"], key=lambda p: p["tokens"])
                ]
                for target, keep in ((series, False), (older, True)):
                    if chosen := [p for p in points if bool(p["note"]) == keep]:
                        target[f"{model_name}: {task}"] = chosen
        without_rooms = {  # a star off the lines already; how it was read shows on hover
            f"{name}: {task}": [
                p | {"note": point_note(p, reading_of(served.model.config))}
                for p in sorted(result["points"], key=lambda p: p["tokens"])
            ]
            for name, served in self.served.items()
            for task, result in served.no_rooms_evals.get("tasks", {}).items()
        }
        return plots.accuracy_figure(series, chance=1 / len(self.class_names), older=older, without_rooms=without_rooms)

    def model_card(self, name: str) -> str:
        """The model card of the served checkpoint ``name``."""
        try:
            card = resolve_checkpoint(self.served[name].path) / "README.md"
            text = card.read_text(encoding="utf-8") if card.is_file() else "(no model card)"
        except Exception as error:  # shown in the page, never fatal
            text = f"(model card unavailable: {error})"
        if text.startswith("---"):
            text = text.split("---", 2)[-1]
        return text

    def device_line(self) -> str:
        name = hardware_name(self.device) if self.device.type == "cuda" else f"CPU ({hardware_name(self.device)})"
        dtype = str(inference_dtype(self.device)).removeprefix("torch.")
        return (
            f"Device: **{name}** · dtype **{dtype}** · checkpoints {', '.join(f'`{n}`' for n in self.served)} · "
            f"limits: {self.limits.max_tokens:,} tokens per run, {self.limits.max_paste_chars:,} pasted characters"
        )

    def task_choices(self) -> list[str]:
        return [*TASKS, "custom"]
