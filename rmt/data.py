"""Samples for training and evaluation: haystacks of a given number of segments, with labels."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass

import numpy as np

from rmt.haystack import Haystack, build_haystack, noise_window, reask
from rmt.noise import load_corpus
from rmt.room_sentences import draw_room_sentences
from rmt.segments import Reading, fact_cuts, text_bounds
from rmt.tasks import NAMES, ROOMS, TASKS, check_task, other_questions, relation_slots

# Reasoning is the hard task, so the multi-task mix gives it the largest share.
TASK_MIX = {"memorize": 0.2, "detect": 0.35, "reasoning": 0.45}


@dataclass
class Batch:
    token_ids: list[np.ndarray]
    labels: list[int]
    tasks: list[str]
    question_starts: list[int | None]  # where the question begins when it is a segment of its own
    slot_targets: list[list[int] | None]  # relation_slots of a Reasoning haystack read wholly into memory
    slots_held: list[int]  # how many last segments each enter with both facts in memory (0: none)


def task_list(spec: str) -> list[str]:
    """``mix`` (all three), one task, or a comma list."""
    if spec == "mix":
        return list(TASKS)
    return [check_task(t) for t in spec.split(",")]


def sample_length(num_segments: int, text_per_segment: int, rng: random.Random) -> int:
    """A length whose right-aligned split has exactly ``num_segments`` segments."""
    low = (num_segments - 1) * text_per_segment + 1
    if num_segments == 1:
        low = min(48, text_per_segment)  # room for the facts and the question
    return rng.randint(low, num_segments * text_per_segment)


def make_sample(
    task: str,
    num_segments: int,
    text_per_segment: int,
    tokenizer,
    rng: random.Random,
    noise: str,
    question_alone_prob: float = 0.0,
    other_people_prob: float = 0.0,
    asked: tuple[str, ...] = NAMES,
    room_noise_prob: float = 0.0,
    planted_rooms: float = 0.0,
    cut_facts: float = 0.0,
) -> tuple[Haystack, int | None]:
    """One haystack, and where its question starts if the question is to be a segment of its own.

    The app asks "what would the model answer now?" after every segment by feeding the question
    alone with the current memory; training on that layout too makes that live answer honest.
    Right-aligned segmentation cannot put a short question alone in the last segment (it would
    fill that segment from the text before it), so the start is handed on to ``segment_batch``.
    With ``other_people_prob`` a Memorize or Detect haystack also holds facts about 1-3 other
    people, so the model must keep each room with its name. With ``room_noise_prob`` a haystack
    also holds 1-3 sentences of the noise's books that name a room, none of them a fact, so the
    model must learn that only a person's move is one; ``planted_rooms`` is the share of those that
    are other sentences with a room planted in them (``rmt.room_sentences.plant_room``). With
    ``cut_facts`` that share of haystacks has a fact cut in two by a segment boundary: chance gives
    about one in 25, and those are where Detect loses most of its facts (``rmt.cuts``). Each
    option draws from the rng only when set, so older runs' batches stay the same.
    """

    def draw() -> tuple[Haystack, int | None]:  # one haystack with every option but cut_facts
        seed = rng.randrange(2**31)
        others = 0
        if other_people_prob > 0 and task != "reasoning" and rng.random() < other_people_prob:
            others = rng.randint(1, len(NAMES) - 1)
        distractors: list[str] = []
        if room_noise_prob > 0 and rng.random() < room_noise_prob:
            distractors = draw_room_sentences(noise, rng.randint(1, 3), rng, planted_rooms)
        build = functools.partial(
            build_haystack,
            task,
            tokenizer=tokenizer,
            seed=seed,
            noise=noise,
            other_people=others,
            asked=asked,
            distractors=distractors,
        )
        if num_segments > 1 and rng.random() < question_alone_prob:
            probe = build((num_segments - 1) * text_per_segment + 1)  # only to learn the question's length
            hay = build((num_segments - 1) * text_per_segment + probe.num_tokens - probe.question_token_start)
            return hay, hay.question_token_start  # (num_segments - 1) full segments, then the question
        return build(sample_length(num_segments, text_per_segment, rng)), None

    if cut_facts <= 0 or rng.random() >= cut_facts:
        return draw()
    for _ in range(CUT_TRIES):  # a fact is cut about one draw in 25
        hay, question_start = draw()
        if fact_cuts(hay, Reading(text_per_segment), question_start):
            break
    return hay, question_start


# Draws of a haystack before one with a cut fact is given up on (about 2% of the time at 4% a draw).
CUT_TRIES = 100


def ask_again(hay: Haystack, tokenizer, rng: random.Random, asked: tuple[str, ...] = NAMES) -> Haystack | None:
    """The haystack asked about another of its facts (another answer), or None if it has none."""
    choices = other_questions([f.text for f in hay.facts], hay.question, hay.answer, asked)
    return reask(hay, *rng.choice(choices), tokenizer) if choices else None


def memory_slot_targets(
    hay: Haystack, question_start: int | None, text_per_segment: int
) -> tuple[list[int] | None, int]:
    """What the memory should hold, slot by slot, once a Reasoning haystack's facts are read, and
    how many of its last segments enter with them read; (None, 0) for any other haystack."""
    if hay.task != "reasoning" or not hay.facts:
        return None, 0
    read_by = max(f.token_end for f in hay.facts)
    bounds = text_bounds(hay.token_ids, Reading(text_per_segment), question_start)  # as training lays it out
    held = sum(start >= read_by for start, _ in bounds)
    return (relation_slots([f.text for f in hay.facts]), held) if held else (None, 0)


def parse_mix(spec: str | None) -> dict[str, float]:
    """``reasoning=0.7,detect=0.2,memorize=0.1`` -> weights; None -> the default mix."""
    if not spec:
        return dict(TASK_MIX)
    weights = {check_task(k): float(v) for k, v in (part.split("=") for part in spec.split(","))}
    return {t: weights.get(t, 0.0) for t in TASK_MIX}


def make_batch(
    tasks: list[str],
    num_segments: int,
    batch_size: int,
    text_per_segment: int,
    tokenizer,
    rng: random.Random,
    noise: str = "train",
    question_alone_prob: float = 0.0,
    mix: dict[str, float] | None = None,
    other_people_prob: float = 0.0,
    asked: tuple[str, ...] = NAMES,
    ask_twice: bool = False,
    room_noise_prob: float = 0.0,
    planted_rooms: float = 0.0,
    cut_facts: float = 0.0,
) -> Batch:
    """``ask_twice`` puts each haystack in the batch twice, the second time asked about another of
    its facts: the same memory must then give two answers, which only reading the question can do."""
    weights = [(mix or TASK_MIX)[t] for t in tasks]
    chosen = rng.choices(tasks, weights=weights, k=batch_size)
    samples: list[tuple[Haystack, int | None]] = []
    for t in chosen:
        hay, question_start = make_sample(
            t,
            num_segments,
            text_per_segment,
            tokenizer,
            rng,
            noise,
            question_alone_prob,
            other_people_prob,
            asked,
            room_noise_prob,
            planted_rooms,
            cut_facts,
        )
        samples.append((hay, question_start))
        if ask_twice and (again := ask_again(hay, tokenizer, rng, asked)) is not None:
            samples.append((again, question_start))
        if len(samples) >= batch_size:
            break
    samples = samples[:batch_size]
    slots = [memory_slot_targets(h, q, text_per_segment) for h, q in samples]
    return Batch(
        [h.token_ids for h, _ in samples],
        [ROOMS.index(h.answer) for h, _ in samples],
        [h.task for h, _ in samples],
        [q for _, q in samples],
        [targets for targets, _ in slots],
        [held for _, held in slots],
    )


def noise_tokens(num_tokens: int, tokenizer, rng: random.Random, noise: str) -> np.ndarray:
    """``num_tokens`` tokens of plain noise from a random sentence on: what a memory reads between
    facts, for ``rmt.train --drift``."""
    corpus = load_corpus(noise, tokenizer)
    return noise_window(corpus, rng.randrange(corpus.num_sentences), num_tokens, tokenizer).token_ids


def with_noise_prefix(batch: Batch, num_segments: int, text_per_segment: int, tokenizer, rng, noise: str) -> Batch:
    """The batch with ``num_segments`` full segments of noise before every haystack.

    Validation of ``rmt.train --drift``: a haystack read after a long stretch of noise, as its
    facts are at 1,000 segments. A whole number of segments keeps each haystack's segment bounds
    (only its first, partial segment fills up with noise), so ``slots_held`` still holds.
    """
    size = num_segments * text_per_segment
    prefixes = [noise_tokens(size, tokenizer, rng, noise) for _ in batch.token_ids]
    return Batch(
        [np.concatenate([p, ids]) for p, ids in zip(prefixes, batch.token_ids, strict=True)],
        batch.labels,
        batch.tasks,
        [None if q is None else q + size for q in batch.question_starts],
        batch.slot_targets,
        batch.slots_held,
    )
