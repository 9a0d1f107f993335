"""Checkpoint folders: Hub-style loading from a cache, and clear errors for broken folders."""

from __future__ import annotations

import json

import pytest
import torch

from rmt.checkpoint import CheckpointError, load_checkpoint, save_checkpoint


def make_hub_cache(tmp_path, model, repo_id: str = "rmt-explorer/test-rmt"):
    """A Hugging Face cache holding one snapshot of the repo, laid out as the Hub client does."""
    owner, name = repo_id.split("/")
    repo = tmp_path / "hub" / f"models--{owner}--{name}"
    commit = "0" * 40
    save_checkpoint(model, repo / "snapshots" / commit, dtype=torch.float32)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(commit)
    return tmp_path / "hub", repo_id


def test_loads_from_a_hub_repo_id_through_huggingface_hub(tiny, tmp_path, monkeypatch) -> None:
    cache, repo_id = make_hub_cache(tmp_path, tiny)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    loaded = load_checkpoint(repo_id, cache_dir=str(cache))
    seq = list(range(10, 50))
    torch.testing.assert_close(loaded([seq]), tiny([seq]))


def test_unknown_hub_repo_offline_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(CheckpointError, match="could not get checkpoint"):
        load_checkpoint("nobody/nothing", cache_dir=str(tmp_path))


def test_missing_folder_or_files(tmp_path, tiny) -> None:
    with pytest.raises(CheckpointError, match="not a folder"):
        load_checkpoint(tmp_path / "absent" / "deeper" / "x")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match=r"no config\.json"):
        load_checkpoint(tmp_path / "empty")
    folder = save_checkpoint(tiny, tmp_path / "ok")
    (folder / "model.safetensors").unlink()
    with pytest.raises(CheckpointError, match=r"no model\.safetensors"):
        load_checkpoint(folder)


def test_corrupt_files(tmp_path, tiny) -> None:
    folder = save_checkpoint(tiny, tmp_path / "ck")
    (folder / "model.safetensors").write_bytes(b"\x00garbage" * 10)
    with pytest.raises(CheckpointError, match="not a readable safetensors"):
        load_checkpoint(folder)
    (folder / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_checkpoint(folder)
    (folder / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    with pytest.raises(CheckpointError, match="not an RMT config"):
        load_checkpoint(folder)


def test_weights_that_do_not_match_the_config(tmp_path, tiny) -> None:
    folder = save_checkpoint(tiny, tmp_path / "ck")
    config = json.loads((folder / "config.json").read_text())
    config["num_mem_tokens"] = 7
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="wrong shape"):
        load_checkpoint(folder)
    config["backbone"]["num_hidden_layers"] = 1
    config["num_mem_tokens"] = 3
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="unexpected"):
        load_checkpoint(folder)
