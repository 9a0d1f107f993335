"""The lines beside an answer and the preview's cut notes, from plain data (no model): what a boundary did to
a fact, said in the words of the reading that was served."""

from __future__ import annotations

from rmt.model import RMTConfig
from rmt.preview import cut_clause, reading_clause
from rmt.verdicts import bridge_verdict, cut_verdict

HALVES = {"segment": 3, "halves": ["john moved to", "the <b>*bedroom*</b>."]}


def test_a_cut_fact_is_said_right_or_wrong_with_what_evaluation_measured() -> None:
    assert cut_verdict({}, True, "m missed 2 of 13.") is None
    right = cut_verdict({0: HALVES}, True, "m missed 2 of 13.")
    assert right.startswith("A segment boundary cut the fact in two (segment 3 read “john moved to”, segment 4 ")
    assert r"\*bedroom\*" in right and "*bedroom*" not in right.replace(r"\*", "")  # Markdown shows it as it is
    assert right.endswith(": the memory joined the halves. In evaluation m missed 2 of 13.")
    wrong = cut_verdict({0: HALVES}, False, None)
    assert wrong.endswith(": the memory had to join the halves.") and "evaluation" not in wrong


def test_a_fact_the_reading_kept_whole_names_the_reading() -> None:
    snap = RMTConfig(segment_size=128, segment_snap=8, sentence_end_ids=[1012])
    overlap = RMTConfig(segment_size=128, segment_overlap=7)
    assert bridge_verdict({}, snap, "x") is None
    by_snap = bridge_verdict({1: HALVES}, snap, "m missed 2 of 13.")
    assert "with the boundary moved to the sentence end, segment 3 read it whole." in by_snap
    assert by_snap.endswith(" Read with plain segments, in evaluation m missed 2 of 13.")
    by_overlap = bridge_verdict({1: HALVES}, overlap, None)
    assert by_overlap.endswith("re-reading the last 7 tokens of each segment, segment 3 read it whole.")
    assert reading_clause(snap) == ", each starting after a sentence end where one lies within 8 tokens"
    assert reading_clause(overlap) == ", each re-reading the last 7 tokens of the one before"
    assert reading_clause(RMTConfig(segment_size=128)) == ""


def test_the_preview_escapes_the_halves_it_quotes() -> None:
    cut = cut_clause({"cut": HALVES, "bridged": None})
    assert "cut by the end of segment 3" in cut and "&lt;b&gt;*bedroom*&lt;/b&gt;" in cut and "<b>" not in cut
    bridged = cut_clause({"cut": None, "bridged": HALVES})
    assert "plain segments would cut it" in bridged and "segment 3 reads it whole" in bridged
    assert cut_clause({"cut": None, "bridged": None}) == ""
