"""Book sentences that name a room: the natural distractors that overwrite a stored fact.

A sentence such as "By some writers this office is called a sinecure." names one of the task's
rooms without moving anyone there. `rmt.distractor` measures how often such sentences overwrite
memory; training with more of them (``rmt.train --room-noise``) is meant to teach the model that
only a person's move is a fact. Training draws them from the training books, validation and the
probe from the held-out one, so what is learnt must carry over to sentences never seen.
"""

from __future__ import annotations

import functools
import random
import re

import numpy as np

from rmt.noise import SPLITS, book_sentences, source_text, text_sentences
from rmt.tasks import ROOM_WORD, ROOMS, room_named

MAX_WORDS = 40  # a long sentence would take most of a 128-position segment


def source_sentences(source: str) -> list[str]:
    """The sentences of ``source`` (a noise source name or a text file)."""
    if source in SPLITS:  # book by book, so no sentence runs across two books
        return [s for book in SPLITS[source] for s in book_sentences(book)]
    return text_sentences(source_text(source))


@functools.lru_cache(maxsize=4)
def room_sentences(source: str) -> tuple[str, ...]:
    """Every sentence of ``source`` that names a room, cut to MAX_WORDS words."""
    return tuple(around_room(s) for s in source_sentences(source) if room_named(s))


def around_room(sentence: str) -> str:
    """At most MAX_WORDS words of the sentence, centred on the first room it names.

    Most of the books' room sentences are long (Austen has 152, 95 of them within 40 words), and
    a cut haystack holds cut sentences anyway; the room word is what matters.
    """
    words = sentence.split()
    return " ".join(words_around(words, next(i for i, w in enumerate(words) if ROOM_WORD.search(w))))


def words_around(words: list[str], at: int) -> list[str]:
    """At most MAX_WORDS of ``words``, centred on index ``at`` where they must be cut."""
    if len(words) <= MAX_WORDS:
        return words
    start = min(max(0, at - MAX_WORDS // 2), len(words) - MAX_WORDS)
    return words[start : start + MAX_WORDS]


def swap_room(sentence: str, room: str) -> str:
    """The sentence with each room it names replaced by ``room`` (case and plural kept).

    The books name some rooms far more often than others (Austen: garden 57 times, bathroom
    never), so the swap gives every room its share of distractors.
    """

    def replace(match: re.Match) -> str:
        word = room.capitalize() if match.group(1)[0].isupper() else room
        return word + match.group(2)

    return ROOM_WORD.sub(replace, sentence)


def draw_room_sentences(source: str, count: int, rng: random.Random, planted_share: float = 0.0) -> list[str]:
    """``count`` room-naming sentences of ``source``, each naming a room drawn at random.

    With ``planted_share`` each is, with that chance, one of the source's other sentences with a
    room planted in it (``plant_room``): the books hold too few room sentences (Austen 152) for the
    model to learn what makes one not a fact, and it can learn those few by heart.
    """
    pool = room_sentences(source)
    drawn: list[str] = []
    for _ in range(count):
        if planted_share > 0 and rng.random() < planted_share:  # no draw when off: older runs keep their batches
            room = rng.choice(ROOMS)
            drawn.append(plant_room(rng.choice(plain_sentences(source)), room, rng))
        elif pool:
            drawn.append(swap_room(rng.choice(pool), rng.choice(ROOMS)))
    return drawn


# Words after which a noun usually comes: "this office", "the kitchen", "her garden".
ARTICLES = ("the", "a", "an", "this", "that", "these", "those", "some", "no")
POSSESSIVES = ("his", "her", "its", "their", "my", "our", "your")
DETERMINERS = frozenset(ARTICLES + POSSESSIVES)
PLAIN_WORD = re.compile(r"^([a-z]+)(\W*)$")


def room_slots(words: list[str]) -> list[int]:
    """Indices of lower-case words that follow a determiner: where a room reads as a noun."""
    return [i for i in range(1, len(words)) if words[i - 1].lower() in DETERMINERS and PLAIN_WORD.match(words[i])]


@functools.lru_cache(maxsize=4)
def plain_sentences(source: str) -> tuple[str, ...]:
    """The sentences of ``source`` that name no room but have a word a room can replace, each cut
    to MAX_WORDS words around the first such word."""
    cut = []
    for sentence in source_sentences(source):
        words = sentence.split()
        if not room_named(sentence) and (slots := room_slots(words)):
            cut.append(" ".join(words_around(words, slots[0])))
    return tuple(cut)


def plant_room(sentence: str, room: str, rng: random.Random) -> str:
    """The sentence with one noun after a determiner replaced by ``room`` (plural and punctuation kept).

    "Her mother had died too long ago." -> "Her office had died too long ago.": a room in the
    grammar of any sentence and never a person's move, as the held-out book's "this office is called
    a sinecure" is. ``sentence`` must have such a word (``plain_sentences`` all do).
    """
    words = sentence.split()
    at = rng.choice(room_slots(words))
    word, tail = PLAIN_WORD.match(words[at]).groups()
    plural = word.endswith("s") and not word.endswith("ss")
    words[at] = room + ("s" if plural else "") + tail
    if words[at - 1].lower() in ("a", "an"):  # "an office", "a kitchen": no tell-tale article
        article = "an" if room[0] in "aeiou" else "a"
        words[at - 1] = article.capitalize() if words[at - 1][0].isupper() else article
    return " ".join(words)


@functools.lru_cache(maxsize=4)
def room_token_ids(tokenizer) -> dict[int, int]:
    """Token id of each room word, singular and plural, -> its index in ROOMS.

    Each is one word piece of the uncased vocabulary ("Offices" -> "offices"), so a room named in
    the noise is found among token ids exactly where the model reads it.
    """
    ids: dict[int, int] = {}
    for index, room in enumerate(ROOMS):
        for word in (room, room + "s"):
            pieces = tokenizer.tokenize(word)
            if len(pieces) == 1 and pieces[0] != tokenizer.unk_token:
                ids[tokenizer.convert_tokens_to_ids(pieces[0])] = index
    return ids


@functools.lru_cache(maxsize=4)
def continuation_ids(tokenizer) -> np.ndarray:
    """Ids of the word pieces that continue a word (``##ny``), sorted."""
    return np.asarray(sorted(i for t, i in tokenizer.get_vocab().items() if t.startswith("##")), dtype=np.int64)


def first_room_tokens(
    token_ids: np.ndarray, sentence_starts: np.ndarray, tokenizer
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each sentence that names a room: (sentence index, its first room token, that room's index).

    ``sentence_starts`` are the token positions where sentences start, sorted, the first one 0.
    """
    room_ids = room_token_ids(tokenizer)
    positions = np.flatnonzero(np.isin(token_ids, np.fromiter(room_ids, dtype=np.int64)))
    # a whole word only ("garden" + "##ny" is "gardenny", which ROOM_WORD does not take for a room either)
    following = token_ids[np.minimum(positions + 1, len(token_ids) - 1)]
    positions = positions[(positions + 1 == len(token_ids)) | ~np.isin(following, continuation_ids(tokenizer))]
    sentences = np.searchsorted(sentence_starts, positions, side="right") - 1
    first = np.ones(len(positions), dtype=bool)
    first[1:] = sentences[1:] != sentences[:-1]  # one mention a sentence: its first room word
    positions, sentences = positions[first], sentences[first]
    rooms = np.asarray([room_ids[int(t)] for t in token_ids[positions]], dtype=np.int8)
    return sentences, positions, rooms
