"""Is each room kept with its person, and is it lost in the writing or in the reading?

    python -m rmt.binding --checkpoint checkpoints/rmt-minilm-babi --others 1 --samples 2000 --json

With facts about several people the model must answer the asked person's room, not any room it
read. Each haystack here is exactly two segments: all the facts open the first (in random order),
the question about one fixed person ends the second. Two readings of the same haystacks:

- ``model``: how often the model answers the asked person's room, and how often another person's.
  Chance, for a model that keeps the rooms but not who went where, is 1 / (others + 1).
- ``probe``: a linear classifier trained on the memory after the first segment (three quarters
  of the haystacks) to name the asked person's room, scored on the rest. One weight matrix per
  fixed person, so it needs the memory to keep that person's room apart from the others'.

A probe far above the model means the memory holds who went where and the second segment fails
to read it out; a probe near chance means the first segment never wrote it. ``--question-alone``
makes the second segment the question alone (the app's live answer), with no book text beside it.

``--relations`` asks the same of Reasoning: both relation facts open the first segment, and the
question always asks what is ``--direction`` of the room they share, so the probe has one target.
Chance for a memory that keeps both rooms but not their directions is then 1/2.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import random
import sys
from collections.abc import Callable

import numpy as np
import torch

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.device import pick_device
from rmt.haystack import build_custom_haystack, count_tokens
from rmt.inference import prepare_for_inference
from rmt.segments import segment_batch
from rmt.tasks import NAMES, OPPOSITE, ROOMS, location_fact, relation_facts, rooms_named


def two_segment_haystacks(
    tokenizer,
    text_per_segment: int,
    samples: int,
    draw: Callable[[random.Random], tuple[list[str], str, list[str]]],
    seed: int = 0,
    question_alone: bool = False,
) -> tuple[list[np.ndarray], list[list[int]], list[int | None]]:
    """Two-segment haystacks from ``draw(rng) -> (facts, question, rooms)``, the asked room first: the
    facts open the first segment, the question ends the second. Token ids, each one's rooms as class
    ids, and where the question starts when it is to be a segment of its own."""
    rng = random.Random(seed)
    token_ids, room_ids = [], []
    for i in range(samples):
        facts, question, rooms = draw(rng)
        length = text_per_segment + (count_tokens([question], tokenizer) if question_alone else text_per_segment)
        hay = build_custom_haystack(None, facts, question, length, tokenizer, answer=rooms[0], depth=0.0, seed=i)
        token_ids.append(hay.token_ids)
        room_ids.append([ROOMS.index(r) for r in rooms])
    starts = [text_per_segment if question_alone else None] * samples
    return token_ids, room_ids, starts


def binding_haystacks(
    tokenizer,
    text_per_segment: int,
    samples: int,
    others: int,
    asked: str = "Mary",
    seed: int = 0,
    question_alone: bool = False,
) -> tuple[list[np.ndarray], list[list[int]], list[int | None]]:
    """Facts about ``asked`` and ``others`` other people, in random order; "Where is ``asked``?"."""

    def draw(rng: random.Random) -> tuple[list[str], str, list[str]]:
        people = [asked, *rng.sample([n for n in NAMES if n != asked], others)]
        rooms = rng.sample(ROOMS, len(people))
        facts = [location_fact(rng, p, r)[0] for p, r in zip(people, rooms, strict=True)]
        rng.shuffle(facts)
        return facts, f"Where is {asked}?", rooms

    return two_segment_haystacks(tokenizer, text_per_segment, samples, draw, seed, question_alone)


def relation_haystacks(
    tokenizer,
    text_per_segment: int,
    samples: int,
    direction: str = "east",
    seed: int = 0,
    question_alone: bool = False,
) -> tuple[list[np.ndarray], list[list[int]], list[int | None]]:
    """Reasoning's two relation facts, the question about ``direction``; rooms: the asked one, then
    the other fact's. A memory that keeps both rooms but not which direction went with which scores
    half of these; a probe for the ``direction`` room then reads it no better."""

    def draw(rng: random.Random) -> tuple[list[str], str, list[str]]:
        facts, question, answer = relation_facts(rng, asked_direction=direction)
        asked_fact, other_fact = sorted(facts, key=lambda fact: answer not in rooms_named(fact))
        (other,) = rooms_named(other_fact) - rooms_named(asked_fact)  # not the room both facts share
        return facts, question, [answer, other]

    return two_segment_haystacks(tokenizer, text_per_segment, samples, draw, seed, question_alone)


@torch.inference_mode()
def memory_and_answers(
    model, token_ids: list[np.ndarray], question_starts: list[int | None], batch_size: int = 100
) -> tuple[torch.Tensor, np.ndarray]:
    """The memory after the first segment, flattened [N, M*H], and the model's answers [N].

    The haystacks are exactly two plain segments, so they are laid out plainly whatever overlap or snap the model is
    read with: an overlap would make the second segment re-read the first's end, and three segments of them.
    """
    plain = dataclasses.replace(model.config, segment_overlap=0, segment_snap=0)
    memories, answers = [], []
    for start in range(0, len(token_ids), batch_size):
        rows = slice(start, start + batch_size)
        first, second = segment_batch(token_ids[rows], plain, question_starts[rows])  # exactly two
        memory = model.init_memory(len(first.text_ids))
        written = model.step(memory, first.input_ids.to(model.device), first.attention_mask.to(model.device))
        read = model.step(written.memory, second.input_ids.to(model.device), second.attention_mask.to(model.device))
        memories.append(written.memory.float().cpu().reshape(len(first.text_ids), -1))  # [B, M*H]
        answers.append(read.logits.argmax(-1).cpu().numpy())
    return torch.cat(memories), np.concatenate(answers)


def fit_probe(features: torch.Tensor, labels: list[int], train: int, steps: int = 400, seed: int = 0) -> dict:
    """A linear classifier fitted on the first ``train`` rows; accuracy on those and on the rest."""
    torch.manual_seed(seed)
    x = features.float()
    mean, std = x[:train].mean(0), x[:train].std(0) + 1e-5  # scaled on the training rows only
    x = (x - mean) / std
    y = torch.tensor(labels)
    probe = torch.nn.Linear(x.shape[1], int(y.max()) + 1)
    optimizer = torch.optim.AdamW(probe.parameters(), lr=1e-2, weight_decay=1e-2)
    with torch.enable_grad():
        for _ in range(steps):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(probe(x[:train]), y[:train]).backward()
            optimizer.step()
    with torch.no_grad():
        right = probe(x).argmax(-1) == y
    return {"train": right[:train].float().mean().item(), "test": right[train:].float().mean().item()}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--others", type=int, default=1, help=f"other people in each haystack (1-{len(NAMES) - 1})")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--asked", default="Mary", choices=NAMES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--question-alone", action="store_true", help="the second segment holds only the question")
    parser.add_argument(
        "--relations", action="store_true", help="Reasoning's two relation facts instead of people (ignores --others)"
    )
    parser.add_argument("--direction", default="east", choices=list(OPPOSITE), help="asked with --relations")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.relations:
        args.others = 1  # the other fact is the one "other" answer
    if not 1 <= args.others <= len(NAMES) - 1:
        parser.error(f"--others must be between 1 and {len(NAMES) - 1}: there are {len(NAMES)} names")
    if args.samples < 20:
        parser.error("--samples must be at least 20: the probe trains on three quarters of them")
    model = prepare_for_inference(load_checkpoint(args.checkpoint), pick_device(args.device))
    tokenizer = load_checkpoint_tokenizer(args.checkpoint)
    per_segment = model.config.text_per_segment
    if args.relations:
        token_ids, rooms, starts = relation_haystacks(
            tokenizer, per_segment, args.samples, args.direction, args.seed, args.question_alone
        )
    else:
        token_ids, rooms, starts = binding_haystacks(
            tokenizer, per_segment, args.samples, args.others, args.asked, args.seed, args.question_alone
        )
    memories, answers = memory_and_answers(model, token_ids, starts, args.batch_size)
    train = int(0.75 * args.samples)
    asked = [r[0] for r in rooms]
    held_out = list(zip(answers[train:], rooms[train:], strict=True))
    result = {
        "checkpoint": args.checkpoint,
        "others": args.others,
        "relations": args.relations,
        "asked": f"what is {args.direction} of" if args.relations else args.asked,
        "question_alone": args.question_alone,
        "samples": args.samples,
        "held_out": args.samples - train,
        "chance": 1 / (args.others + 1),
        "model": {
            "asked_room": float(np.mean([answer == r[0] for answer, r in held_out])),
            "other_room": float(np.mean([answer in r[1:] for answer, r in held_out])),
        },
        "probe": fit_probe(memories, asked, train),
        "command": "python -m rmt.binding " + " ".join(sys.argv[1:] if argv is None else argv),
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(
            f"{args.others} other(s): the model answers {result['asked']}'s room {result['model']['asked_room']:.1%} "
            f"(chance {result['chance']:.0%}); a linear probe on the memory reads it "
            f"{result['probe']['test']:.1%} (train {result['probe']['train']:.1%})"
        )
    return result


if __name__ == "__main__":
    main()
