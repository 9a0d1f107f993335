"""Right-aligned segmentation and the per-segment token layout.

The question ends the last segment, so segments are cut from the end: the first segment is the
short one. In a batch of different lengths every sample's last segment lines up; a sample with
fewer segments is inactive at the early steps and joins later with the initial memory.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
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


SENTENCE_ENDS = (".", "!", "?")  # tokens after which a sentence, and so a fact, may start


@dataclass(frozen=True)
class Reading:
    """How a haystack is cut into segments, without a model: what an ``rmt.evaluate`` run records of its
    reading, for the tools that rebuild its haystacks (``rmt.cuts``, ``rmt.misses``); ``text_bounds`` takes
    this or an ``RMTConfig``."""

    text_per_segment: int
    segment_overlap: int = 0
    segment_snap: int = 0
    sentence_end_ids: tuple[int, ...] = ()

    @classmethod
    def of_run(cls, run: dict, text_per_segment: int, tokenizer) -> Reading:
        """The reading of an ``rmt.evaluate --json`` run (one from before an option existed read without it)."""
        snap = run.get("segment_snap", 0)
        ends = tuple(sentence_end_ids(tokenizer)) if snap else ()
        return cls(text_per_segment, run.get("segment_overlap", 0), snap, ends)


def check_overlap(overlap: int, text_per_segment: int, name: str = "overlap") -> None:
    """Refuse an overlap that leaves a segment no new text (or is negative): the stride would be 0 or less."""
    if not 0 <= overlap < text_per_segment:
        raise ValueError(
            f"{name} must be from 0 to {text_per_segment - 1} (the text tokens of a segment), got {overlap}"
        )


def check_snap(snap: int, overlap: int, text_per_segment: int, sentence_end_ids: Sequence[int]) -> None:
    """Refuse a snap that could empty a segment, that comes with an overlap, or that has no sentence end to move to."""
    if not 0 <= snap < text_per_segment:
        raise ValueError(f"segment_snap must be from 0 to {text_per_segment - 1} tokens, got {snap}")
    if snap and overlap:
        raise ValueError("segment_snap and segment_overlap are two ways to keep facts whole: choose one")
    if snap and not sentence_end_ids:
        raise ValueError("segment_snap needs the ids of the sentence-end tokens (sentence_end_ids) to move to")


def sentence_end_ids(tokenizer) -> list[int]:
    """The ids of SENTENCE_ENDS in ``tokenizer``'s vocabulary: where ``snapped_bounds`` may end a segment."""
    ids = tokenizer.convert_tokens_to_ids(list(SENTENCE_ENDS))
    if tokenizer.unk_token_id in ids:
        raise ValueError(f"the tokenizer has no single token for each of {' '.join(SENTENCE_ENDS)}")
    return ids


def num_segments(num_tokens: int, text_per_segment: int, overlap: int = 0) -> int:
    """Segments of at most ``text_per_segment`` tokens whose ends lie ``text_per_segment - overlap`` apart."""
    return max(1, math.ceil((num_tokens - overlap) / (text_per_segment - overlap)))


def first_segment_length(num_tokens: int, text_per_segment: int, overlap: int = 0) -> int:
    """Right alignment leaves the remainder to the first segment."""
    stride = text_per_segment - overlap
    return num_tokens - (num_segments(num_tokens, text_per_segment, overlap) - 1) * stride


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


def snapped_bounds(
    token_ids: Sequence[int], text_per_segment: int, snap: int, sentence_end_ids: Sequence[int]
) -> list[tuple[int, int]]:
    """(start, end) of each segment's text, cut from the end with every start moved to a sentence start.

    A segment is cut ``text_per_segment`` tokens back from the end of the next one, as plainly; then its
    start moves forward to just after the first sentence end among the ``snap`` tokens from the token
    before it, where there is one. A fact starts after a sentence end and ends with one, so with ``snap``
    at least its length (``rmt.tasks.LONGEST_FACT_TOKENS``) no boundary falls inside it, and unlike an
    overlap nothing is read twice; a segment is then up to ``snap - 1`` tokens short (about 1% more
    segments on the held-out book). With no sentence end near any boundary this is ``segment_bounds``.
    """
    ends = np.flatnonzero(np.isin(np.asarray(token_ids), list(sentence_end_ids))).tolist()  # positions, sorted
    bounds = []
    end = len(token_ids)
    while end > text_per_segment:
        start = end - text_per_segment
        k = bisect.bisect_left(ends, start - 1)  # the first sentence end at or after the token before the start
        if k < len(ends) and ends[k] < min(start - 1 + snap, end - 1):
            start = ends[k] + 1
        bounds.append((start, end))
        end = start
    bounds.append((0, end))
    return bounds[::-1]


def segment_of(bounds: Sequence[tuple[int, int]], token: int) -> int:
    """Which of ``bounds``' segments reads token position ``token`` first: the first that ends after it
    (with an overlap the next one reads it again)."""
    return bisect.bisect_right(bounds, token, key=lambda bound: bound[1])  # ends rise: no list of them built


def text_bounds(
    token_ids: Sequence[int], config: RMTConfig | Reading, question_start: int | None = None
) -> list[tuple[int, int]]:
    """(start, end) of each segment of a haystack as ``config`` reads it: from its tokens where it snaps
    segment ends to sentence ends, else from its length alone (with its overlap). ``question_start``
    makes the question a segment of its own, after the text before it laid out as above (training's
    ``--question-alone`` layout, and the app's live answer)."""
    if question_start is not None:
        return [*text_bounds(token_ids[:question_start], config), (question_start, len(token_ids))]
    if config.segment_snap:
        return snapped_bounds(token_ids, config.text_per_segment, config.segment_snap, config.sentence_end_ids)
    return segment_bounds(len(token_ids), config.text_per_segment, config.segment_overlap)


def fact_cuts(hay: Haystack, reading: RMTConfig | Reading, question_start: int | None = None) -> list[tuple[int, int]]:
    """(fact index, token where a segment ends inside that fact) for every fact no segment reads whole.

    Such a fact is read half in one segment and half in the next, so the memory has to join the
    halves: evaluation counts these (``rmt.cuts``, ``rmt.evaluate --only-cut``) and training can ask
    for more of them (``rmt.train --cut-facts``). The haystack is laid out as ``text_bounds`` lays it out
    for ``reading``: with an overlap a fact the next segment re-reads whole is not cut, and with a snap of
    at least a fact's length (``snapped_bounds``) none is; ``Reading(text_per_segment)`` is the plain one.
    """
    bounds = text_bounds(hay.token_ids, reading, question_start)
    return [
        (i, end)
        for i, fact in enumerate(hay.facts)
        for (_, end), (next_start, _) in itertools.pairwise(bounds)
        if fact.token_start < end < fact.token_end and next_start > fact.token_start
    ]


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
    chunks = [[ids[a:b] for a, b in text_bounds(ids, config, q)] for ids, q in zip(token_ids, starts, strict=True)]
    return align_segments(chunks, config)


def align_segments(chunks: list[list[Sequence[int]]], config: RMTConfig) -> list[Segment]:
    """Each sample's text chunks as the steps of a batch, aligned on the last: a sample with fewer chunks
    joins later (``RecurrentMemoryTransformer.run_segments`` starts it from the initial memory)."""
    return list(iter_aligned_segments(chunks, config))


def iter_aligned_segments(chunks: list[list[Sequence[int]]], config: RMTConfig) -> Iterator[Segment]:
    """``align_segments`` one step at a time, so a long batch never holds all its segments at once."""
    total = max(len(c) for c in chunks)
    for step in range(total):
        active = torch.tensor([step >= total - len(c) for c in chunks])
        texts = [c[step - (total - len(c))] for c in chunks if step >= total - len(c)]
        yield pack_segment(texts, config, active)
