from __future__ import annotations

import itertools
import random

import pytest

from rmt.haystack import build_haystack
from rmt.model import RMTConfig
from rmt.segments import (
    Reading,
    fact_cuts,
    num_segments,
    segment_batch,
    segment_bounds,
    segment_layout,
    segment_of,
    sentence_end_ids,
    snapped_bounds,
    text_bounds,
)
from rmt.tasks import LONGEST_FACT_TOKENS


@pytest.mark.parametrize("length", [1, 5, 6, 7, 12, 13, 100])
def test_segments_round_trip_and_are_right_aligned(length: int) -> None:
    ids = list(range(length))
    chunks = [ids[a:b] for a, b in segment_bounds(length, 6)]
    assert [t for c in chunks for t in c] == ids
    assert all(len(c) == 6 for c in chunks[1:])  # every segment but the first is full
    assert 1 <= len(chunks[0]) <= 6
    assert chunks[-1][-1] == length - 1  # the question (the end) is in the last segment


@pytest.mark.parametrize("length", [1, 115, 116, 1000])
def test_segment_of_agrees_with_bounds(length: int) -> None:
    bounds = segment_bounds(length, 115)
    for i, (a, b) in enumerate(bounds):
        assert segment_of(bounds, a) == i and segment_of(bounds, b - 1) == i


def test_bounds_cover_the_sequence_without_gaps() -> None:
    bounds = segment_bounds(1000, 115)
    assert bounds[0][0] == 0 and bounds[-1][1] == 1000
    assert all(a[1] == b[0] for a, b in itertools.pairwise(bounds))


@pytest.mark.parametrize("length", [1, 16, 17, 99, 100, 115, 116, 131, 132, 1000, 29440])
def test_overlapping_segments_reread_the_last_tokens_and_end_on_the_question(length: int) -> None:
    bounds = segment_bounds(length, 115, overlap=16)
    assert len(bounds) == num_segments(length, 115, overlap=16)
    assert bounds[0][0] == 0 and bounds[-1][1] == length
    assert all(0 < b - a <= 115 for a, b in bounds)
    assert all(b - a == 115 for a, b in bounds[1:])  # every segment but the first is full
    # each segment starts 16 tokens before the one before it ended: no gap, and nothing re-read twice over
    assert all(nxt[0] == prev[1] - 16 for prev, nxt in itertools.pairwise(bounds))
    assert bounds[0][1] > 16 or len(bounds) == 1  # the first segment is never all re-read by the second
    for i, (a, b) in enumerate(bounds):  # the segment that reads a token first
        assert segment_of(bounds, b - 1) == i
        assert segment_of(bounds, a) == max(0, i - 1) or a == 0
    assert segment_bounds(length, 115, overlap=0) == segment_bounds(length, 115)


def test_overlap_must_leave_new_text_in_every_segment() -> None:
    RMTConfig(segment_size=128, segment_overlap=114)  # 115 text tokens: one new token a segment
    with pytest.raises(ValueError, match="segment_overlap must be from 0 to 114"):
        RMTConfig(segment_size=128, segment_overlap=115)
    with pytest.raises(ValueError, match="segment_overlap"):
        RMTConfig(segment_size=128, segment_overlap=-1)


def test_batch_with_overlap_rereads_the_tail_of_the_segment_before() -> None:
    config = RMTConfig(num_mem_tokens=2, segment_size=10, segment_overlap=2)  # 5 text tokens, 3 of them new
    (first, second, third) = segment_batch([list(range(11))], config)
    assert [first.text_ids[0], second.text_ids[0], third.text_ids[0]] == [
        [0, 1, 2, 3, 4],
        [3, 4, 5, 6, 7],
        [6, 7, 8, 9, 10],
    ]


def test_layout_puts_memory_right_after_cls() -> None:
    config = RMTConfig(num_mem_tokens=3, segment_size=16)
    assert segment_layout([7, 8], config) == [101, 0, 0, 0, 102, 7, 8, 102]
    assert config.text_per_segment == 10


def test_batch_of_mixed_lengths_aligns_on_the_last_segment() -> None:
    config = RMTConfig(num_mem_tokens=2, segment_size=10)  # 5 text tokens per segment
    segments = segment_batch([list(range(12)), list(range(3))], config)
    assert len(segments) == 3
    assert segments[0].active.tolist() == [True, False]  # the short sample joins later
    assert segments[-1].active.tolist() == [True, True]
    assert segments[-1].text_ids == [[7, 8, 9, 10, 11], [0, 1, 2]]
    assert segments[-1].attention_mask.sum(1).tolist() == [2 + 2 + 5 + 1, 2 + 2 + 3 + 1]


def test_a_question_start_makes_the_question_a_segment_of_its_own() -> None:
    """Right alignment alone would fill the last segment from the text before a short question."""
    config = RMTConfig(num_mem_tokens=2, segment_size=10)  # 5 text tokens per segment
    body, question = list(range(10)), [50, 51]
    plain = segment_batch([body + question], config)
    assert plain[-1].text_ids == [[7, 8, 9, 50, 51]]  # what the old "question alone" samples were
    alone = segment_batch([body + question, list(range(12))], config, [10, None])
    assert [s.text_ids[0] for s in alone] == [[0, 1, 2, 3, 4], [5, 6, 7, 8, 9], [50, 51]]
    assert alone[-1].text_ids[1] == [7, 8, 9, 10, 11]  # the other sample is split as before


def test_a_question_alone_longer_than_a_segment_is_refused() -> None:
    config = RMTConfig(num_mem_tokens=2, segment_size=10)  # 5 text tokens per segment
    with pytest.raises(ValueError, match="must fit one segment"):
        segment_batch([list(range(12))], config, [4])  # 8 question tokens


ENDS = (1, 2)  # sentence-end ids of the snap tests' made-up texts


def test_snapped_bounds_without_a_sentence_end_are_the_plain_bounds() -> None:
    for length in (1, 114, 115, 116, 1000, 29440):
        assert snapped_bounds([7] * length, 115, 8, ENDS) == segment_bounds(length, 115)


@pytest.mark.parametrize("seed", range(6))
def test_snapped_starts_follow_the_first_sentence_end_near_a_plain_cut(seed: int) -> None:
    """Every segment but the first starts just after a sentence end where one lies among the ``snap`` tokens
    from the token before its plain start, else where a plain cut would; the text is covered once, in order."""
    rng = random.Random(seed)
    ids = [rng.choice([1, 2, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7]) for _ in range(rng.randint(1, 900))]
    bounds = snapped_bounds(ids, 20, 8, ENDS)
    assert bounds[0][0] == 0 and bounds[-1][1] == len(ids)
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(bounds))  # no gap, nothing read twice
    assert all(0 < b - a <= 20 for a, b in bounds)
    for (_, b), (_, after_end) in itertools.pairwise(bounds):  # a segment, and the one after it
        plain = after_end - 20
        window = [j for j in range(plain - 1, min(plain - 1 + 8, after_end - 1)) if ids[j] in ENDS]
        assert b == (window[0] + 1 if window else plain)


def test_a_snap_of_a_facts_length_cuts_no_fact_of_a_real_haystack(tokenizer) -> None:
    """Facts start after a sentence end and end with one: moved to the sentence end, no boundary cuts one."""
    config = RMTConfig(segment_size=128, segment_snap=LONGEST_FACT_TOKENS, sentence_end_ids=sentence_end_ids(tokenizer))
    plain_cut = snapped = 0
    for seed in range(40):
        hay = build_haystack("detect", 1840, tokenizer, seed=seed)
        plain_cut += bool(fact_cuts(hay, Reading(115)))
        snapped += bool(fact_cuts(hay, config))
        bounds = text_bounds(hay.token_ids, config)
        assert not any(f.token_start < b < f.token_end for f in hay.facts for _, b in bounds)
    assert plain_cut and not snapped  # some of these 40 a plain boundary cuts


def test_snap_is_refused_with_an_overlap_or_without_sentence_ends() -> None:
    RMTConfig(segment_size=128, segment_snap=8, sentence_end_ids=[1012])
    with pytest.raises(ValueError, match="choose one"):
        RMTConfig(segment_size=128, segment_snap=8, segment_overlap=7, sentence_end_ids=[1012])
    with pytest.raises(ValueError, match="sentence_end_ids"):
        RMTConfig(segment_size=128, segment_snap=8)
    with pytest.raises(ValueError, match="segment_snap must be from 0 to 114"):
        RMTConfig(segment_size=128, segment_snap=115, sentence_end_ids=[1012])


def test_a_snapped_batch_lays_each_row_out_by_its_own_sentence_ends() -> None:
    config = RMTConfig(num_mem_tokens=2, segment_size=10, segment_snap=3, sentence_end_ids=list(ENDS))  # 5 text
    row = [*range(10, 17), 1, *range(20, 24)]  # plainly [0, 2) [2, 7) [7, 12); the end "1" at 7 moves 7 to 8
    segments = segment_batch([row, list(range(30, 42))], config)
    assert [s.text_ids[0] for s in segments] == [[10, 11, 12], [13, 14, 15, 16, 1], [20, 21, 22, 23]]
    assert [s.text_ids[1] for s in segments] == [[30, 31], [32, 33, 34, 35, 36], [37, 38, 39, 40, 41]]
    assert segments[-1].attention_mask.sum(1).tolist() == [2 + 2 + 4 + 1, 2 + 2 + 5 + 1]  # padded to the longest
