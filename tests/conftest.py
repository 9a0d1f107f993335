"""Shared fixtures: a tiny random BERT for fast unit tests, the real tokenizer for haystacks."""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import pytest
import torch

from rmt.backbone import load_tokenizer
from rmt.model import RecurrentMemoryTransformer, RMTConfig


def tiny_model(segment_size: int = 24, num_mem_tokens: int = 3, seed: int = 0) -> RecurrentMemoryTransformer:
    from transformers import BertConfig, BertModel

    torch.manual_seed(seed)
    bert = BertConfig(
        vocab_size=200,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=4,
        intermediate_size=64,
        max_position_embeddings=64,
        attention_probs_dropout_prob=0.0,
        hidden_dropout_prob=0.0,
    )
    bert._attn_implementation = "sdpa"
    config = RMTConfig(
        num_mem_tokens=num_mem_tokens,
        segment_size=segment_size,
        num_classes=6,
        class_names=[f"c{i}" for i in range(6)],
        backbone=bert.to_diff_dict() | {"model_type": "bert"},
    )
    return RecurrentMemoryTransformer(config, BertModel(bert)).eval()


@pytest.fixture
def tiny() -> RecurrentMemoryTransformer:
    return tiny_model()


@pytest.fixture(scope="session")
def tokenizer():
    return load_tokenizer()
