"""The fast path: many segments, nothing kept per segment but what the caller asks for.

Used by evaluation, the benchmark and the app's live run. Haystacks in one batch have the same
length, so every segment is one dense [B, L] tensor with no padding; memory is the only state
carried, so peak memory does not grow with the number of segments.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from rmt.device import inference_dtype
from rmt.fixed_step import compile_mode, compiled_step, graphed_step, graphs_enabled
from rmt.model import RecurrentMemoryTransformer
from rmt.segments import iter_aligned_segments, segment_bounds, text_bounds


def prepare_for_inference(model: RecurrentMemoryTransformer, device: torch.device) -> RecurrentMemoryTransformer:
    """Eval mode, SDPA, and the fastest dtype the device has (bf16 only where it is native)."""
    model.backbone.set_attn_implementation("sdpa")
    return model.to(device=device, dtype=inference_dtype(device)).eval()


def segment_inputs(
    model: RecurrentMemoryTransformer, texts: torch.Tensor, device: torch.device
) -> tuple[torch.Tensor, None]:
    """[B, n] text tokens of equal length -> laid-out ids [B, n + M + 3] and no mask (nothing to hide)."""
    cfg = model.config
    b, n = texts.shape
    ids = torch.empty(b, n + cfg.num_mem_tokens + 3, dtype=torch.long)
    ids[:, 0] = cfg.cls_token_id
    ids[:, 1 : 1 + cfg.num_mem_tokens] = cfg.pad_token_id
    ids[:, 1 + cfg.num_mem_tokens] = cfg.sep_token_id
    ids[:, 2 + cfg.num_mem_tokens : -1] = texts
    ids[:, -1] = cfg.sep_token_id
    ids = ids.to(device, non_blocking=True)
    return ids, None  # no padding: no mask lets SDPA pick its fastest kernel


class SegmentStepper:
    """Steps a [B, T] batch of equal-length haystacks through its segments, one call per segment.

    On CUDA the haystack goes to the GPU once (8 MB per 2M tokens) and every full segment is one
    CUDA-graph replay (``rmt.fixed_step``); elsewhere, and for the short first segment, the step
    runs eagerly. Outputs of a replay are static buffers: valid until the next call.
    """

    def __init__(self, model: RecurrentMemoryTransformer, token_ids: np.ndarray) -> None:
        self.model, self.token_ids = model, token_ids
        self.text_len = model.config.text_per_segment
        self.use_graph = graphs_enabled(model.device)
        self.compiled = compiled_step(model) if compile_mode() and not self.use_graph else None
        if self.use_graph:
            self.tokens = torch.from_numpy(np.ascontiguousarray(token_ids, dtype=np.int32)).to(model.device)

    def __call__(self, memory: torch.Tensor, a: int, b: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(next memory [B, M, H], logits [B, C]) for text tokens a:b."""
        if self.use_graph and b - a == self.text_len:
            return graphed_step(self.model, self.token_ids.shape[0], self.text_len)(memory, self.tokens[:, a:b])
        text = torch.from_numpy(np.ascontiguousarray(self.token_ids[:, a:b], dtype=np.int64))
        ids, mask = segment_inputs(self.model, text, self.model.device)
        step = self.compiled if self.compiled is not None and b - a == self.text_len else self.model.step
        out = step(memory, ids, mask)
        return out.memory, out.logits


@torch.inference_mode()
def classify_equal_length(
    model: RecurrentMemoryTransformer,
    token_ids: np.ndarray,
    last_segments: int | None = None,
    on_segment: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> torch.Tensor:
    """Logits [B, C] for a [B, T] batch of haystacks of one length, in constant memory.

    ``last_segments=k`` feeds only the last k segments (k=1 is the no-memory baseline: plain
    truncation to the window the encoder can see).
    """
    if model.config.segment_snap:  # each row's bounds follow its own sentence ends
        chunks = [[row[a:b] for a, b in text_bounds(row, model.config)] for row in token_ids]
        return classify_aligned(model, [c[-(last_segments or 0) :] for c in chunks], on_segment, stop)
    bounds = segment_bounds(token_ids.shape[1], model.config.text_per_segment, model.config.segment_overlap)
    if last_segments is not None:
        bounds = bounds[-last_segments:]
        token_ids = token_ids[:, bounds[0][0] :]
        bounds = [(a - bounds[0][0], b - bounds[0][0]) for a, b in bounds]
    step = SegmentStepper(model, token_ids)
    memory = model.init_memory(token_ids.shape[0])
    logits = None
    for i, (a, b) in enumerate(bounds):
        if stop is not None and stop.is_set():
            raise InterruptedError("stopped")
        memory, logits = step(memory, a, b)
        if on_segment is not None:
            on_segment(i + 1, len(bounds))
    return logits.to(torch.float32, copy=True)  # on CUDA it may be a graph's static buffer


def classify_aligned(
    model: RecurrentMemoryTransformer,
    chunks: list[list[np.ndarray]],
    on_segment: Callable[[int, int], None] | None = None,
    stop: threading.Event | None = None,
) -> torch.Tensor:
    """Logits [B, C] for rows given as their segments' texts, which may differ in length and number.

    Read with ``segment_snap`` each haystack's boundaries depend on its own text, so rows of one length
    differ in where their segments end and in how many they take: each step pads its rows to the longest,
    with a mask, and a row with fewer segments joins later from the initial memory, aligned on the last (as
    ``align_segments``). Steps are laid out one at a time, so memory stays flat at any length; CUDA graphs
    are not used.
    """
    total = max(len(c) for c in chunks)
    memory = model.init_memory(len(chunks))  # [B, M, H]
    logits = None
    for step, seg in enumerate(iter_aligned_segments(chunks, model.config)):
        if stop is not None and stop.is_set():
            raise InterruptedError("stopped")
        memory, out = model.step_active(memory, seg)
        logits = out.logits  # the last step has every row: all end on the question
        if on_segment is not None:
            on_segment(step + 1, total)
    return logits.to(torch.float32, copy=True)


@dataclass
class SegmentRecord:
    """What the app keeps for every segment of a live run: a few numbers, never activations."""

    index: int
    token_start: int
    token_end: int
    probabilities: list[float] | None  # the answer if the question were asked now
    memory_change: float  # relative change of the memory state over this segment (nan until read back)


@dataclass
class LiveRun:
    """The state of one live run: per-segment records and a sparse set of memory snapshots.

    A memory snapshot every ``snapshot_every`` segments lets any segment be re-run with attention
    recorded (from the nearest snapshot), so a 2M-token run stays cheap to keep and to inspect.
    """

    num_tokens: int
    num_segments: int
    snapshot_every: int
    records: list[SegmentRecord] = field(default_factory=list)
    snapshots: dict[int, torch.Tensor] = field(default_factory=dict)  # segment -> memory before it
    seconds: list[float] = field(default_factory=list)  # elapsed time after each segment
    final_probabilities: list[float] | None = None
    stopped: bool = False
    memory: torch.Tensor | None = None  # [1, M, H] after the last segment read, kept when stopped: Continue starts here


def snapshot_interval(total_segments: int, max_snapshots: int = 256) -> int:
    return max(1, -(-total_segments // max_snapshots))


@torch.inference_mode()
def live_run(
    model: RecurrentMemoryTransformer,
    token_ids: np.ndarray,
    question_ids: list[int],
    probe_every: int = 1,
    stop: threading.Event | None = None,
    max_snapshots: int = 256,
    resume: LiveRun | None = None,
) -> Iterator[LiveRun]:
    """Run one haystack segment by segment, yielding the growing LiveRun after every segment.

    The caller decides how often to show it; the loop itself keeps only the small records and
    the sparse snapshots. ``probe_every`` sets how often the question is asked of the memory.
    ``resume`` continues a stopped run of the same haystack from the memory it stopped with, so
    a speaker can pause a long run and go on; its clock leaves out the pause.
    """
    bounds = text_bounds(token_ids, model.config)
    if resume is not None and (resume.memory is None or resume.num_tokens != len(token_ids)):
        raise ValueError("only a run that was stopped part-way can continue")
    run = resume or LiveRun(len(token_ids), len(bounds), snapshot_interval(len(bounds), max_snapshots))
    first = len(run.records)
    step = SegmentStepper(model, np.asarray(token_ids)[None])
    memory = model.init_memory(1) if resume is None else resume.memory.to(model.device)
    run.stopped, run.memory = False, None
    pending: list[torch.Tensor] = []  # memory changes still on the device: read in one sync, not one per segment

    def flush() -> None:
        for record, change in zip(run.records[-len(pending) :], torch.stack(pending).tolist(), strict=True):
            record.memory_change = change
        pending.clear()

    started = time.perf_counter() - (run.seconds[-1] if run.seconds else 0.0)
    for i, (a, b) in enumerate(bounds[first:], start=first):
        if stop is not None and stop.is_set():
            run.stopped, run.memory = True, memory.detach().cpu().clone()
            if i == first:  # stopped before its first segment: the caller still learns so
                yield run
            break
        if i % run.snapshot_every == 0:
            run.snapshots[i] = memory.detach().float().cpu().clone()
        new_memory, logits = step(memory, a, b)
        new_memory = new_memory.clone()  # a graph replay overwrites its output buffer next segment
        pending.append((new_memory.float() - memory.float()).norm() / memory.float().norm().clamp_min(1e-6))
        memory = new_memory
        last = i == len(bounds) - 1
        probabilities = None
        if last:
            probabilities = logits.float().softmax(-1)[0].tolist()
            run.final_probabilities = probabilities
        elif i % probe_every == 0:
            probabilities = model.answer(memory, question_ids).float().softmax(-1)[0].tolist()
        run.records.append(SegmentRecord(i, a, b, probabilities, math.nan))
        if probabilities is not None or last:
            flush()
        run.seconds.append(time.perf_counter() - started)
        yield run
    if pending:
        flush()


@torch.inference_mode()
def inspect_segment(
    model: RecurrentMemoryTransformer, token_ids: np.ndarray, run: LiveRun, index: int, layers: list[int]
) -> tuple[torch.Tensor, dict[int, torch.Tensor], list[int]]:
    """Re-run segment ``index`` from the nearest stored memory with attention recorded.

    Returns (input ids [L], layer -> attention [heads, L, L] as float32, the segment's text ids).
    """
    bounds = text_bounds(token_ids, model.config)
    start = max(s for s in run.snapshots if s <= index)
    memory = run.snapshots[start].to(model.device, model.dtype)
    for i in range(start, index + 1):
        a, b = bounds[i]
        ids, mask = segment_inputs(
            model, torch.from_numpy(np.asarray(token_ids[a:b], dtype=np.int64))[None], model.device
        )
        out = model.step(memory, ids, mask, record_layers=layers if i == index else None)
        memory = out.memory
    attentions = {layer: att[0].float().cpu() for layer, att in out.attentions.items()}
    return ids[0].cpu(), attentions, token_ids[bounds[index][0] : bounds[index][1]].tolist()
