"""A checkpoint as the app serves it: the model, read as configured, and the tables measured on it.

Every sentence the page quotes from evaluation (``rmt.measured_notes``) reads these tables, so they are
loaded once, beside the weights.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from rmt.checkpoint import load_checkpoint, resolve_checkpoint
from rmt.formatting import reading_note
from rmt.inference import prepare_for_inference
from rmt.model import RecurrentMemoryTransformer
from rmt.noise import VALID_NO_ROOMS
from rmt.tasks import ROOMS


def checkpoint_table(path: str, file_name: str) -> dict | None:
    """A measured table shipped beside a checkpoint (``eval.json``, ``misses.json``, ...), if there is one."""
    try:
        file = resolve_checkpoint(path) / file_name
    except Exception:  # a Hub id that is not cached: no table, never a crash
        return None
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else None


def point_note(point: dict, served: Mapping[str, int]) -> str | None:
    """Why an evaluation point is not a measure of the checkpoint as served (``served``, a reading), if it is not."""
    notes = [f"measured {point['noise_note']}"] if point.get("noise_note") else []
    notes += [note] if (note := reading_note(point, served)) else []
    return "; ".join(notes) or None


def checkpoint_name(path: str) -> str:
    """How the page and the API name a checkpoint: its folder (or Hub repo) name."""
    return Path(path.rstrip("/")).name


@dataclass
class ServedModel:
    """A checkpoint the app runs, with the tables measured on it (read once: every preview quotes them)."""

    name: str
    path: str
    model: RecurrentMemoryTransformer
    evals: dict  # eval.json: {"tasks": {task: {"points": [...]}}}
    no_rooms_evals: dict  # the same on the book without its room sentences (no_rooms.json)
    people_evals: list[dict]  # names.json: Detect with other people's facts
    miss_counts: dict  # misses.json (rmt.misses --summary)
    cut_counts: dict  # cuts.json (rmt.cuts): haystacks with a cut fact, and the misses among them

    @classmethod
    def load(cls, path: str, device: torch.device, overlap: int | None = None) -> ServedModel:
        return cls(
            name=checkpoint_name(path),
            path=path,
            model=prepare_for_inference(read_with_overlap(load_checkpoint(path), overlap), device),
            evals=checkpoint_table(path, "eval.json") or {},
            no_rooms_evals=checkpoint_table(path, "no_rooms.json") or {},
            people_evals=checkpoint_table(path, "names.json") or [],
            miss_counts=checkpoint_table(path, "misses.json") or {},
            cut_counts=checkpoint_table(path, "cuts.json") or {},
        )

    @property
    def class_names(self) -> list[str]:
        """The answers its classifier chooses among (the six rooms where the config names none)."""
        return list(self.model.config.class_names or ROOMS)

    def points(self, task: str, noise: str = "valid") -> list[dict]:
        """Measured points for ``task``, each naming its book; on the book without its room
        sentences that table's points come first, so a tie of lengths goes to them."""
        whole = self.evals.get("tasks", {}).get(task, {}).get("points", [])
        points = [p | {"book": "held-out book"} for p in whole]
        if noise == VALID_NO_ROOMS:
            no_rooms = self.no_rooms_evals.get("tasks", {}).get(task, {}).get("points", [])
            points = [p | {"book": "held-out book without its room sentences"} for p in no_rooms] + points
        return points


def same_layout(a: RecurrentMemoryTransformer, b: RecurrentMemoryTransformer) -> bool:
    """Whether two models read haystacks alike: the page's segments, classes and layer picker are shared."""

    def layout(m: RecurrentMemoryTransformer) -> tuple:
        c, bc = m.config, m.backbone.config
        classes = tuple(c.class_names or ())
        return (
            c.segment_size,
            c.segment_overlap,
            c.segment_snap,
            c.num_mem_tokens,
            classes,
            bc.num_hidden_layers,
            bc.num_attention_heads,
        )

    return layout(a) == layout(b)


def nearest_point(points: list[dict], num_tokens: int) -> dict:
    """The measured point whose length is nearest ``num_tokens`` on a log scale (the first, in a tie)."""
    return min(points, key=lambda p: abs(math.log(p["tokens"] / max(1, num_tokens))))


def read_with_overlap(model: RecurrentMemoryTransformer, overlap: int | None) -> RecurrentMemoryTransformer:
    """``model`` reading segments that re-read ``overlap`` tokens of the one before (None: as configured)."""
    if overlap is not None:
        try:
            model.read_segments(overlap)
        except ValueError as error:
            raise ValueError(f"RMT_SEGMENT_OVERLAP: {error}") from None
    return model
