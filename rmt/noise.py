"""Noise text, split into sentences and tokenized once, so any length of haystack is a slice.

Books live compressed in ``assets/noise`` (Project Gutenberg, public domain; see its SOURCE.md).
Austen's six novels are for training; Moby-Dick is never trained on and is the validation book.
"""

from __future__ import annotations

import functools
import gzip
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rmt.tasks import room_named

NOISE_DIR = Path(__file__).resolve().parent.parent / "assets" / "noise"
TRAIN_BOOKS = (
    "austen-emma",
    "austen-mansfieldpark",
    "austen-northangerabbey",
    "austen-persuasion",
    "austen-prideprejudice",
    "austen-sensesensibility",
)
VALID_BOOKS = ("melville-mobydick",)
SPLITS = {"train": TRAIN_BOOKS, "valid": VALID_BOOKS, "all": TRAIN_BOOKS + VALID_BOOKS}
# The held-out book without the sentences that name one of the task's rooms: what the shipped model
# loses on long haystacks is those sentences, and this split measures (and shows) the memory without them.
VALID_NO_ROOMS = "valid-no-rooms"
NOISE_SOURCES = (*SPLITS, VALID_NO_ROOMS)

# A sentence ends at . ! or ? (with closing quotes/brackets/underscores) followed by whitespace.
SENTENCE_END = re.compile(r"([.!?][\"'\u2019\u201d)\]_]*)(\s+)")
TOKENIZE_CHUNK = 2048  # sentences per tokenizer call: batched calls are ~4x faster than one string
# Project Gutenberg's own text around a book: a header up to "*** START OF THE PROJECT GUTENBERG
# EBOOK ... ***" and, after the book, "End of Project Gutenberg's ..." / "*** END OF ..." and the licence.
GUTENBERG_START = re.compile(r"^\*\*\*\s*START OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK[^\n]*$", re.M | re.I)
GUTENBERG_END = re.compile(
    r"^(?:End of (?:the )?Project Gutenberg|\*\*\*\s*END OF (?:THE|THIS) PROJECT GUTENBERG E-?BOOK)[^\n]*$", re.M | re.I
)


@dataclass
class NoiseCorpus:
    """Sentences of one text with their tokens; a sentence start is a place a fact may go."""

    name: str
    text: str
    token_ids: np.ndarray  # int32 [N] tokens of all sentences, concatenated
    sent_tok: np.ndarray  # int64 [S+1] token offset where each sentence starts (+ end)
    sent_char_start: np.ndarray  # int64 [S]
    sent_char_end: np.ndarray  # int64 [S]

    @property
    def num_sentences(self) -> int:
        return len(self.sent_char_start)

    @property
    def num_tokens(self) -> int:
        return int(self.sent_tok[-1])


def sentence_spans(text: str) -> tuple[np.ndarray, np.ndarray]:
    """Character (start, end) of each sentence; only whitespace lies between sentences."""
    starts, ends = [], []
    first = len(text) - len(text.lstrip())
    pos = first
    for match in SENTENCE_END.finditer(text, first):
        starts.append(pos)
        ends.append(match.end(1))
        pos = match.end(2)
    tail = text[pos:].rstrip()
    if tail:
        starts.append(pos)
        ends.append(pos + len(tail))
    return np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def build_corpus(name: str, text: str, tokenizer) -> NoiseCorpus:
    """Tokenize sentence by sentence; WordPiece never merges across whitespace, so the tokens of
    the whole text are exactly the concatenation of the sentences' tokens."""
    text = clean_text(text)
    starts, ends = sentence_spans(text)
    if len(starts) == 0:
        raise ValueError("the noise text has no words in it")
    ids: list[list[int]] = []
    for i in range(0, len(starts), TOKENIZE_CHUNK):
        batch = [text[a:b] for a, b in zip(starts[i : i + TOKENIZE_CHUNK], ends[i : i + TOKENIZE_CHUNK], strict=True)]
        ids.extend(tokenizer(batch, add_special_tokens=False)["input_ids"])
    keep = np.asarray([len(x) > 0 for x in ids])  # drop sentences that tokenize to nothing
    ids = [x for x in ids if x]
    if not ids:
        raise ValueError("the noise text has no tokens in it")
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    sent_tok = np.concatenate([[0], np.cumsum(lengths)])
    token_ids = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(sent_tok[-1]))
    return NoiseCorpus(name, text, token_ids, sent_tok, starts[keep], ends[keep])


def clean_text(text: str) -> str:
    """Drop a byte-order mark, control characters (other than newline and tab) and Gutenberg's wrapper."""
    text = strip_gutenberg_wrapper(text.lstrip("\ufeff"))
    return re.sub(r"[\x00-\x08\x0b-\x1f\x7f]", " ", text)


def strip_gutenberg_wrapper(text: str) -> str:
    """Keep only the book between Project Gutenberg's START and END lines (text without them is kept whole).

    The wrapper is not noise the way the book is: the licence states locations ("the Foundation's
    principal office is located at ...", "north 1500 west") in the very form of a task's fact, so a
    model trained to remember where someone went rewrites its memory there. The shipped model did,
    on the held-out Moby-Dick, whose file carries the full licence; PG-19, the paper's noise, has
    the wrapper removed too.
    """
    start = GUTENBERG_START.search(text)
    if start:
        text = text[start.end() :]
    end = GUTENBERG_END.search(text)
    if end:
        text = text[: end.start()]
    return text


def read_book(name: str) -> str:
    with gzip.open(NOISE_DIR / f"{name}.txt.gz", "rt", encoding="utf-8") as f:
        return f.read()


def text_sentences(text: str) -> list[str]:
    text = clean_text(text)
    starts, ends = sentence_spans(text)
    return [text[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def book_sentences(book: str) -> list[str]:
    return text_sentences(read_book(book))


def source_text(source: str) -> str:
    """The text of a noise source: a split name (``NOISE_SOURCES``) or the path of any plain-text file.

    ``valid-no-rooms`` is the held-out book's sentences, in order and joined by spaces, without
    those that name a room: the same text as a file written that way, so its haystacks are too.
    """
    if source in SPLITS:
        return "\n\n".join(read_book(book) for book in SPLITS[source])
    if source == VALID_NO_ROOMS:
        return " ".join(s for book in VALID_BOOKS for s in book_sentences(book) if not room_named(s))
    return Path(source).read_text(encoding="utf-8", errors="replace")


@functools.lru_cache(maxsize=8)
def _cached_corpus(source: str, tokenizer_key: int, tokenizer) -> NoiseCorpus:
    return build_corpus(source, source_text(source), tokenizer)


def load_corpus(source: str, tokenizer) -> NoiseCorpus:
    """``source`` is a split name (train, valid, all, valid-no-rooms) or the path of any plain-text file."""
    return _cached_corpus(source, id(tokenizer), tokenizer)
