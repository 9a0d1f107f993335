"""Haystacks on the real tokenizer and the shipped books: spans, boundaries, lengths, seeds."""

from __future__ import annotations

import re

import numpy as np
import pytest
from conftest import assert_facts_well_placed

from rmt.haystack import asked_fact_is_last, build_custom_haystack, build_haystack
from rmt.noise import TRAIN_BOOKS, VALID_BOOKS, load_corpus, strip_gutenberg_wrapper
from rmt.tasks import NAMES, ROOMS, make_task


@pytest.mark.parametrize("task", ["memorize", "detect", "reasoning"])
@pytest.mark.parametrize("tokens", [200, 5000])
def test_task_haystacks(task: str, tokens: int, tokenizer) -> None:
    hay = build_haystack(task, tokens, tokenizer, seed=3)
    assert hay.num_tokens == tokens
    assert_facts_well_placed(hay, tokenizer)
    assert hay.answer in ROOMS
    assert hay.text.endswith(hay.question)
    assert hay.question_ids == tokenizer(hay.question, add_special_tokens=False)["input_ids"]
    # the token ids are exactly what the tokenizer makes of the text
    assert tokenizer(hay.text, add_special_tokens=False)["input_ids"] == hay.token_ids.tolist()
    if task == "memorize":
        assert hay.facts[0].char_start == 0


def test_answers_follow_from_the_facts() -> None:
    import random

    rng = random.Random(0)
    for _ in range(200):
        sample = make_task("detect", rng)
        name = sample.question.removeprefix("Where is ").rstrip("?")
        assert name in NAMES and sample.facts[0].startswith(name) and sample.facts[0].endswith(f"the {sample.answer}.")
    opposite = {"north": "south", "south": "north", "east": "west", "west": "east"}
    for _ in range(200):
        sample = make_task("reasoning", rng)
        relations = [re.match(r"The (\w+) is (\w+) of the (\w+)\.", f).groups() for f in sample.facts]
        if m := re.match(r"What is (\w+) of the (\w+)\?", sample.question):
            direction, centre = m.groups()
            hits = [a for a, d, c in relations if d == direction and c == centre]
        else:
            centre, direction = re.match(r"What is the (\w+) (\w+) of\?", sample.question).groups()
            hits = [a for a, d, c in relations if d == opposite[direction] and c == centre]
        assert hits == [sample.answer]


def test_same_seed_same_haystack_other_seed_other(tokenizer) -> None:
    a = build_haystack("detect", 3000, tokenizer, seed=7)
    b = build_haystack("detect", 3000, tokenizer, seed=7)
    c = build_haystack("detect", 3000, tokenizer, seed=8)
    assert a.text == b.text and np.array_equal(a.token_ids, b.token_ids)
    assert a.text != c.text


@pytest.mark.parametrize("depth", [0.0, 0.5, 1.0])
def test_fact_depth(depth: float, tokenizer) -> None:
    hay = build_haystack("detect", 20000, tokenizer, seed=1, depth=depth)
    position = hay.facts[0].token_start / hay.num_tokens
    assert abs(position - depth) < 0.02
    assert_facts_well_placed(hay, tokenizer)


def test_two_million_tokens_wrap_the_corpus(tokenizer) -> None:
    hay = build_haystack("reasoning", 2_000_000, tokenizer, seed=0)
    assert hay.num_tokens == 2_000_000
    assert_facts_well_placed(hay, tokenizer)
    assert load_corpus("valid", tokenizer).num_tokens < 2_000_000  # so it really wrapped


def test_train_and_valid_books_do_not_overlap(tokenizer) -> None:
    assert not set(TRAIN_BOOKS) & set(VALID_BOOKS)
    train = build_haystack("detect", 3000, tokenizer, seed=0, noise="train")
    valid = load_corpus("valid", tokenizer).text
    assert train.text[:200] not in valid


def test_noise_from_any_text_file(tmp_path, tokenizer) -> None:
    path = tmp_path / "noise.txt"
    path.write_text("The sky was grey. Rain fell on the town! Nobody went out? " * 50)
    hay = build_haystack("detect", 600, tokenizer, seed=0, noise=str(path))
    assert hay.num_tokens == 600 and "Rain fell" in hay.text
    assert_facts_well_placed(hay, tokenizer)


def test_custom_haystack(tokenizer) -> None:
    hay = build_custom_haystack(
        "One line only. Another line here.",
        ["Sandra went to the garden.", "Mary moved to the office."],
        "Where is Sandra?",
        400,
        tokenizer,
        answer="garden",
    )
    assert hay.num_tokens == 400 and hay.answer == "garden"
    assert [f.text for f in hay.facts] == ["Sandra went to the garden.", "Mary moved to the office."]
    assert_facts_well_placed(hay, tokenizer)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"question": " "}, "question"),
        ({"facts": []}, "fact"),
        ({"num_tokens": 0}, "positive"),
        ({"num_tokens": 10**9}, "maximum"),
    ],
)
def test_custom_haystack_rejects_bad_input(kwargs, message, tokenizer) -> None:
    args = {
        "noise_text": "Some text.",
        "facts": ["John went to the kitchen."],
        "question": "Where is John?",
        "num_tokens": 100,
        "tokenizer": tokenizer,
    } | kwargs
    with pytest.raises(ValueError, match=message):
        build_custom_haystack(**args)


@pytest.mark.parametrize("task", ["memorize", "detect"])
@pytest.mark.parametrize("others", [1, 3])
def test_other_people_facts(task: str, others: int, tokenizer) -> None:
    """Facts about other names join the asked one; the answer is still the asked person's room,
    and the asked fact is not always first (no positional shortcut to learn)."""
    firsts = []
    for seed in range(20):
        hay = build_haystack(task, 2000, tokenizer, seed=seed, other_people=others)
        assert hay.num_tokens == 2000 and len(hay.facts) == others + 1
        assert_facts_well_placed(hay, tokenizer)
        asked = hay.question.removeprefix("Where is ").rstrip("?")
        names = [f.text.split()[0] for f in hay.facts]
        assert sorted(names) == sorted(set(names)) and asked in names  # one fact a person
        firsts.append(names[0] == asked)
        own = hay.facts[names.index(asked)].text
        assert own.endswith(f"the {hay.answer}.")
        if task == "memorize":  # a block of facts opens the haystack
            assert hay.facts[0].char_start == 0
            assert all(b.char_start == a.char_end + 1 for a, b in zip(hay.facts, hay.facts[1:], strict=False))
    assert 0 < sum(firsts) < len(firsts)


def test_asked_fact_is_last_follows_the_reading_order(tokenizer) -> None:
    """The split that tells "keeps the latest room" from "keeps each person's room" reads fact order, not list order."""
    facts = ["Mary went to the kitchen.", "John went to the garden."]
    for question, last in (("Where is John?", True), ("Where is Mary?", False)):
        hay = build_custom_haystack(None, facts, question, 600, tokenizer, depth=0.3)
        assert hay.facts[0].token_start < hay.facts[1].token_start
        assert asked_fact_is_last(hay) is last
    orders = {asked_fact_is_last(build_haystack("detect", 1500, tokenizer, seed=s, other_people=1)) for s in range(12)}
    assert orders == {True, False}  # drawn haystacks ask about the earlier and the later person


def test_other_people_leave_the_plain_task_unchanged(tokenizer) -> None:
    """Zero other people draws exactly the haystacks drawn before the option existed (pinned from
    that version), so the published accuracy tables still reproduce."""
    before = {
        "memorize": ([("Sandra went to the bedroom.", 0)], "bedroom"),
        "detect": ([("Mary went back to the bathroom.", 1040)], "bathroom"),
        "reasoning": (
            [("The bedroom is east of the hallway.", 247), ("The bathroom is west of the hallway.", 829)],
            "bedroom",
        ),
    }
    for task, (facts, answer) in before.items():
        hay = build_haystack(task, 1500, tokenizer, seed=11, other_people=0)
        assert [(f.text, f.token_start) for f in hay.facts] == facts and hay.answer == answer
    with pytest.raises(ValueError, match="other people"):
        build_haystack("detect", 1500, tokenizer, seed=11, other_people=4)


def test_unknown_task_is_a_clear_error(tokenizer) -> None:
    with pytest.raises(ValueError, match="unknown task"):
        build_haystack("juggling", 100, tokenizer)


def test_gutenberg_wrapper_is_not_noise() -> None:
    """The licence reads like a location fact ("principal office is located at"): only the book is noise."""
    book = "Call me Ishmael. Some years ago I went to sea."
    wrapped = (
        "The Project Gutenberg EBook of Moby Dick\n\n*** START OF THIS PROJECT GUTENBERG EBOOK MOBY DICK ***\n\n"
        f"{book}\n\nEnd of Project Gutenberg's Moby Dick\n\n*** END OF THIS PROJECT GUTENBERG EBOOK MOBY DICK ***\n"
        "The Foundation's principal office is located at 4557 Melan Dr.\n"
    )
    assert strip_gutenberg_wrapper(wrapped).strip() == book
    assert strip_gutenberg_wrapper(book) == book  # a text without the markers is kept whole


def test_shipped_books_carry_no_licence(tokenizer) -> None:
    for split in ("train", "valid"):
        text = load_corpus(split, tokenizer).text
        assert "principal office is located" not in text
        assert "Project Gutenberg-tm" not in text


def test_training_samples_with_other_people(tokenizer) -> None:
    """``other_people_prob`` reaches the haystacks the trainer draws; Reasoning is left alone."""
    import random

    from rmt.data import make_sample

    rng = random.Random(0)
    counts = [len(make_sample("detect", 2, 115, tokenizer, rng, "train", 0.0, 1.0)[0].facts) for _ in range(12)]
    assert min(counts) >= 2 and max(counts) <= 4
    assert len(make_sample("reasoning", 2, 115, tokenizer, rng, "train", 0.0, 1.0)[0].facts) == 2
    assert len(make_sample("memorize", 2, 115, tokenizer, rng, "train", 0.0, 0.0)[0].facts) == 1


@pytest.mark.parametrize("segments", [2, 5])
def test_question_alone_samples_end_in_a_segment_holding_only_the_question(tokenizer, segments: int) -> None:
    """Until session 11 these samples had the question share a full segment with the text before it."""
    import random

    from rmt.data import make_batch
    from rmt.model import RMTConfig
    from rmt.segments import segment_batch

    config = RMTConfig(num_mem_tokens=10, segment_size=48)
    batch = make_batch(["memorize"], segments, 6, config.text_per_segment, tokenizer, random.Random(1), "train", 1.0)
    assert batch.question_starts == [(segments - 1) * config.text_per_segment] * 6
    split = segment_batch(batch.token_ids, config, batch.question_starts)
    assert len(split) == segments
    assert all(tokenizer.decode(t).startswith("where is") for t in split[-1].text_ids)
    assert all(len(t) == config.text_per_segment for t in split[-2].text_ids)  # the text before: full segments


def test_other_questions_answer_from_the_same_facts() -> None:
    """Each other question names a different fact and carries that fact's room; a question whose
    answer equals the asked one teaches nothing about reading the question, so none is offered."""
    from rmt.tasks import other_questions

    people = ["Mary went back to the kitchen.", "John moved to the garden.", "Daniel went to the kitchen."]
    assert other_questions(people, "Where is Mary?", "kitchen") == [("Where is John?", "garden")]
    relations = ["The garden is north of the office.", "The bathroom is west of the office."]
    assert other_questions(relations, "What is north of the office?", "garden") == [
        ("What is west of the office?", "bathroom")
    ]
    assert other_questions(relations, "What is the office south of?", "garden") == [
        ("What is the office east of?", "bathroom")  # the asked question's phrasing is kept
    ]
    assert other_questions(["Sandra journeyed to the hallway."], "Where is Sandra?", "hallway") == []
    assert other_questions(people, "Where is Mary?", "kitchen", asked=("Mary", "Daniel")) == []  # --asked holds


@pytest.mark.parametrize("task", ["memorize", "detect", "reasoning"])
def test_ask_twice_pairs_one_haystack_with_two_answers(task: str, tokenizer) -> None:
    """The second of a pair is the first haystack token for token up to the question, and its
    answer is another fact's room: the same memory asked two things."""
    import random

    from rmt.data import make_batch
    from rmt.tasks import ROOMS

    batch = make_batch(
        [task], 3, 9, 115, tokenizer, random.Random(2), "train", 0.5, other_people_prob=1.0, ask_twice=True
    )
    assert len(batch.token_ids) == 9 and batch.tasks == [task] * 9

    def split(ids) -> tuple[str, str]:
        text = tokenizer.decode(ids)
        cut = max(text.rfind(" where is "), text.rfind(" what is "))
        return text[:cut], text[cut:]

    pairs = 0
    for i in range(len(batch.token_ids) - 1):
        (context, question), (context_b, question_b) = split(batch.token_ids[i]), split(batch.token_ids[i + 1])
        if context == context_b:
            pairs += 1
            assert question != question_b and batch.labels[i] != batch.labels[i + 1]
            assert batch.question_starts[i] == batch.question_starts[i + 1]
            assert f"{ROOMS[batch.labels[i + 1]]} is" in context or f"the {ROOMS[batch.labels[i + 1]]}." in context
    assert pairs >= 3
    plain = make_batch([task], 3, 9, 115, tokenizer, random.Random(2), "train", 0.5, other_people_prob=1.0)
    assert len({tuple(ids[:50]) for ids in plain.token_ids}) == 9  # without it, nine haystacks


def test_longest_fact_tokens_is_the_longest_fact_the_templates_write(tokenizer) -> None:
    """``LONGEST_FACT_TOKENS`` sets the overlap that keeps every fact whole: it must match what the
    templates can write, as the haystack reads it (a fact starts a sentence of the noise)."""
    from rmt.tasks import LONGEST_FACT_TOKENS, NAMES, OPPOSITE, ROOMS, VERBS

    facts = [f"{name} {verb} to the {room}." for name in NAMES for verb in VERBS for room in ROOMS]
    facts += [f"The {a} is {d} of the {b}." for a in ROOMS for b in ROOMS if a != b for d in OPPOSITE]
    lengths = [len(tokenizer("The sea. " + f, add_special_tokens=False)["input_ids"]) - 3 for f in facts]
    assert max(lengths) == LONGEST_FACT_TOKENS
    for task in ("memorize", "detect", "reasoning"):  # and as built into haystacks
        for seed in range(20):
            hay = build_haystack(task, 1000, tokenizer, seed=seed)
            assert all(f.token_end - f.token_start <= LONGEST_FACT_TOKENS for f in hay.facts)
