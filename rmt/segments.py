"""Right-aligned segmentation and the per-segment token layout.

The question ends the last segment, so segments are cut from the end: the first segment is the
short one. In a batch of different lengths every sample's last segment lines up; a sample with
fewer segments is inactive at the early steps and joins later with the initial memory.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from rmt.haystack import Haystack
    from rmt.model import RMTConfig


@dataclass
class Segment:
    """One step of a batch: the rows of the samples that have text at this step."""

    input_ids: torch.Tensor  # [A, L] for the A active samples, layout included
    attention_mask: torch.Tensor  # [A, L]
    active: torch.Tensor  # [B] bool: which samples of the batch are in this segment
    text_ids: list[list[int]]  # the text tokens of each active sample in this segment


def check_overlap(overlap: int, text_per_segment: int, name: str = "overlap") -> None:
    """Refuse an overlap that leaves a segment no new text (or is negative): the stride would be 0 or less."""
    if not 0 <= overlap < text_per_segment:
        raise ValueError(
            f"{name} must be from 0 to {text_per_segment - 1} (the text tokens of a segment), got {overlap}"
        )


def num_segments(num_tokens: int, text_per_segment: int, overlap: int = 0) -> int:
    """Segments of at most ``text_per_segment`` tokens whose ends lie ``text_per_segment - overlap`` apart."""
    return max(1, math.ceil((num_tokens - overlap) / (text_per_segment - overlap)))


def first_segment_length(num_tokens: int, text_per_segment: int, overlap: int = 0) -> int:
    """Right alignment leaves the remainder to the first segment."""
    stride = text_per_segment - overlap
    return num_tokens - (num_segments(num_tokens, text_per_segment, overlap) - 1) * stride


def segment_index(token: int, num_tokens: int, text_per_segment: int, overlap: int = 0) -> int:
    """Which segment reads token position ``token`` first (with an overlap the next one reads it again)."""
    first = first_segment_length(num_tokens, text_per_segment, overlap)
    return 0 if token < first else 1 + (token - first) // (text_per_segment - overlap)


def reading_segments(start: int, end: int, num_tokens: int, text_per_segment: int, overlap: int = 0) -> range:
    """Every segment that reads some token of ``[start, end)``, in order.

    Plainly a short fact is read by one segment, or by two when a boundary cuts it. With an overlap a
    fact near a boundary is also read again by the next segment, whole or in part: the plots band all
    of them, since any of them can be where the memory takes the fact in.
    """
    stride = text_per_segment - overlap
    first = first_segment_length(num_tokens, text_per_segment, overlap)
    # segment k >= 1 starts at first + k * stride - text_per_segment: the last one starting at or before end - 1
    last = min(num_segments(num_tokens, text_per_segment, overlap) - 1, (end - 1 + text_per_segment - first) // stride)
    return range(segment_index(start, num_tokens, text_per_segment, overlap), last + 1)


def segment_bounds(num_tokens: int, text_per_segment: int, overlap: int = 0) -> list[tuple[int, int]]:
    """(start, end) of each segment's text, cut from the end so the first segment is short.

    With ``overlap`` every segment after the first starts by re-reading the last ``overlap`` tokens
    of the one before, so a fact of at most ``overlap + 1`` tokens is read whole in some segment
    however the boundaries fall (``fact_cuts``); the price is ``overlap / text_per_segment`` more
    segments.
    """
    n = num_segments(num_tokens, text_per_segment, overlap)
    first = first_segment_length(num_tokens, text_per_segment, overlap)
    ends = [first + i * (text_per_segment - overlap) for i in range(n)]
    return [(0, first)] + [(end - text_per_segment, end) for end in ends[1:]]


def sample_bounds(
    num_tokens: int, text_per_segment: int, question_start: int | None = None, overlap: int = 0
) -> list[tuple[int, int]]:
    """(start, end) of each segment of one sample as ``segment_batch`` lays it out: right-aligned, or
    with ``question_start`` the text before the question right-aligned and the question a segment alone."""
    if question_start is None:
        return segment_bounds(num_tokens, text_per_segment, overlap)
    return [*segment_bounds(question_start, text_per_segment, overlap), (question_start, num_tokens)]


def fact_cuts(
    hay: Haystack, text_per_segment: int, question_start: int | None = None, overlap: int = 0
) -> list[tuple[int, int]]:
    """(fact index, token where a segment ends inside that fact) for every fact no segment reads whole.

    Such a fact is read half in one segment and half in the next, so the memory has to join the
    halves: evaluation counts these (``rmt.cuts``, ``rmt.evaluate --only-cut``) and training can ask
    for more of them (``rmt.train --cut-facts``). ``question_start`` lays the haystack out as
    ``sample_bounds`` does; with an ``overlap`` a fact the next segment re-reads whole is not cut.
    """
    bounds = sample_bounds(hay.num_tokens, text_per_segment, question_start, overlap)
    return [
        (i, end)
        for i, fact in enumerate(hay.facts)
        for (_, end), (next_start, _) in itertools.pairwise(bounds)
        if fact.token_start < end < fact.token_end and next_start > fact.token_start
    ]


def split_right_aligned(token_ids: Sequence[int], text_per_segment: int, overlap: int = 0) -> list[Sequence[int]]:
    """Chunks of at most ``text_per_segment`` tokens; slices, so a numpy array is not copied."""
    return [token_ids[a:b] for a, b in segment_bounds(len(token_ids), text_per_segment, overlap)]


def segment_layout(text_ids: Sequence[int], config: RMTConfig) -> list[int]:
    """``[CLS] [MEM]xM [SEP] text [SEP]``; memory slots hold [PAD] ids, replaced by embeddings."""
    m = config.num_mem_tokens
    return [config.cls_token_id] + [config.pad_token_id] * m + [config.sep_token_id, *text_ids, config.sep_token_id]


def pack_segment(texts: list[Sequence[int]], config: RMTConfig, active: torch.Tensor) -> Segment:
    """Lay out and right-pad one segment's texts to the longest of them (not to segment_size)."""
    rows = [segment_layout(t, config) for t in texts]
    width = max(len(r) for r in rows)
    input_ids = torch.full((len(rows), width), config.pad_token_id, dtype=torch.long)
    attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, row in enumerate(rows):
        input_ids[i, : len(row)] = torch.tensor(row, dtype=torch.long)
        attention_mask[i, : len(row)] = 1
    return Segment(input_ids, attention_mask, active, [list(t) for t in texts])


def segment_batch(
    token_ids: Sequence[Sequence[int]], config: RMTConfig, question_starts: Sequence[int | None] | None = None
) -> list[Segment]:
    """All segments of a batch, aligned on the last one.

    ``question_starts[i]`` (where given) makes sample i's question a last segment of its own, after
    its text split as usual: the layout of the app's live answer (``RecurrentMemoryTransformer.answer``).
    """
    starts = question_starts or [None] * len(token_ids)
    if any(q is not None and len(ids) - q > config.text_per_segment for ids, q in zip(token_ids, starts, strict=True)):
        raise ValueError(f"a question alone must fit one segment ({config.text_per_segment} text tokens)")
    chunks = [
        [ids[a:b] for a, b in sample_bounds(len(ids), config.text_per_segment, q, config.segment_overlap)]
        for ids, q in zip(token_ids, starts, strict=True)
    ]
    return align_segments(chunks, config)


def align_segments(chunks: list[list[Sequence[int]]], config: RMTConfig) -> list[Segment]:
    """Each sample's text chunks as the steps of a batch, aligned on the last: a sample with fewer chunks
    joins later (``RecurrentMemoryTransformer.run_segments`` starts it from the initial memory)."""
    total = max(len(c) for c in chunks)
    segments = []
    for step in range(total):
        active = torch.tensor([step >= total - len(c) for c in chunks])
        texts = [c[step - (total - len(c))] for c in chunks if step >= total - len(c)]
        segments.append(pack_segment(texts, config, active))
    return segments
