"""Room-naming sentences as distractors: drawn from the right books, swapped rooms, kept out of the facts."""

from __future__ import annotations

import random

import pytest
from conftest import assert_facts_well_placed

from rmt.data import make_sample
from rmt.haystack import build_haystack
from rmt.room_sentences import MAX_WORDS, draw_room_sentences, room_named, room_sentences, swap_room
from rmt.tasks import ROOMS


def test_pools_come_from_their_own_books() -> None:
    train, valid = room_sentences("train"), room_sentences("valid")
    assert len(train) > 100 and len(valid) > 10
    assert not set(train) & set(valid)  # validation's distractors were never trained on
    assert all(room_named(s) and len(s.split()) <= MAX_WORDS for s in train + valid)
    assert any("sinecure" in s for s in valid)  # one of the held-out book's known overwriters


def test_swap_room_keeps_case_and_plural() -> None:
    assert swap_room("The Gardens and the garden.", "kitchen") == "The Kitchens and the kitchen."
    assert swap_room("By some writers this office is called a sinecure.", "bathroom").endswith(
        "this bathroom is called a sinecure."
    )
    drawn = draw_room_sentences("valid", 60, random.Random(0))
    assert len(drawn) == 60 and {room_named(s) for s in drawn} == set(ROOMS)


def test_text_without_rooms_gives_no_distractors(tmp_path) -> None:
    path = tmp_path / "sea.txt"
    path.write_text("The whale spouted. The sea was calm.")
    assert draw_room_sentences(str(path), 3, random.Random(0)) == []


@pytest.mark.parametrize("task", ["memorize", "detect", "reasoning"])
def test_distractors_are_noise_not_facts(task: str, tokenizer) -> None:
    plain = build_haystack(task, 600, tokenizer, seed=5)
    distractors = draw_room_sentences("valid", 3, random.Random(1))
    hay = build_haystack(task, 600, tokenizer, seed=5, distractors=distractors)
    assert hay.num_tokens == 600
    assert [f.text for f in hay.facts] == [f.text for f in plain.facts]
    assert (hay.question, hay.answer) == (plain.question, plain.answer)
    assert all(d in hay.text for d in distractors)
    assert_facts_well_placed(hay, tokenizer)
    if task == "memorize":  # the facts still open the haystack
        assert hay.facts[0].char_start == 0


def rooms_outside_facts(hay) -> int:
    """How many room words the haystack's noise holds (its facts and its question left out)."""
    noise = hay.text[: len(hay.text) - len(hay.question)]
    for fact in hay.facts:
        noise = noise.replace(fact.text, "")
    return sum(1 for word in noise.split() if room_named(word))


def test_training_samples_with_room_noise(tokenizer) -> None:
    def draw(prob: float) -> list[int]:
        rng = random.Random(0)
        return [
            rooms_outside_facts(make_sample("memorize", 3, 115, tokenizer, rng, "train", room_noise_prob=prob)[0])
            for _ in range(8)
        ]

    assert min(draw(1.0)) >= 1
    assert sum(count > 0 for count in draw(0.0)) <= 2  # the books alone seldom name a room in 345 tokens
