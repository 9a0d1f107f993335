"""Memories that hold a Memorize fact and have read long noise since: ``rmt.train --held``.

A Memorize fact read in segment 1 has to outlast 17,000 segments of a book that names rooms, but
full BPTT over 32 segments only ever trains memories that read the fact a few segments ago. Each
pooled memory here wrote its fact from the initial memory and then reads more noise every step,
without gradient, so its age runs into the thousands of segments; a training row starts from one,
reads a stage of noise (with the book's room sentences, and the gradient) and is asked the fact.
"""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

from rmt.data import Batch, make_sample, noise_tokens
from rmt.model import RecurrentMemoryTransformer
from rmt.tasks import ROOMS


@dataclass
class HeldFacts:
    memory: torch.Tensor  # [P, M, H] float32, no gradient
    labels: list[int]  # the room (index in ROOMS) each memory was told
    questions: list[list[int]]  # the question's token ids that asks for it
    ages: list[int]  # segments read since the fact; -1: no fact yet


def save_held_facts(held: HeldFacts, folder: Path) -> None:
    """Written beside the resume state, so a resumed run goes on with memories as old as they were."""
    save_file({"memory": held.memory.detach().cpu().contiguous()}, str(folder / "held.safetensors"))
    fields = {"labels": held.labels, "questions": held.questions, "ages": held.ages}
    (folder / "held.json").write_text(json.dumps(fields))


def load_held_facts(folder: Path, device: torch.device | str) -> HeldFacts | None:
    """The pool ``save_held_facts`` wrote, or None where a state has none (a run started without --held)."""
    if not (folder / "held.json").exists():
        return None
    memory = load_file(str(folder / "held.safetensors"), device=str(device))["memory"]
    return HeldFacts(memory, **json.loads((folder / "held.json").read_text()))


def empty_held_facts(model: RecurrentMemoryTransformer, size: int) -> HeldFacts:
    """``size`` rows that hold nothing yet: the first ``age_held_facts`` writes a fact into each."""
    memory = model.init_memory(size).detach().float().clone()  # [P, M, H]
    return HeldFacts(memory, [0] * size, [[] for _ in range(size)], [-1] * size)


def age_held_facts(
    model: RecurrentMemoryTransformer,
    held: HeldFacts,
    segments: int,
    reset_prob: float,
    tokenizer,
    rng: random.Random,
    noise: str,
    autocast,
) -> HeldFacts:
    """Every row reads ``segments`` more segments of noise (no gradient); with ``reset_prob``, or
    when it holds nothing, a row starts again from the initial memory with a new Memorize fact
    first, so ages spread over 0 to about ``segments / reset_prob`` and beyond."""
    size = segments * model.config.text_per_segment
    fresh = model.init_memory(len(held.labels)).detach().float()  # [P, M, H]
    reading: list[np.ndarray] = []
    labels, questions, ages = list(held.labels), list(held.questions), list(held.ages)
    restart = [age < 0 or rng.random() < reset_prob for age in held.ages]
    for row, again in enumerate(restart):
        if not again:
            reading.append(noise_tokens(size, tokenizer, rng, noise))
            ages[row] += segments
            continue
        hay, _ = make_sample("memorize", segments, model.config.text_per_segment, tokenizer, rng, noise)
        reading.append(hay.token_ids[: hay.question_token_start])
        labels[row], questions[row], ages[row] = ROOMS.index(hay.answer), hay.question_ids, segments
    start = torch.where(torch.tensor(restart, device=fresh.device)[:, None, None], fresh, held.memory)
    with torch.no_grad(), autocast():
        memory = model.carry(reading, start).float()
    return HeldFacts(memory, labels, questions, ages)


@torch.no_grad()
def held_accuracy(model: RecurrentMemoryTransformer, held: HeldFacts, autocast) -> float:
    """The share of pooled memories whose question, asked now, gets the room they were told."""
    was_training = model.training
    model.eval()
    with autocast():
        logits, _ = model.read(held.questions, memory=held.memory)
    model.train(was_training)
    return float((logits.argmax(-1).cpu() == torch.tensor(held.labels)).float().mean())


def with_held_rows(
    batch: Batch,
    start: torch.Tensor,
    held: HeldFacts,
    share: float,
    num_segments: int,
    text_per_segment: int,
    tokenizer,
    rng: random.Random,
    noise: str,
    question_alone_prob: float = 0.0,
    room_noise_prob: float = 0.0,
    planted_rooms: float = 0.0,
) -> tuple[Batch, torch.Tensor, int]:
    """The batch with some Memorize rows (each with ``share``, at most one per pooled memory)
    replaced by a held row: the same kind of haystack without its fact, read from a pooled memory
    [M, H] and asked that memory's fact. Returns the batch, the start memories [B, M, H] and how
    many rows were replaced. Draws only from ``rng``, so the rest of the batch is unchanged."""
    token_ids, labels, question_starts = list(batch.token_ids), list(batch.labels), list(batch.question_starts)
    start = start.clone()
    used = 0
    for row, task in enumerate(batch.tasks):
        if used == len(held.labels) or task != "memorize" or rng.random() >= share:
            continue
        hay, question_start = make_sample(
            "memorize",
            num_segments,
            text_per_segment,
            tokenizer,
            rng,
            noise,
            question_alone_prob,
            room_noise_prob=room_noise_prob,
            planted_rooms=planted_rooms,
        )
        fact = hay.facts[0]
        ids = hay.token_ids
        noise_ids = np.concatenate([ids[: fact.token_start], ids[fact.token_end : hay.question_token_start]])
        token_ids[row] = np.concatenate([noise_ids, np.asarray(held.questions[used], dtype=ids.dtype)])
        labels[row] = held.labels[used]
        question_starts[row] = len(noise_ids) if question_start is not None else None
        start[row] = held.memory[used].to(start.dtype)
        used += 1
    return replace(batch, token_ids=token_ids, labels=labels, question_starts=question_starts), start, used
