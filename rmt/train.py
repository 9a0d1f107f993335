"""Curriculum training: 1 segment, then each stage starts from the previous stage's best model.

    python -m rmt.train --out runs/mix --tasks mix --stages 1,2,4,7

Resumable: every ``--save-every`` steps the model, optimizer and step go to ``OUT/stage-N/last``
(safetensors + JSON, no pickle); the same command continues where it stopped. A stage ends at
``--max-steps``, when validation reaches ``--target`` twice in a row, or after ``--patience``
validations without improvement. Metrics go to ``OUT/log.jsonl``.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from tqdm import tqdm

from rmt.backbone import backbone_dir, load_tokenizer
from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer, save_checkpoint
from rmt.data import make_batch, noise_tokens, parse_mix, task_list, with_noise_prefix
from rmt.device import cpu_has_fast_bf16, pick_device
from rmt.held_facts import (
    HeldFacts,
    age_held_facts,
    empty_held_facts,
    held_accuracy,
    load_held_facts,
    save_held_facts,
    with_held_rows,
)
from rmt.model import RecurrentMemoryTransformer, RMTConfig, build_rmt
from rmt.tasks import NAMES, OPPOSITE, ROOMS


def tiny_rmt(
    segment_size: int, num_mem_tokens: int = 4, vocab_size: int = 30522, heads: int = 2, hidden_dropout: float = 0.1
) -> RecurrentMemoryTransformer:
    """A random 2-layer, 32-wide BERT inside an RMT: for fast tests of the code, never for users."""
    from transformers import BertConfig, BertModel

    bert = BertConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=heads,
        intermediate_size=64,
        max_position_embeddings=max(64, segment_size),
        attention_probs_dropout_prob=0.0,
        hidden_dropout_prob=hidden_dropout,
    )
    bert._attn_implementation = "sdpa"
    config = RMTConfig(
        segment_size=segment_size,
        num_mem_tokens=num_mem_tokens,
        class_names=list(ROOMS),
        backbone=bert.to_diff_dict() | {"model_type": "bert"},
    )
    return RecurrentMemoryTransformer(config, BertModel(bert))


def rows_by_chance(chance: float, rng, chosen: torch.Tensor, rest: torch.Tensor) -> torch.Tensor:
    """Row by row [B, M, H]: ``chosen``'s with ``chance`` (one draw of ``rng`` a row), else ``rest``'s."""
    picked = torch.tensor([rng.random() < chance for _ in range(len(chosen))], device=chosen.device)
    return torch.where(picked[:, None, None], chosen, rest)


def fresh_unless_drifting(
    start: torch.Tensor, fresh: torch.Tensor, row_tasks: list[str], drift_tasks: list[str] | None
) -> torch.Tensor:
    """Rows [B, M, H] of tasks outside ``drift_tasks`` (None: all may drift) start from ``fresh``.

    Memorize's fact is the first thing its memory reads; from a pooled memory it becomes a Detect
    haystack, and the run no longer trains a fresh memory to hold a fact over long noise.
    """
    if drift_tasks is None:
        return start
    keep = torch.tensor([task in drift_tasks for task in row_tasks], device=start.device)
    return torch.where(keep[:, None, None], start, fresh)


def drift_memories(
    model: RecurrentMemoryTransformer,
    pool: torch.Tensor,
    segments: int,
    reset_prob: float,
    tokenizer,
    rng,
    noise,
    autocast,
) -> torch.Tensor:
    """The pooled memories [P, M, H] after each reads ``segments`` more segments of noise (no gradient).

    A fact at segment 900 of 1,000 is written into a memory that has read 900 segments of noise, a
    state that 32-segment training never reaches. Each step a memory starts again from the initial
    one with ``reset_prob``, so their ages (in segments) spread over 0 to a few thousand.
    """
    start = rows_by_chance(reset_prob, rng, model.init_memory(len(pool)).detach(), pool)  # [P, M, H]
    size = segments * model.config.text_per_segment
    ids = [noise_tokens(size, tokenizer, rng, noise) for _ in range(len(pool))]
    with torch.no_grad(), autocast():
        return model.carry(ids, start).float()


@torch.inference_mode()
def validate(model: RecurrentMemoryTransformer, batches, device, autocast) -> float:
    model.eval()
    correct = total = 0
    for batch in batches:
        with autocast():
            logits = model(batch.token_ids, question_starts=batch.question_starts)
        correct += int((logits.argmax(-1).cpu() == torch.tensor(batch.labels)).sum())
        total += len(batch.labels)
    model.train()
    return correct / max(1, total)


def slot_head(model: RecurrentMemoryTransformer) -> nn.Linear:
    """The training-only reader of ``--slot-loss``: one memory slot -> a room, or none of them.

    The answer head must find a relation's room by the question's direction in a memory it cannot
    see laid out; this head asks slot k to hold the room in direction k, where the question's
    segment can address it by position. It is not part of the model a checkpoint ships.
    """
    return nn.Linear(model.config.backbone["hidden_size"], len(ROOMS) + 1).to(model.device)


def slot_loss(
    memories: list[torch.Tensor], targets: list[list[int] | None], held: list[int], head: nn.Linear
) -> torch.Tensor | None:
    """Mean cross-entropy of ``head`` on the first len(OPPOSITE) slots of every memory that enters
    a segment after a Reasoning haystack's facts were read (``held`` last segments of each row), or
    None when no row has any: the rooms must stay addressable through the noise, not only arrive."""
    pairs = [(i, s) for i, n in enumerate(held) for s in range(1, n + 1)]
    if not pairs:
        return None
    slots = torch.stack([memories[-s][i, : len(OPPOSITE)] for i, s in pairs]).float()  # [P, 4, H]
    wanted = torch.tensor([targets[i] for i, _ in pairs], device=slots.device)  # [P, 4]
    return nn.functional.cross_entropy(head(slots).flatten(0, 1), wanted.flatten())


def named_parameters(model: RecurrentMemoryTransformer, head: nn.Linear | None) -> dict[str, nn.Parameter]:
    """Everything the optimizer steps, by the names its saved state uses."""
    named = dict(model.named_parameters())
    if head is not None:
        named |= {f"slot_head.{n}": p for n, p in head.named_parameters()}
    return named


def save_state(
    folder: Path,
    model,
    optimizer,
    scheduler,
    meta: dict,
    tokenizer,
    head: nn.Linear | None = None,
    drift: torch.Tensor | None = None,
    held: HeldFacts | None = None,
) -> None:
    """Model as a checkpoint, optimizer moments as safetensors, counters as JSON: no pickle."""
    tmp = folder.with_name(folder.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    save_checkpoint(model, tmp, tokenizer, dtype=torch.float32)
    if drift is not None:
        save_file({"memory": drift.detach().cpu().contiguous()}, str(tmp / "drift.safetensors"))
    if held is not None:
        save_held_facts(held, tmp)
    if head is not None:
        save_file(
            {n: p.detach().cpu().contiguous() for n, p in head.state_dict().items()}, str(tmp / "slot_head.safetensors")
        )
    names = {p: n for n, p in named_parameters(model, head).items()}
    tensors = {}
    for param, state in optimizer.state.items():
        for key, value in state.items():
            tensors[f"{names[param]}::{key}"] = value.detach().cpu().contiguous()
    save_file(tensors, str(tmp / "optimizer.safetensors"))
    (tmp / "trainer.json").write_text(json.dumps(meta | {"scheduler": scheduler.state_dict()}, indent=1))
    shutil.rmtree(folder, ignore_errors=True)
    tmp.rename(folder)


def load_state(folder: Path, model, optimizer, scheduler, head: nn.Linear | None = None) -> dict:
    if head is not None:
        head.load_state_dict(load_file(str(folder / "slot_head.safetensors"), device=str(model.device)))
    params = named_parameters(model, head)
    for key, value in load_file(str(folder / "optimizer.safetensors")).items():
        name, field = key.split("::")
        optimizer.state[params[name]][field] = value.to(params[name].device)
    meta = json.loads((folder / "trainer.json").read_text())
    scheduler.load_state_dict(meta.pop("scheduler"))
    return meta


def train_stage(args, stage: int, init: str | None, out: Path, device, log) -> float:
    """Train one curriculum stage; returns its best validation accuracy."""
    stage_dir = out / f"stage-{stage}"
    if (stage_dir / "DONE.json").exists():
        return json.loads((stage_dir / "DONE.json").read_text())["best_accuracy"]
    # A checkpoint carries its tokenizer, so a run that starts from one needs no backbone package.
    tokenizer = load_checkpoint_tokenizer(init) if init else load_tokenizer()
    last = stage_dir / "last"
    if last.exists():
        model = load_checkpoint(last, device=device)
    elif init:
        model = load_checkpoint(init, device=device)
    elif args.tiny:
        model = tiny_rmt(args.segment_size, num_mem_tokens=args.memory_tokens or 4).to(device)
    else:
        config = RMTConfig(segment_size=args.segment_size, class_names=list(ROOMS))
        config.num_mem_tokens = args.memory_tokens or config.num_mem_tokens
        model = build_rmt(backbone_dir(), config).to(device)
    if model.config.segment_overlap or model.config.segment_snap:
        # rmt.data lays out training lengths for the plain reading; overlap and snap are reading choices, not weights
        read = {"segment_overlap": model.config.segment_overlap, "segment_snap": model.config.segment_snap}
        named = " and ".join(f"{name} {value}" for name, value in read.items() if value)
        print(f"training reads plain segments: {init}'s {named} set to 0 here")
        model.read_segments(0, 0)
    model.train()
    text_len = model.config.text_per_segment
    if args.slot_loss > 0 and model.config.num_mem_tokens < len(OPPOSITE):
        raise SystemExit(f"--slot-loss needs at least {len(OPPOSITE)} memory tokens, one per direction")
    head = slot_head(model) if args.slot_loss > 0 else None
    params = list(named_parameters(model, head).values())
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=1e-3)
    warmup = max(1, int(0.1 * args.max_steps))
    scheduler = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: min((s + 1) / warmup, max(0.0, (args.max_steps - s) / max(1, args.max_steps - warmup)))
    )
    meta = {"step": 0, "best": -1.0, "hits": 0, "stale": 0}
    pool = model.init_memory(args.batch_size).detach().float().clone() if args.drift else None  # [B, M, H]
    held = empty_held_facts(model, args.held_rows) if args.held else None
    if last.exists():
        meta = load_state(last, model, optimizer, scheduler, head)
        if pool is not None and (last / "drift.safetensors").exists():
            pool = load_file(str(last / "drift.safetensors"), device=str(device))["memory"]
        if held is not None:
            held = load_held_facts(last, device) or held
    tasks = task_list(args.tasks)
    valid_rng = random.Random(f"valid:{stage}")
    valid = [
        make_batch(
            tasks,
            stage,
            args.eval_batch,
            text_len,
            tokenizer,
            valid_rng,
            args.valid_noise,
            other_people_prob=args.other_people,
            asked=args.asked,
            room_noise_prob=args.room_noise,
        )
        for _ in range(max(1, args.valid_samples // args.eval_batch))
    ]
    # The same haystacks after a long stretch of held-out noise: what --drift is for.
    valid_after_noise = [
        with_noise_prefix(b, args.valid_drift, text_len, tokenizer, valid_rng, args.valid_noise)
        for b in (valid if args.valid_drift else [])
    ]
    use_bf16 = device.type == "cuda" or (cpu_has_fast_bf16() if args.bf16 is None else args.bf16)
    autocast = lambda: torch.autocast(device.type, dtype=torch.bfloat16, enabled=use_bf16)  # noqa: E731
    if pool is not None and meta["step"] == 0:
        # A fresh pool is all age 0, so for its first steps facts go only into young memories; reading
        # noise before step 1 starts the stage with the old memories it is meant to train on.
        for round_index in range(args.drift_warmup):
            warm_rng = random.Random(f"{args.seed}:{stage}:warmup:{round_index}")
            pool = drift_memories(model, pool, args.drift, args.drift_reset, tokenizer, warm_rng, args.noise, autocast)
    if held is not None and meta["step"] == 0:
        for round_index in range(args.held_warmup):
            warm_rng = random.Random(f"{args.seed}:{stage}:held-warmup:{round_index}")
            held = age_held_facts(model, held, args.held, args.held_reset, tokenizer, warm_rng, args.noise, autocast)
    loss_fn = nn.CrossEntropyLoss()
    bar = tqdm(total=args.max_steps, initial=meta["step"], desc=f"stage {stage} seg", dynamic_ncols=True)
    while meta["step"] < args.max_steps:
        batch_index = meta["step"] % args.overfit_batches if args.overfit_batches else meta["step"]
        rng = random.Random(f"{args.seed}:{stage}:{batch_index}")  # same batches after a resume
        batch = make_batch(
            tasks,
            stage,
            args.batch_size,
            text_len,
            tokenizer,
            rng,
            args.noise,
            args.question_alone,
            parse_mix(args.mix),
            args.other_people,
            args.asked,
            args.ask_twice,
            args.room_noise,
            args.planted_rooms,
            args.cut_facts,
        )
        start = None
        if pool is not None:
            drift_rng = random.Random(f"{args.seed}:{stage}:{batch_index}:drift")
            pool = drift_memories(model, pool, args.drift, args.drift_reset, tokenizer, drift_rng, args.noise, autocast)
            # A haystack starts from its row's pooled memory or from the initial one, which keeps its gradient.
            rows = len(batch.labels)
            fresh = model.init_memory(rows)  # [B, M, H]
            start = rows_by_chance(args.drift_share, drift_rng, pool[:rows], fresh)  # [B, M, H]
            start = fresh_unless_drifting(start, fresh, batch.tasks, args.drift_tasks)
        held_rows = 0
        if held is not None:
            held_rng = random.Random(f"{args.seed}:{stage}:{batch_index}:held")
            held = age_held_facts(model, held, args.held, args.held_reset, tokenizer, held_rng, args.noise, autocast)
            start = model.init_memory(len(batch.labels)) if start is None else start  # [B, M, H]
            batch, start, held_rows = with_held_rows(
                batch,
                start,
                held,
                args.held_share,
                stage,
                text_len,
                tokenizer,
                held_rng,
                args.noise,
                args.question_alone,
                args.room_noise,
                args.planted_rooms,
            )
        with autocast():
            logits, memories = model.read(batch.token_ids, args.truncate_bptt, batch.question_starts, start)
        loss = answer_loss = loss_fn(logits.float(), torch.tensor(batch.labels, device=device))
        slots = slot_loss(memories, batch.slot_targets, batch.slots_held, head) if head is not None else None
        if slots is not None:
            loss = answer_loss + args.slot_loss * slots
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        nn.utils.clip_grad_norm_(params, 5.0)
        optimizer.step()
        scheduler.step()
        meta["step"] += 1
        bar.update(1)
        bar.set_postfix(loss=f"{answer_loss.item():.3f}", best=f"{meta['best']:.3f}")
        record = {
            "stage": stage,
            "step": meta["step"],
            "loss": round(answer_loss.item(), 4),
            "time": round(time.time(), 1),
        }
        if slots is not None:
            record["slot_loss"] = round(slots.item(), 4)
        if held is not None:
            record["held_rows"] = held_rows
            record["held_accuracy"] = round(held_accuracy(model, held, autocast), 4)
            record["held_mean_age"] = round(sum(held.ages) / len(held.ages), 1)
        stop = False
        stop_here = meta["step"] == args.stop_at
        if meta["step"] % args.eval_every == 0 or meta["step"] == args.max_steps or stop_here:
            acc = validate(model, valid, device, autocast)
            if valid_after_noise:
                record["valid_plain"] = acc
                record["valid_after_noise"] = validate(model, valid_after_noise, device, autocast)
                acc = (acc + record["valid_after_noise"]) / 2
            record["valid_accuracy"] = acc
            if acc > meta["best"]:
                meta["best"], meta["stale"] = acc, 0
                save_checkpoint(model, stage_dir / "best", tokenizer, dtype=torch.float32)
            else:
                meta["stale"] += 1
            meta["hits"] = meta["hits"] + 1 if acc >= args.target else 0
            stop = meta["hits"] >= 2 or meta["stale"] >= args.patience or stop_here
        log(record)
        if stop or meta["step"] % args.save_every == 0 or meta["step"] == args.max_steps:
            save_state(last, model, optimizer, scheduler, meta, tokenizer, head, pool, held)
        if stop:
            break
    bar.close()
    (stage_dir / "DONE.json").write_text(json.dumps({"best_accuracy": meta["best"], "steps": meta["step"]}))
    shutil.rmtree(last, ignore_errors=True)  # the optimizer state is only for resuming
    return meta["best"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Train an RMT with the paper's segment curriculum.")
    parser.add_argument("--out", required=True, help="run folder (resumes if it exists)")
    parser.add_argument("--tasks", default="mix", help="mix, or memorize/detect/reasoning (comma list)")
    parser.add_argument("--mix", default=None, help="training task weights, e.g. reasoning=0.7,detect=0.2,memorize=0.1")
    parser.add_argument("--stages", default="1,2,4,7", help="segments per curriculum stage")
    parser.add_argument("--init", default=None, help="checkpoint to start the first stage from")
    parser.add_argument("--segment-size", type=int, default=512)
    parser.add_argument(
        "--memory-tokens",
        type=int,
        default=None,
        help="memory vectors of a fresh model (default 10); a run from --init keeps its checkpoint's",
    )
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--max-steps", default="400", help="steps per stage: one number, or one per stage (comma list)")
    parser.add_argument("--eval-every", type=int, default=50)
    parser.add_argument("--eval-batch", type=int, default=16)
    parser.add_argument("--valid-samples", type=int, default=96)
    parser.add_argument("--target", type=float, default=0.99)
    parser.add_argument("--patience", type=int, default=6)
    parser.add_argument("--save-every", type=int, default=25)
    parser.add_argument(
        "--stop-at",
        type=int,
        default=None,
        help="end each stage after this step (validated and kept as usual), with the learning-rate schedule of "
        "--max-steps: the early model of a longer run",
    )
    parser.add_argument(
        "--question-alone", type=float, default=0.25, help="share of samples whose question is a segment of its own"
    )
    parser.add_argument(
        "--other-people",
        type=float,
        default=0.0,
        help="share of Memorize/Detect samples (training and validation) that also hold facts about 1-3 other people",
    )
    parser.add_argument(
        "--room-noise",
        type=float,
        default=0.0,
        help="share of samples (training and validation) that also hold 1-3 sentences of their noise's books "
        "naming a room, which are not facts",
    )
    parser.add_argument(
        "--planted-rooms",
        type=float,
        default=0.0,
        help="share of --room-noise's training sentences that are other sentences with a room planted in "
        "them, so the model meets thousands of them, not the books' 152 (validation keeps the held-out book's)",
    )
    parser.add_argument(
        "--cut-facts",
        type=float,
        default=0.0,
        help="share of training haystacks with a fact cut in two by a segment boundary (chance gives about "
        "1 in 25; validation keeps chance)",
    )
    parser.add_argument(
        "--slot-loss",
        type=float,
        default=0.0,
        help="weight of a loss asking memory slots 1-4, entering each segment after Reasoning's facts, to name the "
        "rooms north, south, east and west of the centre room (0: off): a memory the question can address",
    )
    parser.add_argument("--truncate-bptt", type=int, default=None, help="backprop through the last k segments only")
    parser.add_argument(
        "--drift",
        type=int,
        default=0,
        help="segments of training noise that each of --batch-size pooled memories reads per step, without "
        "gradient; --drift-share of each batch's haystacks start from one of them instead of the initial memory, "
        "so facts are also written into a memory that has read thousands of segments (0: off)",
    )
    parser.add_argument(
        "--drift-reset",
        type=float,
        default=1 / 64,
        help="chance per step that a pooled memory starts again from the initial one (mean age: --drift / this)",
    )
    parser.add_argument("--drift-share", type=float, default=0.5, help="share of haystacks read from a pooled memory")
    parser.add_argument(
        "--drift-tasks",
        type=task_list,
        default=None,
        help="only these tasks' haystacks may start from a pooled memory, e.g. detect,reasoning (default: all)",
    )
    parser.add_argument(
        "--drift-warmup",
        type=int,
        default=0,
        help="rounds of --drift noise the pooled memories read before a stage's first step, so that it starts "
        "with old memories (not repeated on resume)",
    )
    parser.add_argument(
        "--held",
        type=int,
        default=0,
        help="segments of training noise that each of --held-rows pooled memories, each told a Memorize fact, "
        "reads per step without gradient; --held-share of the Memorize haystacks are replaced by noise read from "
        "one of them and asked its fact, so retention is trained at ages of thousands of segments (0: off)",
    )
    parser.add_argument("--held-rows", type=int, default=8, help="pooled memories that hold a fact (--held)")
    parser.add_argument(
        "--held-reset",
        type=float,
        default=1 / 32,
        help="chance per step that a held memory starts again with a new fact (mean age: --held / this)",
    )
    parser.add_argument("--held-share", type=float, default=0.5, help="share of Memorize haystacks made held rows")
    parser.add_argument(
        "--held-warmup",
        type=int,
        default=0,
        help="rounds of --held noise the held memories read before a stage's first step (not repeated on resume)",
    )
    parser.add_argument(
        "--valid-drift",
        type=int,
        default=0,
        help="also validate every validation haystack after this many segments of held-out noise; the score kept "
        "is the mean of both",
    )
    parser.add_argument(
        "--asked",
        type=lambda spec: tuple(
            word.strip().lower() if word.strip().lower() in OPPOSITE else word.strip().capitalize()
            for word in spec.split(",")
        ),
        default=NAMES,
        help=f"whom Memorize/Detect questions may ask about (training and validation), e.g. Mary,John; "
        f"default all of {','.join(NAMES)}; directions (north,south) narrow which fact Reasoning asks about",
    )
    parser.add_argument(
        "--ask-twice",
        action="store_true",
        help="each training haystack twice per batch, the second time asked about another of its facts",
    )
    parser.add_argument("--noise", default="train", help="training noise: train books or a text FILE")
    parser.add_argument("--valid-noise", default="valid", help="validation noise: the held-out book")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--bf16",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bf16 autocast on CPU (default: only where the CPU has native bf16)",
    )
    parser.add_argument("--device", default="auto")
    parser.add_argument("--tiny", action="store_true", help="tiny random backbone (tests only)")
    parser.add_argument(
        "--overfit-batches", type=int, default=0, help="cycle over this many batches (checks the loop learns)"
    )
    args = parser.parse_args(argv)
    if unknown := [name for name in args.asked if name not in NAMES and name not in OPPOSITE]:
        parser.error(
            f"--asked: {', '.join(unknown)} is not one of the names {', '.join(NAMES)} or directions "
            f"{', '.join(OPPOSITE)}"
        )
    if args.memory_tokens is not None and args.init:
        parser.error("--memory-tokens sets up a fresh model; a run from --init keeps the checkpoint's memory size")
    if args.memory_tokens is not None and not 1 <= args.memory_tokens < args.segment_size - 3:
        most = args.segment_size - 4  # at least one text token beside [CLS], [SEP] and [SEP]
        parser.error(f"--memory-tokens must be from 1 to {most} for {args.segment_size}-position segments")
    if args.drift < 0 or args.valid_drift < 0:
        parser.error("--drift and --valid-drift are numbers of segments, 0 or more")
    if args.drift_warmup < 0:
        parser.error("--drift-warmup is a number of rounds, 0 or more")
    if not (0 <= args.drift_reset <= 1 and 0 <= args.drift_share <= 1):
        parser.error("--drift-reset and --drift-share are chances, from 0 to 1")
    if args.held < 0 or args.held_warmup < 0 or args.held_rows < 1:
        parser.error("--held and --held-warmup are 0 or more, --held-rows 1 or more")
    if not (0 <= args.held_reset <= 1 and 0 <= args.held_share <= 1):
        parser.error("--held-reset and --held-share are chances, from 0 to 1")
    if args.stop_at is not None and args.stop_at < 1:
        parser.error("--stop-at is a step number, 1 or more")
    if args.held and "memorize" not in task_list(args.tasks):
        parser.error("--held replaces Memorize haystacks, so --tasks must include memorize")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    device = pick_device(args.device)
    torch.manual_seed(args.seed)
    (out / "args.json").write_text(json.dumps(vars(args), indent=1))

    def log(record: dict) -> None:
        with open(out / "log.jsonl", "a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    init = args.init
    stages = [int(s) for s in args.stages.split(",")]
    steps = [int(s) for s in args.max_steps.split(",")]
    steps = steps * len(stages) if len(steps) == 1 else steps
    if len(steps) != len(stages):
        parser.error("--max-steps needs one number or one per stage")
    for stage, max_steps in zip(stages, steps, strict=True):
        args.max_steps = max_steps
        best = train_stage(args, stage, init, out, device, log)
        print(f"stage {stage}: best validation accuracy {best:.4f}", flush=True)
        init = str(out / f"stage-{stage}" / "best")
    print(f"final model: {init}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
