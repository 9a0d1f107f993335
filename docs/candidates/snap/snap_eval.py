"""The session-41 prototype's command line, now a shim over ``python -m rmt.evaluate --snap 8``.

The JSONs here were printed by this script when it carried its own copy of the snapped reading (session 41,
and the session-42 runs started before the library had it). ``rmt.segments.snapped_bounds`` and
``rmt.evaluate --snap`` now read that way, with the same logits (largest difference 0.0 on 12 haystacks), so
this script only keeps the recorded commands runnable:

    python docs/candidates/snap/snap_eval.py --checkpoint checkpoints/rmt-minilm-babi --overlap 0 --task detect \
        --segments 1024 --samples 100 --batch-size 100 --only-cut --json > only-cut-detect-1024.json

is ``python -m rmt.evaluate ... --overlap 0 --snap 8``. The JSON's "segments" stays the plain count its length
was asked by; "segments_read" is the mean this reading took, and "command" names this script.
"""

from __future__ import annotations

import contextlib
import io
import json
import shlex
import sys

import rmt.evaluate as evaluate
from rmt.tasks import LONGEST_FACT_TOKENS


def main(argv: list[str]) -> int:
    if "--json" not in argv:
        argv = [*argv, "--json"]
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        code = evaluate.main([*argv, "--snap", str(LONGEST_FACT_TOKENS)])
    result = json.loads(printed.getvalue())
    result["command"] = "python docs/candidates/snap/snap_eval.py " + shlex.join(argv)
    print(json.dumps(result))
    return code


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
