"""What evaluation measured for a served checkpoint, in the sentences the page quotes.

A single run is one sample, so the verdict, the haystack summary and the About page read each answer
against the shipped tables (``eval.json``, ``names.json``, ``misses.json``, ``cuts.json``, ``no_rooms.json``):
plain functions of ``ServedModel``, so the page and its tests call the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

from rmt.cuts import cut_totals
from rmt.evaluate import order_split
from rmt.formatting import percent, reading_of, reading_words
from rmt.haystack import Haystack, asked_fact, fact_person
from rmt.misses import complete_reasoning_rows, group_right, total
from rmt.served import ServedModel, nearest_point, point_note
from rmt.tasks import LONGEST_FACT_TOKENS, NAMES, OPPOSITE, relation_direction


def measured_accuracy(models: Iterable[ServedModel], task: str, num_tokens: int, noise: str = "valid") -> str | None:
    """What evaluation measured for this task at the nearest length, so a run is read against it.

    One run is one sample: a right answer at 2M tokens is not proof, a wrong one not a bug. One
    sentence per model in ``models`` says how often it was right at about this length, and on which
    book: the one without its room sentences has its own table.
    """
    sentences = []
    for served in models:
        points = served.points(task, noise)
        if not points or num_tokens <= 0:
            continue
        point = nearest_point(points, num_tokens)
        sentences.append(
            f"In evaluation {served.name} answered {percent(point['accuracy'])} of {task} haystacks of "
            f"{point['tokens']:,} tokens right ({point['correct']} of {point['samples']}, {point['book']}"
            + (f"; chance is {1 / len(served.class_names):.0%})." if not sentences else ").")
            + (f" That point was {note}." if (note := point_note(point, reading_of(served.model.config))) else "")
        )
    return " ".join(sentences) or None


def direction_note(hay: Haystack, served: ServedModel) -> str | None:
    """How often evaluation got Reasoning right when the asked fact stated this direction.

    The shipped model reads the facts out of memory by their direction, not by the question's:
    asked for the room north of another it is mostly right, south mostly wrong.
    One run cannot show that; the measured rates at about this length can.
    """
    if hay.task != "reasoning" or not hay.answer:
        return None
    asked = asked_fact(hay)
    direction = relation_direction(asked.text) if asked else None
    rows = complete_reasoning_rows(served.miss_counts)
    if direction is None or not rows:
        return None
    row = nearest_point(rows, hay.num_tokens)
    groups = row["splits"]["asked_direction"]
    if direction not in groups:
        return None

    def right(d: str) -> str:
        return "{} of {}".format(*group_right(groups[d]))

    others = ", ".join(f"{d} {right(d)}" for d in OPPOSITE if d != direction and d in groups)
    rates = [r / n for r, n in (group_right(g) for g in groups.values()) if n]
    # rmt-minilm-babi's rates differ by 50 points by direction (117,760 tokens: north 32 of 48, south 9 of 52);
    # a reader steered by the question (rmt-minilm-reasoning) keeps them close: no preference to name.
    lopsided = max(rates) - min(rates) >= 0.3
    why = ": it reads the facts out of memory by their direction more than by the question's (see About)"
    return (
        f"Asked for the room **{direction}** of another, {served.name} was right {right(direction)} times "
        f"in evaluation at {row['tokens']:,} tokens ({others}){why if lopsided else ''}."
    )


def room_sentence_lines(models: Iterable[ServedModel]) -> list[str]:
    """Each served checkpoint's accuracy on the book and on it without its room sentences, at the lengths
    both were measured: the About text quotes the tables, so it cannot go stale when a model is replaced.

    The two tables are re-read one length at a time, so a pair may have read its haystacks differently (the
    book with sentence-end boundaries, the other with the older overlap): a count not read as served says so.
    """

    def count(point: dict, served: ServedModel) -> str:  # the reading said briefly: the page says how it reads
        read = reading_of(point)
        note = f" (read with {reading_words(read)})" if read != reading_of(served.model.config) else ""
        return f"{point['correct']} of {point['samples']}{note}"

    lines = []
    for served in models:
        for task, entry in served.no_rooms_evals.get("tasks", {}).items():
            whole = {p["tokens"]: p for p in served.points(task)}
            for p in entry["points"]:
                if (book := whole.get(p["tokens"])) is not None:
                    lines.append(
                        f"- `{served.name}`, {task}, {p['tokens']:,} tokens: {count(book, served)} on the book, "
                        f"{count(p, served)} without its room sentences"
                    )
    return lines


def reasoning_miss_line(served: ServedModel) -> str | None:
    """What a checkpoint's Reasoning misses were, and its right answers by the asked direction, over
    every length its ``misses.json`` lists in full."""
    rows = complete_reasoning_rows(served.miss_counts)
    if not rows:
        return None
    counts = total(rows)
    directions = counts["splits"]["asked_direction"]
    low, high = min(r["tokens"] for r in rows), max(r["tokens"] for r in rows)
    right = ", ".join("{} {} of {}".format(d, *group_right(directions[d])) for d in OPPOSITE if d in directions)
    return (
        f"`{served.name}`, {low:,} to {high:,} tokens: {counts['kinds']['other_fact']} of its "
        f"{counts['misses_listed']:,} wrong answers were the room of the other fact (a wrong room drawn at "
        f"random would be that {counts['other_fact_by_chance']:.0f} times); asked for the room in each "
        f"direction it was right {right}."
    )


def cut_line(served: ServedModel, task: str = "detect") -> str | None:
    """How often a checkpoint missed ``task`` haystacks with a cut fact, beside those without one."""
    totals = cut_totals(served.cut_counts.get("rows", []), task)
    if totals is None:
        return None
    low, high = totals["tokens"]
    return (
        f"`{served.name}` missed {totals['cut_missed']} of the {totals['cut']:,} {task} haystacks with a cut "
        f"fact and {totals['uncut_missed']} of the {totals['samples'] - totals['cut']:,} without "
        f"({low:,} to {high:,} tokens)."
    )


def cuts_paragraph(models: Iterable[ServedModel], scene: str) -> str:
    """The About page on facts cut by a segment boundary, for the reading this server serves, with what
    evaluation measured on cut haystacks (read plainly: ``cuts.json``)."""
    models = list(models)
    lines = "\n".join(f"- {line}" for m in models if (line := cut_line(m)))
    lines = lines or "- (not measured for the served checkpoints)"
    cfg = models[0].model.config  # every served model reads alike (same_layout)
    if cfg.segment_snap:
        return (
            "A fact goes in wherever the segments happen to end. Read with plain segments, now and then a "
            'boundary cuts one in two ("sandra travelled" | "to the hallway."), and the memory has to join the '
            f"halves, which it does not always do (measured reading plain segments):\n\n{lines}\n\nThis server "
            "moves each boundary instead: a segment is cut from the end as usual, then its start moves forward to "
            f"just after the first sentence end among the {cfg.segment_snap} tokens from the token before it. A "
            "fact starts after a sentence end and ends with one, so no boundary falls inside a fact of up to "
            f"{cfg.segment_snap} tokens, and nothing is read twice; a segment is up to {cfg.segment_snap - 1} "
            "tokens short now and then (about 1% more segments). The preview says where plain segments would "
            f"have cut a fact and which segment reads it whole, and so does the verdict; the scene *{scene}* "
            "shows one. A number the page quotes that was measured reading otherwise says so."
        )
    if not cfg.segment_overlap:
        return (
            "A fact goes in wherever the segments happen to end, so now and then a segment boundary cuts it "
            'in two ("sandra travelled" | "to the hallway."), and the memory has to join the halves, which it '
            f"does not always do:\n\n{lines}\n\nThe preview marks a cut fact ✂ and the verdict says so; the "
            f"scene *{scene}* shows one. This server reads plain segments (`RMT_SEGMENT_OVERLAP=0`). The shipped "
            "checkpoints move each boundary to a sentence end instead: a segment starts just after the first "
            f"sentence end among the {LONGEST_FACT_TOKENS} tokens from the token before its plain start, so that "
            f"no fact, {LONGEST_FACT_TOKENS} tokens at most, is cut and nothing is read twice (the README says "
            "what that changed)."
        )
    ratio = cfg.text_per_segment / (cfg.text_per_segment - cfg.segment_overlap)
    return (
        "A fact goes in wherever the segments happen to end. Read with plain segments, now and then a boundary "
        'cuts one in two ("sandra travelled" | "to the hallway."), and the memory has to join the halves, which '
        f"it does not always do (measured reading plain segments):\n\n{lines}\n\nThis server reads with "
        f"overlapping segments instead: each segment after the first re-reads the last {cfg.segment_overlap} "
        f"tokens of the one before, so a fact of up to {cfg.segment_overlap + 1} tokens is read whole by some "
        f"segment, for {ratio:.2f} times the segments. The preview says where plain segments would have cut a "
        f"fact and which segment reads it whole, and so does the verdict; the scene *{scene}* shows one. A "
        "number the page quotes that was measured reading otherwise says so."
    )


def people_note(facts: list[str], num_tokens: int, served: ServedModel) -> str | None:
    """Facts about several people: how often the model kept them apart in evaluation.

    A model that only ever saw one person a haystack answers the room it read last, whoever it
    belongs to; a user who types two people's facts must be told what to expect.
    """
    people = {name for name in map(fact_person, facts) if name}
    if len(people) < 2:
        return None
    others = min(len(people), len(NAMES)) - 1
    rows = [r for r in served.people_evals if r.get("task") == "detect" and r.get("other_people") == others]
    if not rows or not rows[0].get("points"):
        return (
            f"The facts are about {len(people)} people. {served.name} was never measured keeping people "
            "apart: it may answer the room it read last, whoever it belongs to."
        )
    point = nearest_point(rows[0]["points"], num_tokens)
    note = (
        f"The facts are about {len(people)} people. In evaluation {served.name} answered "
        f"{percent(point['accuracy'])} of Detect haystacks holding {others + 1} people's facts right "
        f"({point['correct']} of {point['samples']} at {point['tokens']:,} tokens, held-out book)."
    )
    if split := order_split(point):
        last, earlier = split
        note += (
            f" It was right {last['correct']} of {last['samples']} times when the asked person's fact came "
            f"last, {earlier['correct']} of {earlier['samples']} when another person's fact came after it."
        )
    return note
