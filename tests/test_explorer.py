"""The explorer's run control with the shipped model: Stop while a run waits, after it, and mid-run."""

from __future__ import annotations

import json
import threading
from functools import partial

import numpy as np
import pytest
from conftest import tiny_model

from rmt import measured_notes
from rmt.checkpoint import resolve_checkpoint, save_checkpoint
from rmt.cuts import cut_totals
from rmt.explorer import ROOT, Explorer, extra_checkpoints_from_env
from rmt.formatting import reading, reading_note, reading_of, reading_words
from rmt.inference import inspect_segment
from rmt.misses import complete_reasoning_rows, total
from rmt.segments import segment_bounds, sentence_end_ids, text_bounds
from rmt.served import nearest_point
from rmt.tasks import ROOMS, rooms_named
from rmt.verdicts import other_fact_verdict, room_mentions_verdict


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return Explorer(device="cpu")


@pytest.fixture(scope="module")
def plain_explorer() -> Explorer:
    """The shipped weights read with plain segments (``RMT_SEGMENT_OVERLAP=0``), where a boundary can cut a fact."""
    return Explorer(device="cpu", extra_checkpoints=[], segment_overlap=0)


def final_view(explorer: Explorer, hay_id: str, model: str = "auto"):
    *_, last = explorer.run(hay_id, model=model)
    return last


def test_stop_while_waiting_in_the_queue_ends_the_run_before_it_starts(explorer) -> None:
    hay_id, *_ = explorer.generate("memorize", 500, seed=1)
    explorer.request_run(hay_id)  # the page asked; the run waits for another visitor's
    assert "before it started" in explorer.stop(hay_id)
    (view,) = list(explorer.run(hay_id))
    assert "before it started" in view.status and "No answer" in view.verdict
    explorer.request_run(hay_id)  # the next request is not ended by the old Stop
    last = final_view(explorer, hay_id)
    assert last.done and "RMT answers" in last.verdict


def test_stop_when_nothing_runs_leaves_the_next_run_alone(explorer) -> None:
    hay_id, *_ = explorer.generate("memorize", 500, seed=2)
    assert explorer.stop(hay_id) == "Nothing is running."
    explorer.request_run(hay_id)
    assert "RMT answers" in final_view(explorer, hay_id).verdict
    assert explorer.stop(hay_id) == "Nothing is running."  # after a finished run, too
    assert "RMT answers" in final_view(explorer, hay_id).verdict  # an API run, with no request noted
    assert explorer.stop("no-such-haystack") == "Nothing is running."


def test_a_stopped_run_marks_only_what_it_read(explorer) -> None:
    """A 256K-token Detect haystack with its fact at 90%: stopped early, its plots end where it did."""
    hay_id, _, summary = explorer.generate("detect", 256_000, depth=90, seed=3)
    fact_segment = summary["facts"][0]["segment"]
    assert fact_segment > 1000
    replies: list[str] = []
    views = explorer.run(hay_id, min_interval=0.0)
    first = next(views)
    assert "running" in first.status
    stopper = threading.Thread(target=lambda: replies.append(explorer.stop(hay_id)))
    stopper.start()
    *_, last = views
    stopper.join()
    assert "stopped" in last.status and "Stopped after" in last.verdict
    assert replies and replies[0] == last.status  # Stop answers with where the run stopped
    read = int(last.status.split("segment ")[1].split(" of")[0].replace(",", ""))
    assert read < fact_segment
    change_x = last.change_figure.data[0].x
    assert max(change_x) == read and not last.change_figure.layout.shapes  # no band for the unread fact
    memory = last.memory_figure  # none before two snapshots (every 9th segment here)
    assert memory is None or (max(memory.data[0].x) <= read and not memory.layout.shapes)
    assert last.segment == 1  # nothing read to inspect but the start


def test_one_segment_draws_no_memory_map(explorer) -> None:
    """One memory state (after the learned start, which is left out) is no map: the plot stays empty."""
    hay_id, _, summary = explorer.generate("memorize", 100, seed=4)
    assert summary["segments"] == 1
    last = final_view(explorer, hay_id)
    assert last.done and last.memory_figure is None and last.change_figure is not None


def test_a_compared_length_is_labelled_as_such_and_the_curves_reach_it(explorer) -> None:
    fig = explorer.flops_figure(10**9, marker="compared")
    (label,) = fig.layout.annotations
    assert label.text.startswith("compared: 1,000,000,000 tokens")  # not "this run": nothing ran
    assert all(max(trace.x) >= 10**9 for trace in fig.data if trace.x is not None and len(trace.x) > 2)
    assert explorer.flop_tokens(None) == 2_048_000  # an emptied box compares the paper's length
    with pytest.raises(ValueError, match="between 1 and 10"):
        explorer.flop_tokens(0)


def test_a_stop_before_the_first_segment_is_a_stopped_run_not_an_error(explorer) -> None:
    """Stop can land between the run's start and its first segment; once this said 'the haystack is empty'."""
    hay_id, *_ = explorer.generate("memorize", 500, seed=5)
    entry = explorer.entry(hay_id)
    entry.stop.set()
    entry.served = explorer.served["rmt-minilm-babi"]  # as `run` sets it
    *_, view = explorer.run_entry(entry, 0.0)
    assert view.done and "stopped · segment 0 of 5" in view.status.replace("**", "")
    assert view.verdict.startswith("Stopped after 0 of 5 segments")


class StopAfter(threading.Event):
    """A Stop that presses itself once ``segments`` segments were read (the run asks before each).

    Setting it from the test's view loop raced the clock: views slow down to ~5% of the run's time,
    and on a loaded machine the next view after segment 3 was the final one.
    """

    def __init__(self, segments: int) -> None:
        super().__init__()
        self.checks_left = segments

    def is_set(self) -> bool:
        if self.checks_left == 0:
            self.set()
        self.checks_left -= 1
        return super().is_set()


def test_continue_goes_on_from_where_stop_left_and_reaches_the_same_answer(explorer) -> None:
    """Stopped at segment 3 of 40 and continued, the run ends where an uninterrupted one does."""
    hay_id, _, summary = explorer.generate("detect", 40 * explorer.model.config.text_per_segment, depth=80, seed=6)
    total = summary["segments"]
    whole = final_view(explorer, hay_id)
    whole_probs = explorer.entry(hay_id).run.final_probabilities
    with pytest.raises(ValueError, match="nothing to continue"):
        list(explorer.run(hay_id, resume=True))  # a finished run has nothing to continue
    entry = explorer.entry(hay_id)
    entry.stop = StopAfter(3)  # Stop pressed after segment 3, however few views a busy machine shows
    *_, stopped_view = explorer.run(hay_id, min_interval=0.0)
    stopped_at, read_before = len(entry.run.records), list(entry.run.records)
    assert stopped_at == 3 < total and "Continue" in stopped_view.verdict
    *_, last = explorer.run(hay_id, min_interval=0.0, resume=True)
    run = explorer.entry(hay_id).run
    assert last.done and "done" in last.status and last.verdict.split("\n")[0] == whole.verdict.split("\n")[0]
    assert [r.index for r in run.records] == list(range(total))  # every segment once, none twice
    assert all(a is b for a, b in zip(run.records, read_before, strict=False))  # not read again from the start
    assert run.final_probabilities == pytest.approx(whole_probs, abs=1e-5)
    assert run.seconds == sorted(run.seconds)  # the clock goes on, it does not restart


def test_a_room_named_by_the_book_is_marked_and_the_verdict_says_what_it_did(explorer) -> None:
    """The app's scene: Moby-Dick says "this office is called a sinecure" in the question's segment.

    The plot marks the sentence. rmt-minilm-babi, fine-tuned with such sentences planted in its noise,
    keeps the kitchen and the verdict says so; had it answered office, the verdict would quote the
    sentence in the question's own segment.
    """
    hay_id, preview, summary = explorer.generate("memorize", 3296, seed=1592)
    assert summary["answer"] == "kitchen" and summary["rooms_named"] == 2
    assert "<mark class='room'>office</mark> is called a sinecure" in preview
    last = final_view(explorer, hay_id)
    assert "RMT answers **kitchen**" in last.verdict and "**Correct.**" in last.verdict
    assert "named a room in 2 sentences (▼); the memory kept the fact" in last.verdict
    (marks,) = [t for t in last.answer_figure.data if t.name == "room in the text"]
    question_segment = summary["segments"]  # the last one
    assert [question_segment, "office", "By some writers this office is called a sinecure."] in [
        [x, *row] for x, row in zip(marks.x, marks.customdata, strict=True)
    ]
    entry = explorer.entry(hay_id)
    hay = entry.haystack
    wrong = room_mentions_verdict(
        hay, entry.run.records, "office", explorer.class_names, partial(explorer.segment_of, hay=hay)
    )
    assert f"question's own segment ({question_segment}, ▼) names the **office**" in wrong
    assert "sinecure" in wrong and "the model answered **kitchen**" in wrong


def test_the_book_without_its_room_sentences_is_read_against_its_own_table(explorer) -> None:
    """That noise has its own measured table (``no_rooms.json``): the preview quotes it where it has a
    point near the length, the whole book's table elsewhere, and says which book each was."""
    tables = {  # each served checkpoint's shipped no_rooms.json
        name: json.loads((ROOT / "checkpoints" / name / "no_rooms.json").read_text())["tasks"]
        for name in explorer.served
    }
    point = max(tables["rmt-minilm-babi"]["memorize"]["points"], key=lambda p: p["tokens"])
    _, preview, summary = explorer.generate("memorize", point["tokens"], seed=0, noise_source="valid-no-rooms")
    expected = f"({point['correct']} of {point['samples']}, held-out book without its room sentences;"
    assert summary["rooms_named"] == 0 and expected in summary["measured_accuracy"] and expected in preview
    assert "the 24 sentences of the book that do were cut out" in preview
    whole = explorer.generate("memorize", 2_000_000, seed=0)[2]
    assert whole["rooms_named"] > 100 and "without" not in whole["measured_accuracy"]
    short = explorer.generate("memorize", 2_000, seed=0, noise_source="valid-no-rooms")[2]
    assert "(200 of 200, held-out book;" in short["measured_accuracy"]  # 1,840 tokens, measured on the whole book
    stars = [t for t in explorer.accuracy_figure().data if t.marker.symbol == "star"]
    assert set(tables["rmt-minilm-reasoning"]) == {"reasoning"}  # each served checkpoint's own table is starred
    assert sorted(t.name for t in stars) == sorted(
        f"{name}: {task}, book without its room sentences" for name, tasks in tables.items() for task in tasks
    )


def test_the_about_lines_quote_the_served_checkpoints_tables(explorer) -> None:
    """The About text's numbers come from the shipped tables, so replacing a model cannot leave them stale. The
    two points are matched by tokens and said in tokens: each table may have read them in other segments."""
    babi = explorer.served["rmt-minilm-babi"]
    lines = measured_notes.room_sentence_lines(explorer.served.values())
    served_reading = reading_of(babi.model.config)
    for task, entry in babi.no_rooms_evals["tasks"].items():
        for p in entry["points"]:
            book = shipped_point("rmt-minilm-babi", task, p["tokens"])
            book_note, note = (
                f" (read with {reading_words(reading_of(q))})" if reading_of(q) != served_reading else ""
                for q in (book, p)
            )
            assert (
                f"- `rmt-minilm-babi`, {task}, {p['tokens']:,} tokens: {book['correct']} of {book['samples']}"
                f"{book_note} on the book, {p['correct']} of {p['samples']}{note} without its room sentences"
            ) in lines
    counts = total(complete_reasoning_rows(babi.miss_counts))
    line = measured_notes.reasoning_miss_line(babi)
    assert f"{counts['kinds']['other_fact']} of its {counts['misses_listed']:,} wrong answers" in line
    north = counts["splits"]["asked_direction"]["north"]
    assert f"north {north['samples'] - north['misses_listed']} of {north['samples']}" in line
    assert measured_notes.cut_line(babi).startswith("`rmt-minilm-babi` missed ")
    assert measured_notes.cut_line(babi, "memorize") is None  # no Memorize fact was cut: nothing to compare


def test_a_fact_cut_by_a_segment_boundary_is_shown_and_named_in_the_verdict(plain_explorer) -> None:
    """The app's boundary scene read with plain segments: "Sandra travelled | to the hallway." is read half in
    one segment, half in the next.

    Detect's misses on the whole book at 1 to 1,024 segments were such haystacks: the preview shows where the cut falls,
    and the verdict says the memory had to join the halves, quoting the answering checkpoint's own
    counts (``cuts.json``), and that the numbers it quotes were measured with the shipped reading, not this one.
    """
    explorer = plain_explorer
    hay_id, preview, summary = explorer.generate("detect", 1840, seed=538)
    (fact,) = summary["facts"]
    first, second = fact["cut"]["halves"]
    assert (first + " " + second).lower() == fact["text"].lower() and first and second
    hay = explorer.entry(hay_id).haystack
    per_segment = explorer.model.config.text_per_segment
    (cut,) = [
        b
        for _, b in segment_bounds(hay.num_tokens, per_segment)
        if hay.facts[0].token_start < b < hay.facts[0].token_end
    ]
    assert fact["cut"]["segment"] == explorer.segment_of(cut - 1, hay) + 1 == fact["segment"]
    assert f"✂ cut by the end of segment {fact['cut']['segment']}: “{first}” | “{second}”" in preview
    last = final_view(explorer, hay_id)
    verdict = last.verdict
    bands = sorted(shape.x0 for shape in last.answer_figure.layout.shapes)
    assert bands == [fact["cut"]["segment"] - 0.5, fact["cut"]["segment"] + 0.5]  # both segments read the fact
    assert "**Wrong**" in verdict and f"segment {fact['cut']['segment'] + 1} “{second}”" in verdict.replace("\\", "")
    totals = cut_totals(explorer.served["rmt-minilm-babi"].cut_counts["rows"], "detect")
    assert totals["cut_missed"] > 0 and totals["uncut_missed"] < totals["cut_missed"]  # why the page says it
    low, high = totals["tokens"]
    measured = (
        f"`rmt-minilm-babi` missed {totals['cut_missed']} of the {totals['cut']:,} detect haystacks with a cut "
        f"fact and {totals['uncut_missed']} of the {totals['samples'] - totals['cut']:,} without ({low:,} to "
        f"{high:,} tokens)."
    )
    assert "had to join the halves" in verdict and measured in verdict
    quoted = nearest_point(explorer.served["rmt-minilm-babi"].points("detect"), 1840)
    note = reading_note(quoted, reading())  # measured as shipped, not with the plain segments served here
    assert note and f"That point was {note}." in verdict
    # "mary travelled to | the office.": this one it joins; the no-memory baseline's window holds only the end
    joined = final_view(explorer, explorer.generate("detect", 1840, seed=0, noise_source="valid-no-rooms")[0])
    assert "**Correct.**" in joined.verdict and "the memory joined the halves." in joined.verdict
    assert measured in joined.verdict and "reads only the end of a fact that its window cuts" in joined.verdict
    uncut = explorer.generate("detect", 1840, seed=1, noise_source="valid-no-rooms")[2]
    assert uncut["facts"][0]["cut"] is None and uncut["facts"][0]["bridged"] is None
    about = measured_notes.cuts_paragraph(explorer.served.values(), "A fact at a segment boundary")
    assert measured in about and "the scene *A fact at a segment boundary* shows one" in about
    assert "The shipped checkpoints move each boundary to a sentence end instead" in about


def test_a_wrong_reasoning_answer_that_is_the_other_facts_room_quotes_that_fact(explorer) -> None:
    """The app's scene for rmt-minilm-babi's commonest Reasoning miss: the memory held a fact, the
    question read the wrong one."""
    hay_id, _, summary = explorer.generate("reasoning", 920, seed=0)
    hay = explorer.entry(hay_id).haystack
    verdict = final_view(explorer, hay_id, "rmt-minilm-babi").verdict
    answer = verdict.split("**")[1]  # "### RMT answers **kitchen** (51%) · `rmt-minilm-babi`"
    (other,) = [f.text for f in hay.facts if answer in rooms_named(f.text)]
    assert answer != summary["answer"] and summary["answer"] not in rooms_named(other)
    assert "another fact's room" in verdict and other.rstrip(".") in verdict.replace("\\", "")
    asked = rooms_named(hay.question).pop()
    assert other_fact_verdict(hay, summary["answer"]) is None  # right: nothing to explain
    assert other_fact_verdict(hay, asked) is None  # the question's own room is no other fact's
    named_by_facts = set().union(*(rooms_named(f.text) for f in hay.facts))
    unnamed = next(room for room in ROOMS if room not in named_by_facts)
    assert other_fact_verdict(hay, unnamed) is None  # a room no fact names: not this kind of miss
    assert "Reasoning's commonest miss" in verdict
    # facts about two people: the same kind of miss, said as what it is
    hay_id, *_ = explorer.generate(
        "custom", 3000, facts_text="John went to the garden.\nMary went to the kitchen.", question="Where is John?"
    )
    line = other_fact_verdict(explorer.entry(hay_id).haystack, "kitchen")
    assert "“Mary went to the kitchen\\.”" in line and "keep people apart" in line


def test_a_reasoning_verdict_quotes_how_often_its_asked_direction_was_right(explorer) -> None:
    """The shipped model reads memory by direction: the verdict gives the measured rate for this one's."""
    hay_id, _, summary = explorer.generate("reasoning", 920, seed=4)
    hay = explorer.entry(hay_id).haystack
    asked = next(f.text for f in hay.facts if summary["answer"] in rooms_named(f.text))
    direction = next(d for d in ("north", "south", "east", "west") if f" is {d} of " in asked)
    rows = json.loads((resolve_checkpoint(explorer.checkpoint) / "misses.json").read_text())["rows"]
    row = min(rows, key=lambda r: abs(r["tokens"] - 920))
    group = row["splits"]["asked_direction"][direction]
    babi = explorer.served["rmt-minilm-babi"]
    note = measured_notes.direction_note(hay, babi)
    assert f"room **{direction}** of another, rmt-minilm-babi was" in note
    assert f"right {group['samples'] - group['misses_listed']} of {group['samples']} times" in note
    assert note in final_view(explorer, hay_id, "rmt-minilm-babi").verdict
    memorize_id, *_ = explorer.generate("memorize", 920, seed=4)
    assert measured_notes.direction_note(explorer.entry(memorize_id).haystack, babi) is None


def shipped_point(checkpoint: str, task: str, tokens: int) -> dict:
    points = json.loads((ROOT / "checkpoints" / checkpoint / "eval.json").read_text())["tasks"][task]["points"]
    return next(p for p in points if p["tokens"] == tokens)


def test_auto_runs_the_checkpoint_evaluation_measured_best_and_a_named_one_on_request(explorer) -> None:
    """Reasoning goes to rmt-minilm-reasoning, Memorize to rmt-minilm-babi, by their shipped tables;
    a checkpoint named by the visitor runs instead, and the verdict says which answered."""
    assert list(explorer.served) == ["rmt-minilm-babi", "rmt-minilm-reasoning"]
    babi, reasoning = (shipped_point(c, "reasoning", 920) for c in ("rmt-minilm-babi", "rmt-minilm-reasoning"))
    assert reasoning["accuracy"] > babi["accuracy"]
    hay_id, preview, summary = explorer.generate("reasoning", 920, seed=4)
    assert summary["model"] == "rmt-minilm-reasoning"
    for name, point in (("rmt-minilm-babi", babi), ("rmt-minilm-reasoning", reasoning)):  # both quoted
        assert f"{name} answered" in summary["measured_accuracy"] and f"({point['correct']} of 200" in preview
    auto = final_view(explorer, hay_id)
    assert "· rmt-minilm-reasoning ·" in auto.status and "`rmt-minilm-reasoning`" in auto.verdict
    assert f"({reasoning['correct']} of 200, held-out book; chance is 17%). One run is one sample." in auto.verdict
    named = final_view(explorer, hay_id, "rmt-minilm-babi")
    assert "· rmt-minilm-babi ·" in named.status and "`rmt-minilm-babi`" in named.verdict
    assert "rmt-minilm-reasoning" not in named.verdict  # only the model that answered is quoted
    # Memorize at 2M tokens: rmt-minilm-reasoning was never measured there, so the two are compared
    # at the longest length both were (117,760 tokens), where rmt-minilm-babi kept more facts
    assert not any(p["tokens"] == 2_000_000 for p in explorer.served["rmt-minilm-reasoning"].points("memorize"))
    long_memorize = [shipped_point(c, "memorize", 117_760) for c in ("rmt-minilm-babi", "rmt-minilm-reasoning")]
    assert long_memorize[0]["accuracy"] > long_memorize[1]["accuracy"]
    assert explorer.generate("memorize", 2_000_000, seed=0)[2]["model"] == "rmt-minilm-babi"
    # a custom haystack whose facts state directions is read as Reasoning; one about a person as Detect
    relations = "The kitchen is north of the garden.\nThe office is south of the garden."
    custom = explorer.generate("custom", 500, facts_text=relations, question="What is north of the garden?")
    assert custom[2]["model"] == "rmt-minilm-reasoning"
    person = explorer.generate("custom", 500, facts_text="Mary went to the office.", question="Where is Mary?")
    assert person[2]["model"] == "rmt-minilm-babi"
    with pytest.raises(ValueError, match="unknown model 'bert': use auto, rmt-minilm-babi, rmt-minilm-reasoning"):
        next(explorer.run(hay_id, model="bert"))
    assert explorer.entry(hay_id).served.name == "rmt-minilm-babi"  # a refused run leaves the last one alone


def test_continue_and_inspection_use_the_model_that_made_the_run(explorer) -> None:
    """A memory is only readable by the model that wrote it: Continue goes on with it, and the attention
    shown is that model's, whatever the page's model choice says now."""
    hay_id, _, summary = explorer.generate("detect", 40 * explorer.model.config.text_per_segment, seed=8)
    assert summary["model"] == "rmt-minilm-babi"
    entry = explorer.entry(hay_id)
    entry.stop = StopAfter(5)
    *_, stopped = explorer.run(hay_id, min_interval=0.0, model="rmt-minilm-reasoning")
    assert "stopped" in stopped.status and "rmt-minilm-reasoning" in stopped.status
    *_, resumed = explorer.run(hay_id, resume=True, model="auto")  # the page's choice is not asked
    assert resumed.done and "· rmt-minilm-reasoning ·" in resumed.status and "`rmt-minilm-reasoning`" in resumed.verdict
    figure = explorer.inspect(hay_id, 3, 2, "mean")
    run = explorer.entry(hay_id).run
    for name, same in (("rmt-minilm-reasoning", True), ("rmt-minilm-babi", False)):
        _, attentions, _ = inspect_segment(explorer.served[name].model, entry.haystack.token_ids, run, 2, [1])
        rows = attentions[1].mean(0)[: 1 + explorer.model.config.num_mem_tokens].numpy()
        assert np.allclose(figure.data[0].z, rows, atol=1e-3) == same, name


def test_a_checkpoint_with_another_layout_is_not_served(tmp_path, caplog) -> None:
    """The page draws one segment layout and one set of answers: a checkpoint that differs is left
    out, and the log says so."""
    other = save_checkpoint(tiny_model(segment_size=24), tmp_path / "tiny")
    with caplog.at_level("WARNING"):
        explorer = Explorer(device="cpu", extra_checkpoints=[str(other)])
    assert list(explorer.served) == ["rmt-minilm-babi"]
    assert f"not serving {other}" in caplog.text
    assert [value for _, value in explorer.model_choices()] == ["auto", "rmt-minilm-babi"]


def test_extra_checkpoints_come_from_the_environment(monkeypatch) -> None:
    """Unset: the shipped Reasoning checkpoint beside the default; empty: the default alone."""
    monkeypatch.delenv("RMT_EXTRA_CHECKPOINTS", raising=False)
    assert extra_checkpoints_from_env() == [str(ROOT / "checkpoints" / "rmt-minilm-reasoning")]
    monkeypatch.setenv("RMT_EXTRA_CHECKPOINTS", "")
    assert extra_checkpoints_from_env() == []
    monkeypatch.setenv("RMT_EXTRA_CHECKPOINTS", " a/b , c ,")
    assert extra_checkpoints_from_env() == ["a/b", "c"]


def test_an_overlap_shows_the_cut_it_avoids_and_reads_the_fact_whole(monkeypatch) -> None:
    """The boundary scene's haystack read with a 7-token overlap (``RMT_SEGMENT_OVERLAP=7``, what the checkpoints
    shipped with in sessions 39-41): no fact is cut, and the page says where plain segments would have cut it,
    which segment read it whole, and what cuts cost plainly."""
    overlapped = Explorer(device="cpu", segment_overlap=7)
    assert all(reading_of(served.model.config) == reading(7) for served in overlapped.served.values())
    hay_id, preview, summary = overlapped.generate("detect", 1840, seed=538)
    (fact,) = summary["facts"]
    assert fact["cut"] is None and fact["bridged"]["halves"] == ["sandra travelled", "to the hallway."]
    hay = overlapped.entry(hay_id).haystack
    start, end = segment_bounds(hay.num_tokens, 115, 7)[fact["bridged"]["segment"] - 1]
    assert start <= hay.facts[0].token_start and hay.facts[0].token_end <= end  # that segment reads it whole
    bounds = segment_bounds(hay.num_tokens, 115, 7)  # the plots band every segment that reads part of it
    assert overlapped.fact_segments(hay) == [
        k for k, (a, b) in enumerate(bounds) if a < hay.facts[0].token_end and hay.facts[0].token_start < b
    ]
    assert summary["segments"] == 17 and "each re-reading the last 7 tokens of the one before" in preview
    assert f"segment {fact['bridged']['segment']} reads it whole" in preview and "✂" not in preview
    verdict = final_view(overlapped, hay_id).verdict.replace("\\", "")
    assert f"re-reading the last 7 tokens of each segment, segment {fact['bridged']['segment']} read it whole." in (
        verdict
    )
    assert "Read with plain segments, in evaluation `rmt-minilm-babi` missed " in verdict
    quoted = nearest_point(overlapped.served["rmt-minilm-babi"].points("detect"), 1840)
    note = reading_note(quoted, reading(7))  # a point measured otherwise says so
    assert "**Correct.**" in verdict and (f"That point was {note}." in verdict if note else "That point" not in verdict)
    about = measured_notes.cuts_paragraph(overlapped.served.values(), "the scene")
    assert "re-reads the last 7 tokens of the one before, so a fact of up to 8 tokens" in about
    assert "for 1.06 times the segments" in about
    assert measured_notes.cut_line(overlapped.served["rmt-minilm-babi"]) in about
    monkeypatch.setenv("RMT_SEGMENT_OVERLAP", "0")
    assert reading_of(Explorer(device="cpu", extra_checkpoints=[]).model.config) == reading()
    for bad in ("115", "-1", "sixteen"):
        monkeypatch.setenv("RMT_SEGMENT_OVERLAP", bad)
        with pytest.raises(ValueError, match="RMT_SEGMENT_OVERLAP"):
            Explorer(device="cpu", extra_checkpoints=[])


def test_the_shipped_reading_moves_boundaries_to_sentence_ends(explorer, tokenizer) -> None:
    """The shipped configs move segment starts to sentence ends (``segment_snap``): the page's segments, fact
    bands, preview and verdict follow the moved boundaries, and a quoted point read otherwise says so."""
    assert all(
        reading_of(served.model.config) == reading(0, 8)
        and served.model.config.sentence_end_ids == sentence_end_ids(tokenizer)
        for served in explorer.served.values()
    )
    hay_id, preview, summary = explorer.generate("detect", 1840, seed=538)  # the boundary scene
    (fact,) = summary["facts"]
    assert fact["cut"] is None and fact["bridged"]["halves"] == ["sandra travelled", "to the hallway."]
    hay = explorer.entry(hay_id).haystack
    bounds = text_bounds(hay.token_ids, explorer.model.config)
    assert bounds != segment_bounds(hay.num_tokens, 115)  # some boundary moved
    assert summary["segments"] == len(bounds) and all(b - a <= 115 for a, b in bounds)
    start, end = bounds[fact["bridged"]["segment"] - 1]
    assert start <= hay.facts[0].token_start and hay.facts[0].token_end <= end  # that segment reads it whole
    assert explorer.fact_segments(hay) == [fact["bridged"]["segment"] - 1]  # and no other reads any of it
    assert "each starting after a sentence end where one lies within 8 tokens" in preview
    assert f"segment {fact['bridged']['segment']} reads it whole" in preview and "✂" not in preview
    last = final_view(explorer, hay_id, model="rmt-minilm-babi")
    verdict = last.verdict.replace("\\", "")
    assert last.num_segments == len(bounds) and "**Correct.**" in verdict
    assert f"with the boundary moved to the sentence end, segment {fact['bridged']['segment']} read it whole." in (
        verdict
    )
    quoted = nearest_point(explorer.served["rmt-minilm-babi"].points("detect"), 1840)
    note = reading_note(quoted, reading(0, 8))
    assert f"That point was {note}." in verdict if note else "That point" not in verdict
    assert "moves each boundary instead" in measured_notes.cuts_paragraph(explorer.served.values(), "the scene")
