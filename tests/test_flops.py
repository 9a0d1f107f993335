"""The FLOP model: the paper's headline ratios and agreement with torch's FlopCounterMode."""

from __future__ import annotations

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode
from transformers import AutoConfig, BertModel

from rmt.backbone import backbone_dir
from rmt.flops import PRESETS, compare, forward_flops, main

COUNTED_BY_TORCH = ("qkv", "attention_logits", "attention_values", "output_projection", "ffn")


@pytest.mark.parametrize(("preset", "paper"), [("opt-175b", 29), ("opt-125m", 295)])
def test_paper_headline(preset: str, paper: float) -> None:
    result = compare(PRESETS[preset], 2_048_000, segment=512, num_mem_tokens=0)
    assert abs(result["ratio"] / paper - 1) < 0.05


def test_rmt_is_linear_and_full_attention_quadratic() -> None:
    shape = PRESETS["minilm-l6"]
    small, big = compare(shape, 100_000), compare(shape, 1_000_000)
    assert 9.9 < big["rmt_flops"] / small["rmt_flops"] < 10.1
    assert big["full_attention_flops"] / small["full_attention_flops"] > 50


@pytest.mark.parametrize("length", [512, 4096])
def test_matches_flop_counter_on_the_real_backbone_shape(length: int) -> None:
    config = AutoConfig.from_pretrained(backbone_dir(), max_position_embeddings=length)
    config._attn_implementation = "eager"  # FlopCounterMode has no formula for CPU SDPA
    with torch.device("meta"):
        model = BertModel(config, add_pooling_layer=False)
        ids = torch.zeros(1, length, dtype=torch.long)
        with FlopCounterMode(display=False) as counter:
            model(input_ids=ids)
    ours = forward_flops(PRESETS["minilm-l6"], length, include=COUNTED_BY_TORCH)
    assert abs(counter.get_total_flops() / ours - 1) < 0.02


def test_cli_json(capsys) -> None:
    import json

    main(["--preset", "opt-175b", "--tokens", "2048000", "--segment", "512", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert {"full_attention_flops", "rmt_flops", "ratio"} <= out.keys()
    assert out["ratio"] > 20


def test_overlapping_segments_cost_the_extra_passes(capsys) -> None:
    """Re-reading 16 of 115 text tokens takes 115/99 as many passes: the RMT side grows by that, nothing else."""
    shape = PRESETS["minilm-l6"]
    plain, overlap = compare(shape, 2_000_000, segment=128), compare(shape, 2_000_000, segment=128, overlap=16)
    assert (plain["segments"], overlap["segments"]) == (17_392, 20_202)  # ceil(2e6 / 115), ceil((2e6 - 16) / 99)
    assert overlap["rmt_flops"] / plain["rmt_flops"] == 20_202 / 17_392
    assert overlap["full_attention_flops"] == plain["full_attention_flops"]
    with pytest.raises(SystemExit):
        main(["--segment", "128", "--overlap", "115"])
    assert "overlap must be from 0 to 114" in capsys.readouterr().err
