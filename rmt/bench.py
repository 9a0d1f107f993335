"""Side-by-side speed and memory: our fast path, a paper-style RMT loop, and full attention.

    python -m rmt.bench --checkpoint checkpoints/rmt-minilm-babi --max-tokens 2000000 --json

- fast: ``rmt.inference.classify_equal_length`` (inference_mode, SDPA, fastest native dtype,
  nothing kept per segment).
- paper-style: our re-creation of the original loop: memory as extra vocabulary embeddings
  spliced into ``inputs_embeds`` every segment, all hidden states returned, eager attention, fp32,
  ``no_grad``. Same weights.
- live: ``rmt.inference.live_run``, the app's loop (memory change per segment, the question asked of
  the memory every 1/400 of the run, sparse memory snapshots), up to ``--live-max-tokens``.
- full attention: the same layer shape over the whole input at once (random weights, position
  table extended), for lengths up to ``--full-max-tokens``, to show the quadratic wall.

Peak memory is the process RSS sampled every 5 ms during each row (CUDA: max allocated). RSS is
process-wide and the allocator keeps what earlier rows took, so to see the fast path's own memory
against length on a CPU run it alone: ``--impls fast``.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
from collections.abc import Callable
from functools import partial

import numpy as np
import torch
from tqdm import tqdm

from rmt.checkpoint import load_checkpoint
from rmt.device import hardware_name, pick_device
from rmt.inference import classify_equal_length, live_run, prepare_for_inference
from rmt.model import RecurrentMemoryTransformer
from rmt.segments import segment_bounds, text_bounds

IMPLS = ("fast", "paper-style", "live", "full-attention")


def rss_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as f:
        return int(f.read().split()[1]) * 4096


class PeakMemory:
    """Peak RSS (CPU) or max allocated (CUDA) while the block runs."""

    def __init__(self, device: torch.device) -> None:
        self.device, self.peak, self._stop = device, 0, threading.Event()

    def __enter__(self) -> PeakMemory:
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = rss_bytes()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, rss_bytes())

    def __exit__(self, *exc) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, rss_bytes())


@torch.no_grad()
def paper_style_loop(model: RecurrentMemoryTransformer, token_ids: np.ndarray) -> torch.Tensor:
    """The original implementation's way: memory ids in the vocabulary, spliced embeddings, every
    hidden state returned, eager attention, fp32."""
    cfg = model.config
    backbone = model.backbone
    word = backbone.get_input_embeddings()
    device = model.device
    memory = model.initial_memory.float().unsqueeze(0).expand(token_ids.shape[0], -1, -1)
    logits = None
    for a, b in segment_bounds(token_ids.shape[1], cfg.text_per_segment, cfg.segment_overlap):
        text = torch.from_numpy(np.ascontiguousarray(token_ids[:, a:b])).long().to(device)
        n = text.shape[0]
        ids = torch.cat(
            [
                torch.full((n, 1), cfg.cls_token_id, device=device),
                torch.full((n, cfg.num_mem_tokens), cfg.pad_token_id, device=device),
                torch.full((n, 1), cfg.sep_token_id, device=device),
                text,
                torch.full((n, 1), cfg.sep_token_id, device=device),
            ],
            dim=1,
        )
        embeds = word(ids).float()
        embeds[:, 1 : 1 + cfg.num_mem_tokens] = memory
        out = backbone(inputs_embeds=embeds, attention_mask=torch.ones_like(ids), output_hidden_states=True)
        memory = out.hidden_states[-1][:, 1 : 1 + cfg.num_mem_tokens]
        logits = model.classifier(out.pooler_output)
    return logits


def full_attention_model(model: RecurrentMemoryTransformer, length: int, device: torch.device, dtype: torch.dtype):
    from transformers import AutoConfig, AutoModel

    cfg = AutoConfig.for_model(**(model.config.backbone | {"max_position_embeddings": length + 2}))
    cfg._attn_implementation = "sdpa"
    return AutoModel.from_config(cfg).to(device=device, dtype=dtype).eval()


def measure(impl: str, tokens: int, haystacks: int, fn: Callable[[], object], device: torch.device) -> dict:
    """One table row: run ``fn`` (``haystacks`` inputs of ``tokens`` each) and time it, with its peak memory."""
    with PeakMemory(device) as peak:
        started = time.perf_counter()
        fn()
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - started
    return {
        "impl": impl,
        "tokens": tokens,
        "seconds": seconds,
        "peak_bytes": peak.peak,
        "tokens_per_second": haystacks * tokens / seconds,
    }


def benchmark_series(result: dict) -> dict[str, tuple[list[int], list[float]]]:
    """One haystack's time against length, RMT's fast path and full attention, named with what ran them.

    Only batch-1 rows: the app's run reads one haystack, and that is the time set beside it. RMT's line
    names its overlap (a result from before the key read plain segments): a 7-token overlap reads 1.06
    times the segments, so a line timed otherwise is not quite the app's reading.
    """
    if result.get("batch", 1) != 1:
        return {}
    where = f"{result.get('hardware', result['device'])}, {result['dtype']}"
    overlap = result.get("segment_overlap", 0)
    reading = f"{overlap}-token overlap" if overlap else "plain segments"
    if result.get("segment_snap"):  # padded rows with a mask, and no CUDA graphs: timed apart from the others
        reading = "boundaries at sentence ends"
    series = {}
    for impl, name in (("fast", f"RMT ({where}, {reading})"), ("full-attention", f"full attention ({where})")):
        rows = sorted((r for r in result["rows"] if r["impl"] == impl), key=lambda r: r["tokens"])
        if rows:
            series[name] = ([r["tokens"] for r in rows], [r["seconds"] for r in rows])
    return series


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Speed and memory: fast RMT path vs paper-style loop vs full attention."
    )
    parser.add_argument("--checkpoint", default="checkpoints/rmt-minilm-babi")
    parser.add_argument("--max-tokens", type=int, default=2_000_000)
    parser.add_argument("--reference-max-tokens", type=int, default=65_536, help="longest paper-style run (it is slow)")
    parser.add_argument("--live-max-tokens", type=int, default=65_536, help="longest run of the app's live loop")
    parser.add_argument("--full-max-tokens", type=int, default=16_384, help="longest full-attention pass")
    parser.add_argument("--batch", type=int, default=1, help="haystacks run together")
    parser.add_argument("--impls", default=",".join(IMPLS), help=f"which rows to run, comma list of {', '.join(IMPLS)}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    impls = [name.strip() for name in args.impls.split(",") if name.strip()]
    if not impls or set(impls) - set(IMPLS):
        parser.error(f"--impls takes a comma list of {', '.join(IMPLS)}; got {args.impls!r}")
    device = pick_device(args.device)
    model = prepare_for_inference(load_checkpoint(args.checkpoint), device)
    reference = None
    if "paper-style" in impls:  # a second fp32 copy: only loaded when its rows run
        reference = load_checkpoint(args.checkpoint, device=device).float().eval()
        reference.backbone.set_attn_implementation("eager")
    seg = model.config.segment_size
    lengths = []
    length = 4096
    while length < args.max_tokens:
        lengths.append(length)
        length *= 4
    lengths.append(args.max_tokens)
    rng = np.random.default_rng(0)
    vocab = model.backbone.config.vocab_size
    low, high = min(1000, vocab // 2), min(29000, vocab)  # ordinary word pieces, not special ids
    rows = []
    classify_equal_length(model, rng.integers(low, high, size=(args.batch, seg * 2), dtype=np.int32))  # warm-up
    for length in tqdm(lengths, desc="lengths", file=sys.stderr, disable=args.json):
        ids = rng.integers(low, high, size=(args.batch, length), dtype=np.int32)
        if "fast" in impls:
            rows.append(measure("fast", length, args.batch, partial(classify_equal_length, model, ids), device))
        if "paper-style" in impls and length <= args.reference_max_tokens:
            rows.append(measure("paper-style", length, args.batch, partial(paper_style_loop, reference, ids), device))
        if "live" in impls and length <= args.live_max_tokens:  # the app's loop reads one haystack
            probe_every = max(1, len(text_bounds(ids[0], model.config)) // 400)
            steps = live_run(model, ids[0], ids[0, -8:].tolist(), probe_every)  # a generator: runs when drained
            rows.append(measure("live", length, 1, partial(list, steps), device))
        if "full-attention" in impls and length <= args.full_max_tokens:
            full = full_attention_model(model, length, device, model.dtype)
            x = torch.from_numpy(ids).long().to(device)
            with torch.inference_mode():
                rows.append(measure("full-attention", length, args.batch, partial(full, input_ids=x), device))
            del full
    fast = {r["tokens"]: r for r in rows if r["impl"] == "fast"}
    speedup = {
        str(r["tokens"]): fast[r["tokens"]]["tokens_per_second"] / r["tokens_per_second"]
        for r in rows
        if r["impl"] == "paper-style"
    }
    result = {
        "command": "python -m rmt.bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "hardware": hardware_name(device),
        "device": str(device),
        "dtype": str(model.dtype).removeprefix("torch."),
        "segment_size": seg,
        "segment_overlap": model.config.segment_overlap,
        "segment_snap": model.config.segment_snap,
        "batch": args.batch,
        "rows": rows,
        "speedup_vs_reference": speedup,
        "fast_peak_ratio_max_vs_4096": (
            fast[lengths[-1]]["peak_bytes"] / fast[lengths[0]]["peak_bytes"] if fast else None
        ),
        "token_id_bytes_at_max": args.batch * lengths[-1] * np.dtype(np.int32).itemsize,
    }
    if args.json:
        print(json.dumps(result))
    else:
        for r in rows:
            print(
                f"{r['impl']:>15} {r['tokens']:>10,} tok  {r['seconds']:8.2f} s  "
                f"{r['tokens_per_second']:10,.0f} tok/s  "
                f"peak {r['peak_bytes'] / 2**20:8.0f} MiB"
            )
        print("speed-up vs paper-style:", {k: round(v, 2) for k, v in speedup.items()})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
