"""Forward FLOPs of full attention over T tokens against RMT over the same T tokens.

Per layer and sequence of L positions (Hoffmann et al. 2022, appendix F; a multiply-add is 2):
    QKV 6·L·d²,  logits 2·L²·d,  softmax 3·h·L²,  attention·values 2·L²·d,
    output projection 2·L·d²,  FFN 4·L·d·d_ff
Beyond the layers we count the output logits 2·L·d·V for decoder (language-model) shapes, and
no input-embedding term (a table lookup).

RMT over T tokens is ceil(T / text_per_segment) passes of one segment; memory tokens take part
of each segment (``num_mem_tokens``, twice for the decoder read/write layout). A reading whose
segments re-read ``overlap`` tokens of the one before takes ``rmt.segments.num_segments`` passes.

The paper's headline counts 512 text tokens per pass and ignores the memory positions
(``--mem 0``). With those terms, at 2,048,000 tokens: OPT-175B x28.6 (paper x29), OPT-125M
x287.9 (paper x295). Dropping the logits term gives x405 for OPT-125M: the small-model ratio
depends mostly on it. With 10 real memory tokens per segment: x27.5 and x276.6.

CLI: ``python -m rmt.flops --preset opt-175b --tokens 2048000 --segment 512 --json``
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

from rmt.segments import check_overlap, num_segments


@dataclass(frozen=True)
class ModelShape:
    name: str
    layers: int
    hidden: int
    heads: int
    ffn: int
    vocab: int
    decoder: bool  # decoders pay the output logits over every position


PRESETS = {
    "minilm-l6": ModelShape("all-MiniLM-L6-v2 (ours)", 6, 384, 12, 1536, 30522, False),
    "bert-base": ModelShape("bert-base-cased", 12, 768, 12, 3072, 28996, False),
    "opt-125m": ModelShape("OPT-125M", 12, 768, 12, 3072, 50272, True),
    "opt-1.3b": ModelShape("OPT-1.3B", 24, 2048, 32, 8192, 50272, True),
    "opt-6.7b": ModelShape("OPT-6.7B", 32, 4096, 32, 16384, 50272, True),
    "opt-30b": ModelShape("OPT-30B", 48, 7168, 56, 28672, 50272, True),
    "opt-175b": ModelShape("OPT-175B", 96, 12288, 96, 49152, 50272, True),
}


def layer_terms(shape: ModelShape, length: int) -> dict[str, int]:
    """FLOPs of one layer's forward over ``length`` positions, term by term."""
    L, d, h, f = length, shape.hidden, shape.heads, shape.ffn
    return {
        "qkv": 6 * L * d * d,
        "attention_logits": 2 * L * L * d,
        "softmax": 3 * h * L * L,
        "attention_values": 2 * L * L * d,
        "output_projection": 2 * L * d * d,
        "ffn": 4 * L * d * f,
    }


def forward_flops(shape: ModelShape, length: int, include: tuple[str, ...] | None = None) -> int:
    """One forward pass over ``length`` positions; ``include`` restricts to some layer terms."""
    terms = layer_terms(shape, length)
    layers = sum(v for k, v in terms.items() if include is None or k in include) * shape.layers
    logits = 2 * length * shape.hidden * shape.vocab if shape.decoder and include is None else 0
    return layers + logits


def rmt_segments(tokens: int, segment: int, num_mem_tokens: int, decoder: bool, overlap: int = 0) -> tuple[int, int]:
    """(number of segments, text tokens per segment) for RMT's layout of that shape."""
    overhead = 2 * num_mem_tokens if decoder else num_mem_tokens + 3  # [CLS] [SEP] [SEP]
    text = segment - overhead
    if text < 1:
        raise ValueError(f"segment {segment} leaves no room for text next to {num_mem_tokens} memory tokens")
    check_overlap(overlap, text)
    return num_segments(tokens, text, overlap), text


def compare(shape: ModelShape, tokens: int, segment: int = 512, num_mem_tokens: int = 10, overlap: int = 0) -> dict:
    """Full attention over ``tokens`` against RMT over the same tokens."""
    if tokens < 1:
        raise ValueError("tokens must be positive")
    full = forward_flops(shape, tokens)
    count, text = rmt_segments(tokens, segment, num_mem_tokens, shape.decoder, overlap)
    rmt = count * forward_flops(shape, segment)
    return {
        "model": shape.name,
        "tokens": tokens,
        "segment": segment,
        "num_mem_tokens": num_mem_tokens,
        "text_per_segment": text,
        "segment_overlap": overlap,
        "segments": count,
        "full_attention_flops": full,
        "rmt_flops": rmt,
        "ratio": full / rmt,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Forward FLOPs: full attention vs RMT.")
    parser.add_argument("--preset", default="minilm-l6", choices=sorted(PRESETS))
    parser.add_argument("--tokens", type=int, default=2_048_000)
    parser.add_argument("--segment", type=int, default=512)
    parser.add_argument("--mem", type=int, default=10, help="memory tokens")
    parser.add_argument("--overlap", type=int, default=0, help="text tokens each segment re-reads from the one before")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        result = compare(PRESETS[args.preset], args.tokens, args.segment, args.mem, args.overlap)
    except ValueError as error:
        parser.error(str(error))
    if args.json:
        print(json.dumps(result | {"shape": asdict(PRESETS[args.preset])}))
    else:
        print(f"{result['model']}: {args.tokens:,} tokens, {result['segments']:,} segments of {args.segment}")
        print(f"  full attention {result['full_attention_flops']:.3e} FLOPs")
        print(f"  RMT            {result['rmt_flops']:.3e} FLOPs")
        print(f"  ratio          x{result['ratio']:.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
