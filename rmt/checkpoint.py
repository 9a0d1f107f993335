"""Checkpoints as Hugging Face-style folders: config.json, model.safetensors, tokenizer files.

Safetensors and JSON only, so loading a folder from anywhere (a Hub repo included) runs no code.
A folder that is malformed or does not match its config fails with a message naming the problem.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, fields
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from rmt.model import RecurrentMemoryTransformer, RMTConfig

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
MODEL_TYPE = "recurrent-memory-transformer"
HUB_PATTERNS = ["*.json", "*.safetensors", "*.txt", "*.md"]


class CheckpointError(ValueError):
    """A checkpoint folder that cannot be used as it is."""


def save_checkpoint(
    model: RecurrentMemoryTransformer,
    path: str | os.PathLike,
    tokenizer=None,
    dtype: torch.dtype = torch.float16,
    extra: dict | None = None,
) -> Path:
    """Write the folder; weights are stored in ``dtype`` (fp16 keeps MiniLM-RMT near 45 MB)."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    state = {
        k: v.detach().to("cpu", dtype if v.is_floating_point() else v.dtype).contiguous()
        for k, v in model.state_dict().items()
    }
    save_file(state, str(path / WEIGHTS_NAME), metadata={"format": "pt"})
    config = {"model_type": MODEL_TYPE, **asdict(model.config), **(extra or {})}
    (path / CONFIG_NAME).write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    if tokenizer is not None:
        tokenizer.save_pretrained(str(path))
    return path


def resolve_checkpoint(
    name_or_path: str | os.PathLike, revision: str | None = None, cache_dir: str | None = None
) -> Path:
    """A local folder as is; anything else is a Hub repo id, fetched (or found in the cache)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    if path.exists() or str(name_or_path).startswith((".", "/")) or str(name_or_path).count("/") != 1:
        raise CheckpointError(f"checkpoint {str(name_or_path)!r} is not a folder nor a Hub repo id (owner/name)")
    from huggingface_hub import snapshot_download

    try:
        local = snapshot_download(
            str(name_or_path), revision=revision, cache_dir=cache_dir, allow_patterns=HUB_PATTERNS
        )
    except Exception as error:  # offline, missing repo, no permission: say which repo and why
        raise CheckpointError(f"could not get checkpoint {name_or_path!r} from the Hub: {error}") from error
    return Path(local)


def read_config(folder: Path) -> RMTConfig:
    config_file = folder / CONFIG_NAME
    if not config_file.is_file():
        raise CheckpointError(f"{folder} has no {CONFIG_NAME}")
    try:
        raw = json.loads(config_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{config_file} is not valid JSON: {error}") from error
    if not isinstance(raw, dict) or raw.get("model_type") != MODEL_TYPE:
        raise CheckpointError(f"{config_file} is not an RMT config (model_type must be {MODEL_TYPE!r})")
    known = {f.name for f in fields(RMTConfig)}
    missing = {"backbone", "num_mem_tokens", "segment_size", "num_classes"} - raw.keys()
    if missing:
        raise CheckpointError(f"{config_file} lacks {', '.join(sorted(missing))}")
    try:
        return RMTConfig(**{k: v for k, v in raw.items() if k in known})
    except ValueError as error:
        raise CheckpointError(f"{config_file}: {error}") from error


def load_checkpoint(
    name_or_path: str | os.PathLike,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
    revision: str | None = None,
    cache_dir: str | None = None,
) -> RecurrentMemoryTransformer:
    """Rebuild the model from a folder or Hub repo id, checking every tensor against the config."""
    folder = resolve_checkpoint(name_or_path, revision, cache_dir)
    config = read_config(folder)
    weights = folder / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{folder} has no {WEIGHTS_NAME} (only safetensors weights are loaded)")
    try:
        state = load_file(str(weights))
    except Exception as error:
        raise CheckpointError(f"{weights} is not a readable safetensors file: {error}") from error
    try:
        model = RecurrentMemoryTransformer(config)
    except Exception as error:
        raise CheckpointError(f"{folder / CONFIG_NAME} describes no buildable model: {error}") from error
    expected = model.state_dict()
    missing = sorted(expected.keys() - state.keys())
    unexpected = sorted(state.keys() - expected.keys())
    if missing or unexpected:
        raise CheckpointError(
            f"{weights} does not match its config: missing {missing[:5]}{'...' if len(missing) > 5 else ''}, "
            f"unexpected {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}"
        )
    wrong = [
        f"{k}: {tuple(state[k].shape)} vs {tuple(v.shape)}" for k, v in expected.items() if state[k].shape != v.shape
    ]
    if wrong:
        raise CheckpointError(f"{weights} has tensors of the wrong shape for its config: {'; '.join(wrong[:5])}")
    model.load_state_dict({k: v.to(expected[k].dtype) for k, v in state.items()})
    return model.to(device=device, dtype=dtype).eval()


def load_checkpoint_tokenizer(name_or_path: str | os.PathLike):
    from rmt.backbone import load_tokenizer

    folder = resolve_checkpoint(name_or_path)
    return load_tokenizer(str(folder)) if (folder / "tokenizer.json").is_file() else load_tokenizer()
