"""Numbers as a person reads them: the app, the card and the figures share these."""

from __future__ import annotations

from rmt.formatting import flops_saving, format_duration, percent, reading, reading_note, reading_of
from rmt.model import RMTConfig


def test_percent_never_rounds_to_a_perfect_score() -> None:
    assert [percent(x) for x in (1.0, 0.995, 0.93, 0.004, 0.0)] == ["100%", "99.5%", "93%", "0.4%", "0%"]


def test_format_duration_reads_at_a_glance() -> None:
    assert [format_duration(s) for s in (0.4, 59.6, 200, 3725)] == ["0 s", "1 min 00 s", "3 min 20 s", "1 h 02 min"]


def test_flops_saving_never_calls_a_loss_a_saving() -> None:
    assert flops_saving(774.19) == "x774 fewer FLOPs"
    assert flops_saving(1.19) == "about the FLOPs of full attention (ratio 1.19)"
    assert flops_saving(0.5) == "x2.0 more FLOPs than full attention: too short for memory to pay"


def test_reading_note_names_a_reading_that_differs_from_the_served_one() -> None:
    """A point read plainly is flagged once the checkpoint is read with an overlap, and the other way round."""
    plain, overlapped = {"accuracy": 1.0}, {"accuracy": 1.0, "segment_overlap": 16}
    snapped = {"accuracy": 1.0, "segment_snap": 8}
    assert reading_note(plain, reading()) is None and reading_note(overlapped, reading(16)) is None
    assert reading_note(snapped, reading(0, 8)) is None
    assert reading_note(plain, reading(16)) == (
        "read with plain segments, not with the 16-token overlap it is read with now"
    )
    assert reading_note(overlapped, reading()) == "read with a 16-token overlap, not as it is read now (plain segments)"
    assert reading_note(overlapped, reading(8)) == (
        "read with a 16-token overlap, not as it is read now (a 8-token overlap)"
    )
    assert reading_note(overlapped, reading(0, 8)) == (
        "read with a 16-token overlap, not as it is read now (segment boundaries moved to sentence ends)"
    )
    assert reading_note(snapped, reading(7)) == (
        "read with segment boundaries moved to sentence ends, not as it is read now (a 7-token overlap)"
    )
    assert reading_of(RMTConfig(segment_size=128, segment_snap=8, sentence_end_ids=[1012])) == reading(0, 8)
