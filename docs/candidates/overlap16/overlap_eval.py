"""Throwaway (session 36): rmt.evaluate with overlapping segments (rmt.segments.segment_bounds's overlap),
before rmt.evaluate had --overlap. Usage: python docs/candidates/overlap16/overlap_eval.py K EVALUATE-ARGS..."""

import sys

import rmt.inference
import rmt.segments

k = int(sys.argv[1])
rmt.inference.segment_bounds = lambda n, t, _k=0: rmt.segments.segment_bounds(n, t, k)
from rmt.evaluate import main  # noqa: E402

raise SystemExit(main(sys.argv[2:]))
