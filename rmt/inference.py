"""The fast path: many segments, nothing kept per segment but what the caller asks for.

Used by evaluation, the benchmark and the app's live run. Haystacks in one batch have the same
length, so every segment is one dense [B, L] tensor with no padding; memory is the only state
carried, so peak memory does not grow with the number of segments.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import torch

from rmt.cuda_graph import graphed_step, graphs_enabled
from rmt.device import inference_dtype
from rmt.model import RecurrentMemoryTransformer
from rmt.segments import segment_bounds


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
    truncation to the window the encoder can see). On CUDA every full segment is one CUDA-graph
    replay (``rmt.cuda_graph``); the CPU runs the step eagerly.
    """
    device = model.device
    text_len = model.config.text_per_segment
    bounds = segment_bounds(token_ids.shape[1], text_len)
    if last_segments is not None:
        bounds = bounds[-last_segments:]
    use_graph = graphs_enabled(device)
    if use_graph:  # the whole haystack goes to the GPU once (8 MB per 2M tokens): no copy per segment
        tokens = torch.from_numpy(np.ascontiguousarray(token_ids[:, bounds[0][0] :])).to(device)
        offset = bounds[0][0]
    memory = model.init_memory(token_ids.shape[0])
    logits = None
    for i, (a, b) in enumerate(bounds):
        if stop is not None and stop.is_set():
            raise InterruptedError("stopped")
        if use_graph and b - a == text_len:
            step = graphed_step(model, token_ids.shape[0], text_len)
            memory, logits = step(memory, tokens[:, a - offset : b - offset])
        else:
            ids, mask = segment_inputs(model, torch.from_numpy(np.ascontiguousarray(token_ids[:, a:b])), device)
            out = model.step(memory, ids, mask)
            memory, logits = out.memory, out.logits
        if on_segment is not None:
            on_segment(i + 1, len(bounds))
    return logits.to(torch.float32, copy=True)  # on CUDA it may be a graph's static buffer


@dataclass
class SegmentRecord:
    """What the app keeps for every segment of a live run: a few numbers, never activations."""

    index: int
    token_start: int
    token_end: int
    probabilities: list[float] | None  # the answer if the question were asked now
    memory_change: float  # relative change of the memory state over this segment


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
) -> Iterator[LiveRun]:
    """Run one haystack segment by segment, yielding the growing LiveRun after every segment.

    The caller decides how often to show it; the loop itself keeps only the small records and
    the sparse snapshots. ``probe_every`` sets how often the question is asked of the memory.
    """
    device = model.device
    bounds = segment_bounds(len(token_ids), model.config.text_per_segment)
    run = LiveRun(len(token_ids), len(bounds), snapshot_interval(len(bounds), max_snapshots))
    memory = model.init_memory(1)
    started = time.perf_counter()
    for i, (a, b) in enumerate(bounds):
        if stop is not None and stop.is_set():
            run.stopped = True
            break
        if i % run.snapshot_every == 0:
            run.snapshots[i] = memory.detach().float().cpu().clone()
        ids, mask = segment_inputs(model, torch.from_numpy(np.asarray(token_ids[a:b], dtype=np.int64))[None], device)
        out = model.step(memory, ids, mask)
        change = float((out.memory.float() - memory.float()).norm() / memory.float().norm().clamp_min(1e-6))
        memory = out.memory
        last = i == len(bounds) - 1
        probabilities = None
        if last:
            probabilities = out.logits.float().softmax(-1)[0].tolist()
            run.final_probabilities = probabilities
        elif i % probe_every == 0:
            probabilities = model.answer(memory, question_ids).float().softmax(-1)[0].tolist()
        run.records.append(SegmentRecord(i, a, b, probabilities, change))
        run.seconds.append(time.perf_counter() - started)
        yield run


@torch.inference_mode()
def inspect_segment(
    model: RecurrentMemoryTransformer, token_ids: np.ndarray, run: LiveRun, index: int, layers: list[int]
) -> tuple[torch.Tensor, dict[int, torch.Tensor], list[int]]:
    """Re-run segment ``index`` from the nearest stored memory with attention recorded.

    Returns (input ids [L], layer -> attention [heads, L, L] as float32, the segment's text ids).
    """
    bounds = segment_bounds(len(token_ids), model.config.text_per_segment)
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
