"""How numbers read to a person, shared by the app's sentences, the model card and the figures.

One place so that a score reads the same everywhere: the card must not say 100% where the app says
99.5% for the same measurement.
"""

from __future__ import annotations

import re

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


def reading_note(point: dict, overlap: int) -> str | None:
    """How an evaluation point read its haystacks, when that is not how the checkpoint is read now.

    A point's ``segment_overlap`` (absent: 0, from before the option existed) is part of what was
    measured: a score read with plain segments says little about a reading that re-reads 16 tokens
    of each segment, since that is what keeps facts a boundary would cut. Said wherever the point is quoted.
    """
    measured = point.get("segment_overlap", 0)
    if measured == overlap:
        return None
    if measured == 0:
        return f"read with plain segments, not with the {overlap}-token overlap it is read with now"
    return f"read with a {measured}-token overlap, not as it is read now" + (
        f" (a {overlap}-token overlap)" if overlap else " (plain segments)"
    )
