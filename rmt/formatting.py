"""How numbers read to a person, shared by the app's sentences, the model card and the figures.

One place so that a score reads the same everywhere: the card must not say 100% where the app says
99.5% for the same measurement.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+\-.!|~&])")


def percent(fraction: float) -> str:
    """Whole percent, except where rounding would claim a perfect or a zero score (199/200 is 99.5%)."""
    text = f"{fraction:.0%}"
    if text in ("100%", "0%") and fraction not in (0.0, 1.0):
        return f"{fraction:.1%}"
    return text


def format_duration(seconds: float) -> str:
    """'45 s', '3 min 20 s', '1 h 05 min': a remaining time a person reads at a glance."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def flops_saving(ratio: float) -> str:
    """Full-attention FLOPs over RMT's, in words. Short inputs cost RMT more (memory tokens, a
    partly empty first segment), and 'x1 fewer' for a ratio of 0.68 would be false."""
    if ratio >= 1.5:
        return f"x{ratio:,.0f} fewer FLOPs"
    if ratio >= 1 / 1.5:
        return f"about the FLOPs of full attention (ratio {ratio:.2f})"
    return f"x{1 / ratio:.1f} more FLOPs than full attention: too short for memory to pay"


def markdown_literal(text: str) -> str:
    """Text shown as it is inside Markdown: a book's _italics_ or a pasted <tag> must not format.

    Every ASCII punctuation mark may be backslash-escaped in CommonMark, so escaping all the
    significant ones is always safe.
    """
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def reading(overlap: int = 0, snap: int = 0) -> dict[str, int]:
    """How segments were cut, as a run's JSON and a checkpoint's config record it: the part of a measurement
    that is not the weights (``RMTConfig.segment_overlap`` and ``segment_snap``)."""
    return {"segment_overlap": overlap, "segment_snap": snap}


def reading_of(source: Mapping | object) -> dict[str, int]:
    """The reading a run, a point, a ``config.json`` or an ``RMTConfig`` records (a key it lacks is from
    before that option existed: 0)."""
    if isinstance(source, Mapping):
        return reading(source.get("segment_overlap", 0), source.get("segment_snap", 0))
    return reading(getattr(source, "segment_overlap", 0), getattr(source, "segment_snap", 0))


def reading_words(read: Mapping[str, int]) -> str:
    """A reading in a few words, as a note finishes "read with ..."."""
    if read.get("segment_snap"):
        return "segment boundaries moved to sentence ends"
    overlap = read.get("segment_overlap", 0)
    return f"a {overlap}-token overlap" if overlap else "plain segments"


def reading_note(point: dict, served: Mapping[str, int]) -> str | None:
    """How an evaluation point read its haystacks, when that is not how the checkpoint is read now (``served``,
    a ``reading``).

    A point's ``segment_overlap`` and ``segment_snap`` are part of what was measured: a score read with plain
    segments says little about a reading that keeps the facts a boundary would cut whole. Said wherever the
    point is quoted.
    """
    measured = reading_of(point)
    if measured == reading_of(served):
        return None
    overlap = served.get("segment_overlap", 0)
    if measured == reading() and overlap:
        return f"read with plain segments, not with the {overlap}-token overlap it is read with now"
    return f"read with {reading_words(measured)}, not as it is read now ({reading_words(served)})"
