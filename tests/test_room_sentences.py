"""Room-naming sentences as distractors: drawn from the right books, swapped rooms, kept out of the facts."""

from __future__ import annotations

import random
import re

import pytest
from conftest import assert_facts_well_placed

from rmt.data import make_sample
from rmt.haystack import build_custom_haystack, build_haystack
from rmt.noise import VALID_NO_ROOMS, book_sentences, load_corpus
from rmt.room_sentences import (
    MAX_WORDS,
    draw_room_sentences,
    plain_sentences,
    plant_room,
    room_sentences,
    swap_room,
)
from rmt.tasks import ROOMS, room_named


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


def test_plant_room_replaces_a_noun_after_a_determiner() -> None:
    rng = random.Random(0)
    assert plant_room("Her mother had died.", "office", rng) == "Her office had died."
    assert plant_room("It was a fine morning, then.", "office", rng) == "It was an office morning, then."
    assert plant_room("He met an old friend.", "garden", rng) == "He met a garden friend."
    assert plant_room("All their horses ran.", "kitchen", rng) == "All their kitchens ran."
    assert plant_room("Across the glass; she wept.", "hallway", rng) == "Across the hallway; she wept."


def test_planted_sentences_are_other_sentences_of_the_same_books() -> None:
    train, valid = plain_sentences("train"), plain_sentences("valid")
    assert len(train) > 10 * len(room_sentences("train"))  # what planting is for: many more than the books give
    assert len(set(train) & set(valid)) < 5 and not any(map(room_named, train))  # "Nor was this all." is in both
    assert all(len(s.split()) <= MAX_WORDS for s in train)
    drawn = draw_room_sentences("train", 200, random.Random(3), planted_share=1.0)
    assert len(drawn) == 200 and {room_named(s) for s in drawn} == set(ROOMS)
    assert not set(drawn) & set(room_sentences("train"))
    # Off, every draw is one of the books' own room sentences, as before the option existed.
    books = {swap_room(r, "garden") for r in room_sentences("train")}
    assert all(swap_room(d, "garden") in books for d in draw_room_sentences("train", 20, random.Random(4), 0.0))


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
    planted = [
        make_sample("memorize", 3, 115, tokenizer, random.Random(i), "train", room_noise_prob=1.0, planted_rooms=1.0)[0]
        for i in range(8)
    ]
    assert all(rooms_outside_facts(h) >= 1 for h in planted)
    assert sum(count > 0 for count in draw(0.0)) <= 2  # the books alone seldom name a room in 345 tokens


def assert_mentions_are_the_noise_room_words(hay, tokenizer) -> None:
    """Each mention points at a room word of the noise, inside the sentence it quotes; every room word
    of the noise belongs to a sentence with a mention."""
    mentions = hay.room_mentions
    room_tokens = {tokenizer.convert_tokens_to_ids(w) for r in ROOMS for w in (r, r + "s")}
    inside_facts = [(f.token_start, f.token_end) for f in hay.facts] + [(hay.question_token_start, hay.num_tokens)]
    noise_room_tokens = [
        p
        for p, t in enumerate(hay.token_ids.tolist())
        if t in room_tokens and not any(a <= p < b for a, b in inside_facts)
    ]
    assert [int(t) for t in mentions.tokens] == sorted(int(t) for t in mentions.tokens)
    assert set(mentions.tokens.tolist()) <= set(noise_room_tokens)
    assert len(mentions) <= len(noise_room_tokens) and (len(mentions) > 0) == (len(noise_room_tokens) > 0)
    for i in range(len(mentions)):
        word = tokenizer.convert_ids_to_tokens(int(hay.token_ids[mentions.tokens[i]]))
        assert word in (mentions.room(i), mentions.room(i) + "s")
        start, end = int(mentions.char_starts[i]), int(mentions.char_ends[i])
        assert re.search(rf"\b{mentions.room(i)}s?\b", hay.text[start:end], re.IGNORECASE)
        assert start == 0 or hay.text[start - 1].isspace()  # a sentence start, not mid-word
        assert not any(f.char_start < end and start < f.char_end for f in hay.facts)


@pytest.mark.parametrize("task", ["memorize", "detect", "reasoning"])
def test_room_mentions_point_at_the_room_words_of_the_noise(task: str, tokenizer) -> None:
    found = 0
    for seed in range(12):
        hay = build_haystack(task, 20_000, tokenizer, seed=seed)
        assert_mentions_are_the_noise_room_words(hay, tokenizer)
        found += len(hay.room_mentions)
    assert found > 5  # Moby-Dick names a room about once in 12,000 tokens


def test_distractors_are_room_mentions(tokenizer) -> None:
    distractors = draw_room_sentences("valid", 3, random.Random(1))
    hay = build_haystack("detect", 3000, tokenizer, seed=5, distractors=distractors)
    assert_mentions_are_the_noise_room_words(hay, tokenizer)
    quoted = [hay.room_mentions.sentence(i, hay.text) for i in range(len(hay.room_mentions))]
    assert all(d in quoted for d in distractors)


def test_a_pasted_text_naming_rooms_has_its_mentions_but_a_fact_is_not_one(tokenizer) -> None:
    noise = "The kitchen was warm. Nothing moved. The Offices closed at noon. " * 30
    hay = build_custom_haystack(noise, ["Mary went to the garden."], "Where is Mary?", 1500, tokenizer, depth=0.5)
    assert_mentions_are_the_noise_room_words(hay, tokenizer)
    rooms = {hay.room_mentions.room(i) for i in range(len(hay.room_mentions))}
    assert rooms == {"kitchen", "office"}  # "garden" is only in the fact
    listed = hay.to_json()["room_mentions"]
    assert {m["sentence"] for m in listed} == {"The kitchen was warm.", "The Offices closed at noon."}


def test_a_sentence_without_full_stops_is_quoted_around_its_room(tokenizer) -> None:
    noise = " ".join(["word"] * 3000) + " the bedroom " + " ".join(["word"] * 3000)
    hay = build_custom_haystack(noise, ["Mary went to the garden."], "Where is Mary?", 5000, tokenizer, depth=0.0)
    assert len(hay.room_mentions) == 1
    quoted = hay.room_mentions.sentence(0, hay.text)
    assert "bedroom" in quoted and len(quoted) <= 242


def test_the_book_without_its_room_sentences(tokenizer) -> None:
    """``valid-no-rooms`` is every sentence of the held-out book, in order, less those naming a room."""
    book = book_sentences("melville-mobydick")
    kept = [s for s in book if not room_named(s)]
    assert 10 < len(book) - len(kept) < 100  # the book's few room sentences, not a chunk of it
    corpus = load_corpus(VALID_NO_ROOMS, tokenizer)
    sentences = [corpus.text[a:b] for a, b in zip(corpus.sent_char_start, corpus.sent_char_end, strict=True)]
    assert not any(room_named(s) for s in sentences)
    assert sentences[:50] == kept[:50] and sentences[-50:] == kept[-50:]
    assert room_sentences(VALID_NO_ROOMS) == ()
    hay = build_haystack("detect", 2_000_000, tokenizer, seed=1, noise=VALID_NO_ROOMS)  # wraps the book 7 times
    assert len(hay.room_mentions) == 0 and hay.text.count(hay.facts[0].text) == 1
    assert len(build_haystack("detect", 2_000_000, tokenizer, seed=1).room_mentions) > 100  # the whole book


def test_a_room_word_inside_a_longer_word_is_no_mention(tokenizer) -> None:
    """WordPiece reads "gardenny" as "garden" + "##ny": not the garden, for the mentions as for ROOM_WORD."""
    noise = "Air rather gardenny, I should say. The gardens were wet. " * 3
    hay = build_custom_haystack(noise, ["Mary went to the office."], "Where is Mary?", 60, tokenizer, answer="office")
    quoted = [hay.room_mentions.sentence(i, hay.text) for i in range(len(hay.room_mentions))]
    assert quoted and all(s.startswith("The gardens") for s in quoted)
    assert room_named("Air rather gardenny, I should say.") is None
