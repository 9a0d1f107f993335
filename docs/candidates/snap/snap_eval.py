"""Read with sentence-aligned segment ends: a prototype reading, not the shipped one (`rmt.segments` lacks it).

Segments are cut from the end as usual, but each boundary moves forward to just after the first sentence end
(".", "!" or "?") among the 8 tokens from the token before it, when there is one. A fact (8 tokens at most,
`rmt.tasks.LONGEST_FACT_TOKENS`) starts after a sentence end and ends with one, so no boundary falls inside it,
and unlike an overlap nothing is read twice; the price is a segment up to 7 tokens short now and then (about 1%
more segments). Runs `rmt.evaluate`'s CLI with its classifier swapped for one that lays each haystack out so
(rows padded to the longest, with an attention mask), and adds to its JSON what was read:

    python docs/candidates/snap/snap_eval.py --checkpoint checkpoints/rmt-minilm-babi --overlap 0 --task detect \
        --segments 1024 --samples 100 --batch-size 100 --only-cut --json > only-cut-detect-1024.json

The JSON's "segments" stays the plain count its length was asked by; "segments_read" is the mean this reading
took, and "command" names this script.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys

import numpy as np
import torch

import rmt.evaluate as evaluate
from rmt.checkpoint import load_checkpoint_tokenizer
from rmt.model import RecurrentMemoryTransformer
from rmt.segments import align_segments
from rmt.tasks import LONGEST_FACT_TOKENS

SENTENCE_ENDS = (".", "!", "?")


def snapped_bounds(token_ids: np.ndarray, text_per_segment: int, ends: set[int]) -> list[tuple[int, int]]:
    """(start, end) of each segment, right-aligned; each start moved past the first sentence end in [s - 1, s + 7)."""
    bounds = []
    end = len(token_ids)
    while end > text_per_segment:
        start = end - text_per_segment
        for j in range(start - 1, min(start - 1 + LONGEST_FACT_TOKENS, end - 1)):
            if int(token_ids[j]) in ends:
                start = j + 1
                break
        bounds.append((start, end))
        end = start
    bounds.append((0, end))
    return bounds[::-1]


def snapped_classifier(ends: set[int], segments_read: list[int]):
    """A stand-in for `rmt.inference.classify_equal_length` that reads each row in its own snapped segments."""

    @torch.inference_mode()
    def classify(
        model: RecurrentMemoryTransformer, token_ids: np.ndarray, last_segments=None, on_segment=None, stop=None
    ):
        if last_segments is not None or model.config.segment_overlap:
            raise SystemExit("the snapped reading is for whole haystacks read with --overlap 0")
        chunks = [[row[a:b] for a, b in snapped_bounds(row, model.config.text_per_segment, ends)] for row in token_ids]
        segments_read.extend(len(c) for c in chunks)
        segments = align_segments(chunks, model.config)  # each step padded to its longest row, with a mask
        logits = model.run_segments(segments)[0]
        if on_segment is not None:
            on_segment(len(segments), len(segments))  # the progress bar moves once a batch, not once a segment
        return logits.to(torch.float32)

    return classify


def main(argv: list[str]) -> int:
    if "--json" not in argv:
        argv = [*argv, "--json"]
    tokenizer = load_checkpoint_tokenizer(argv[argv.index("--checkpoint") + 1])
    ends = set(tokenizer.convert_tokens_to_ids(list(SENTENCE_ENDS)))
    segments_read: list[int] = []
    evaluate.classify_equal_length = snapped_classifier(ends, segments_read)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = evaluate.main(argv)
    result = json.loads(printed.getvalue())
    result["command"] = "python docs/candidates/snap/snap_eval.py " + shlex.join(argv)
    result["segment_snap"] = LONGEST_FACT_TOKENS
    for point in result["points"]:  # one point per length, read in order
        read, segments_read[: point["samples"]] = segments_read[: point["samples"]], []
        point["segments_read"] = round(sum(read) / len(read), 2)
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
