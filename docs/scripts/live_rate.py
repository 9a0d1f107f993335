"""Seconds per segment of the app's live loop on a real 2,000,000-token Detect haystack, beside the fast path.

``rmt.bench``'s ``live`` row stops at 65,536 tokens, where the loop asks the question after every segment;
at 2,000,000 tokens the app asks every N/400 segments, so the 65,536-token rate would overstate a long run.
This times the first ``N`` segments of both (default 1,500), twice, and extrapolates to the whole haystack:

    HF_HUB_OFFLINE=1 PYTHONPATH=. python docs/scripts/live_rate.py [N]
"""

from __future__ import annotations

import itertools
import sys
import time

import numpy as np

from rmt.checkpoint import load_checkpoint, load_checkpoint_tokenizer
from rmt.device import pick_device
from rmt.haystack import build_haystack
from rmt.inference import classify_equal_length, live_run, prepare_for_inference
from rmt.segments import text_bounds

CHECKPOINT = "checkpoints/rmt-minilm-babi"


def main(timed: int) -> None:
    model = prepare_for_inference(load_checkpoint(CHECKPOINT), pick_device("auto"))
    hay = build_haystack("detect", 2_000_000, load_checkpoint_tokenizer(CHECKPOINT), seed=0)
    ids = np.asarray(hay.token_ids)
    bounds = text_bounds(ids, model.config)
    probe_every = max(1, len(bounds) // 400)  # as the app asks (Explorer.run_entry)
    print(f"segments {len(bounds)}, probe_every {probe_every}, {model.device} {model.dtype}, timing {timed}")
    for rep in range(2):
        start = time.perf_counter()
        for _ in itertools.islice(live_run(model, ids, hay.question_ids, probe_every), timed):
            pass
        live = (time.perf_counter() - start) / timed
        prefix = ids[: bounds[timed][0]]  # about the same segments, read by the batched fast path
        start = time.perf_counter()
        classify_equal_length(model, prefix[None])
        fast = (time.perf_counter() - start) / len(text_bounds(prefix, model.config))
        print(
            f"rep {rep}: live {live * 1000:.1f} ms/segment ({live * len(bounds) / 60:.1f} min for the haystack, "
            f"{len(ids) / (live * len(bounds)):,.0f} tokens/s); fast path {fast * 1000:.1f} ms/segment"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1500)
