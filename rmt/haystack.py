"""Facts hidden in long noise: build a haystack of an exact token length, facts at sentence starts.

The noise is a window of pre-tokenized sentences (wrapping around the corpus for millions of
tokens) cut at a word boundary to hit the target length exactly; facts go in at sentence starts
and their character and token spans are returned, so the app can highlight them and show the
model's attention to them. Building is slicing, so 2M tokens take about a second.

CLI: ``python -m rmt.haystack --task detect --tokens 100000 --seed 0 --out FILE.json``
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import time
from dataclasses import asdict, dataclass, field, replace

import numpy as np

from rmt.noise import NoiseCorpus, build_corpus, load_corpus
from rmt.room_sentences import first_room_tokens
from rmt.tasks import NAMES, OPPOSITE, ROOM_WORD, ROOMS, TaskSample, check_task, make_task, rooms_named

MAX_TOKENS = 10_000_000  # far above any demo; stops a typo from eating the machine


@dataclass
class FactSpan:
    text: str
    char_start: int  # in Haystack.text
    char_end: int
    token_start: int  # in Haystack.token_ids
    token_end: int


MENTION_DTYPES = {"tokens": np.int32, "rooms": np.int8, "char_starts": np.int32, "char_ends": np.int32}


@dataclass
class RoomMentions:
    """Sentences of the noise (not facts) that name a room, in reading order, one row each.

    "By some writers this office is called a sinecure." moves nobody, but a memory can take it
    for a fact: these are where a run may lose one, so the app marks them. Arrays, not objects: a
    pasted text can name a room in hundreds of thousands of sentences.
    """

    tokens: np.ndarray  # int32 [M] the room word's first token, in Haystack.token_ids
    rooms: np.ndarray  # int8 [M] index into ROOMS
    char_starts: np.ndarray  # int32 [M] the sentence, in Haystack.text
    char_ends: np.ndarray  # int32 [M]

    @classmethod
    def from_columns(cls, columns: list) -> RoomMentions:
        """From four sequences in field order (tokens, rooms, char starts, char ends)."""
        pairs = zip(MENTION_DTYPES.items(), columns, strict=True)
        return cls(**{name: np.asarray(column, dtype=dtype) for (name, dtype), column in pairs})

    @classmethod
    def empty(cls) -> RoomMentions:
        return cls.from_columns([()] * len(MENTION_DTYPES))

    def __len__(self) -> int:
        return len(self.tokens)

    def room(self, i: int) -> str:
        return ROOMS[int(self.rooms[i])]

    def between(self, first_token: int, last_token: int) -> np.ndarray:
        """Indices of the mentions whose room word lies in [first_token, last_token)."""
        return np.flatnonzero((self.tokens >= first_token) & (self.tokens < last_token))

    def sentence(self, i: int, text: str, max_chars: int = 240) -> str:
        """The mention's sentence; a long one (a paste without full stops) cut around its room."""
        sentence = " ".join(text[int(self.char_starts[i]) : int(self.char_ends[i])].split())
        if len(sentence) <= max_chars:
            return sentence
        at = ROOM_WORD.search(sentence)
        middle = at.start() if at else 0
        start = max(0, min(middle - max_chars // 2, len(sentence) - max_chars))
        return "…" + sentence[start : start + max_chars].strip() + "…"

    @staticmethod
    def merge(*parts: RoomMentions) -> RoomMentions:
        columns = [np.concatenate([getattr(p, name) for p in parts]) for name in MENTION_DTYPES]
        order = np.argsort(columns[0], kind="stable")
        return RoomMentions.from_columns([c[order] for c in columns])


@dataclass
class Haystack:
    task: str
    text: str  # the noise with the facts, then the question
    question: str
    answer: str | None  # None for a custom haystack whose author gave no answer
    facts: list[FactSpan]
    token_ids: np.ndarray = field(repr=False)  # int32 [T]: text tokens, question last
    question_token_start: int = 0
    seed: int | None = None
    noise: str = ""
    notes: list[str] = field(default_factory=list)  # what a custom haystack's author should know
    room_mentions: RoomMentions = field(default_factory=RoomMentions.empty, repr=False)

    @property
    def num_tokens(self) -> int:
        return len(self.token_ids)

    @property
    def question_ids(self) -> list[int]:
        return self.token_ids[self.question_token_start :].tolist()

    def to_json(self) -> dict:
        out = asdict(self)
        out.pop("token_ids")
        out["num_tokens"] = self.num_tokens
        out["facts"] = [asdict(f) for f in self.facts]
        mentions = self.room_mentions
        out["room_mentions"] = [
            {"room": mentions.room(i), "token": int(mentions.tokens[i]), "sentence": mentions.sentence(i, self.text)}
            for i in range(len(mentions))
        ]
        return out


@dataclass
class NoiseWindow:
    """A stretch of noise: its text, tokens and where its sentences start."""

    text: str
    token_ids: np.ndarray  # int32 [N]
    boundary_chars: np.ndarray  # int64 [K] sentence starts (chars), first one 0
    boundary_tokens: np.ndarray  # int64 [K] the same starts in tokens


def noise_window(corpus: NoiseCorpus, start_sentence: int, num_tokens: int, tokenizer) -> NoiseWindow:
    """Exactly ``num_tokens`` tokens of noise from ``start_sentence`` on, wrapping the corpus."""
    texts: list[str] = []
    tokens: list[np.ndarray] = []
    b_chars: list[np.ndarray] = []
    b_toks: list[np.ndarray] = []
    char_pos, tok_pos, remaining, pos = 0, 0, num_tokens, start_sentence
    while remaining > 0:
        tok0 = corpus.sent_tok[pos]
        # sentences pos..end-1 fit whole
        end = int(np.searchsorted(corpus.sent_tok, tok0 + remaining, side="right")) - 1
        end = min(end, corpus.num_sentences)
        if end > pos:
            if texts:
                texts.append(" ")
                char_pos += 1
            c0 = corpus.sent_char_start[pos]
            texts.append(corpus.text[c0 : corpus.sent_char_end[end - 1]])
            tokens.append(corpus.token_ids[tok0 : corpus.sent_tok[end]])
            b_chars.append(corpus.sent_char_start[pos:end] - c0 + char_pos)
            b_toks.append(corpus.sent_tok[pos:end] - tok0 + tok_pos)
            char_pos += len(texts[-1])
            tok_pos += int(corpus.sent_tok[end] - tok0)
            remaining -= int(corpus.sent_tok[end] - tok0)
        if remaining == 0:
            break
        if end >= corpus.num_sentences:
            pos = 0  # wrap around the corpus
            continue
        text, ids = partial_sentence(corpus, end, remaining, tokenizer)
        if texts:
            texts.append(" ")
            char_pos += 1
        b_chars.append(np.asarray([char_pos]))
        b_toks.append(np.asarray([tok_pos]))
        texts.append(text)
        tokens.append(ids)
        remaining -= len(ids)
    return NoiseWindow(
        text="".join(texts),
        token_ids=np.concatenate(tokens) if tokens else np.zeros(0, dtype=np.int32),
        boundary_chars=np.concatenate(b_chars) if b_chars else np.zeros(1, dtype=np.int64),
        boundary_tokens=np.concatenate(b_toks) if b_toks else np.zeros(1, dtype=np.int64),
    )


def partial_sentence(corpus: NoiseCorpus, index: int, num_tokens: int, tokenizer) -> tuple[str, np.ndarray]:
    """The first ``num_tokens`` tokens of a sentence as text. The cut falls between tokens, so the
    text is re-tokenized from the cut: cutting inside a word would change its word pieces."""
    text = corpus.text[corpus.sent_char_start[index] : corpus.sent_char_end[index]]
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    cut = enc["offset_mapping"][num_tokens - 1][1] if num_tokens > 0 else 0
    piece = text[:cut]
    ids = np.asarray(tokenizer(piece, add_special_tokens=False)["input_ids"], dtype=np.int32)
    if len(ids) != num_tokens:  # the cut split a word: use the exact token prefix instead
        ids = np.asarray(enc["input_ids"][:num_tokens], dtype=np.int32)
        piece = tokenizer.decode(ids.tolist())
    return piece, ids


def fact_boundaries(
    window: NoiseWindow, count: int, at_start: bool, depth: float | None, rng: random.Random
) -> list[int]:
    """Indices into the window's sentence starts (one per fact), sorted.

    Memorize: the very start. ``depth`` in [0, 1]: the sentence start nearest that fraction of
    the noise (a second fact goes halfway between it and the end). Otherwise: uniform at random.
    """
    n = len(window.boundary_tokens)
    total = max(1, len(window.token_ids))
    if at_start:
        return [0] * count
    if depth is not None:
        targets = [depth]
        for _ in range(count - 1):
            targets.append((targets[-1] + 1.0) / 2)
        return sorted(nearest_boundary(window.boundary_tokens, t * total) for t in targets)
    return sorted(rng.randrange(n) for _ in range(count))


def nearest_boundary(boundaries: np.ndarray, token_position: float) -> int:
    i = int(np.searchsorted(boundaries, token_position))
    candidates = [j for j in (i - 1, i) if 0 <= j < len(boundaries)]
    return min(candidates, key=lambda j: abs(boundaries[j] - token_position))


def assemble(
    task: str,
    window: NoiseWindow,
    facts: list[str],
    boundaries: list[int],
    question: str,
    answer: str | None,
    tokenizer,
    seed: int | None = None,
    noise_name: str = "",
) -> Haystack:
    """Put each fact before the sentence at its boundary, then the question last."""
    text_parts: list[str] = []
    token_parts: list[np.ndarray] = []
    spans: list[FactSpan] = []
    char_pos = tok_pos = 0
    prev_char = prev_tok = 0
    for fact, b in zip(facts, boundaries, strict=True):
        c, t = int(window.boundary_chars[b]), int(window.boundary_tokens[b])
        if c > prev_char:  # facts sharing a boundary follow each other with one space
            text_parts.append(window.text[prev_char:c])
        token_parts.append(window.token_ids[prev_tok:t])
        char_pos += c - prev_char
        tok_pos += t - prev_tok
        fact_ids = np.asarray(tokenizer(fact, add_special_tokens=False)["input_ids"], dtype=np.int32)
        if char_pos > 0 and not text_parts[-1].endswith((" ", "\n")):
            text_parts.append(" ")
            char_pos += 1
        spans.append(FactSpan(fact, char_pos, char_pos + len(fact), tok_pos, tok_pos + len(fact_ids)))
        text_parts.append(fact + " ")
        token_parts.append(fact_ids)
        char_pos += len(fact) + 1
        tok_pos += len(fact_ids)
        prev_char, prev_tok = c, t
    text_parts.append(window.text[prev_char:])
    token_parts.append(window.token_ids[prev_tok:])
    context = "".join(text_parts).rstrip()
    question_ids = np.asarray(tokenizer(question, add_special_tokens=False)["input_ids"], dtype=np.int32)
    token_ids = np.concatenate([*token_parts, question_ids]).astype(np.int32)
    return Haystack(
        task=task,
        text=f"{context}\n\n{question}" if context else question,
        question=question,
        answer=answer,
        facts=spans,
        token_ids=token_ids,
        question_token_start=len(token_ids) - len(question_ids),
        seed=seed,
        noise=noise_name,
        room_mentions=noise_room_mentions(window, boundaries, spans, tokenizer, len(context)),
    )


def noise_room_mentions(
    window: NoiseWindow, boundaries: list[int], spans: list[FactSpan], tokenizer, context_chars: int
) -> RoomMentions:
    """The noise's sentences that name a room, moved to where they sit once the facts are in."""
    sentences, positions, rooms = first_room_tokens(window.token_ids, window.boundary_tokens, tokenizer)
    if not len(positions):
        return RoomMentions.empty()
    fact_chars = np.asarray([window.boundary_chars[b] for b in boundaries], dtype=np.int64)
    fact_tokens = np.asarray([window.boundary_tokens[b] for b in boundaries], dtype=np.int64)
    # Everything from a fact's boundary on moved by what came in there: the window position that
    # follows fact i is its span's end (plus the space after it, in characters).
    starts = window.boundary_chars[sentences]
    ends = np.append(window.boundary_chars[1:], len(window.text))[sentences]
    last_fact = np.searchsorted(fact_tokens, window.boundary_tokens[sentences], side="right")  # 0 = none yet
    token_shift = np.concatenate([[0], [s.token_end for s in spans] - fact_tokens])[last_fact]
    char_shift = np.concatenate([[0], [s.char_end + 1 for s in spans] - fact_chars])[last_fact]
    return RoomMentions.from_columns(
        [positions + token_shift, rooms, starts + char_shift, np.minimum(ends + char_shift, context_chars)]
    )


def span_room_mentions(hay: Haystack, spans: list[FactSpan], tokenizer) -> RoomMentions:
    """Room mentions of sentences put in as noise (distractors): each span is one sentence."""
    found: list[tuple[int, int, int, int]] = []  # (token, room, char start, char end)
    for span in spans:
        _, positions, rooms = first_room_tokens(
            hay.token_ids[span.token_start : span.token_end], np.zeros(1, dtype=np.int64), tokenizer
        )
        if len(positions):
            found.append((span.token_start + int(positions[0]), int(rooms[0]), span.char_start, span.char_end))
    return RoomMentions.from_columns(list(zip(*found, strict=True)) or [()] * len(MENTION_DTYPES))


def reask(hay: Haystack, question: str, answer: str, tokenizer) -> Haystack:
    """The same haystack, token for token, ending in another question."""
    question_ids = np.asarray(tokenizer(question, add_special_tokens=False)["input_ids"], dtype=np.int32)
    context = hay.text[: len(hay.text) - len(hay.question)]
    return replace(
        hay,
        text=context + question,
        question=question,
        answer=answer,
        token_ids=np.concatenate([hay.token_ids[: hay.question_token_start], question_ids]).astype(np.int32),
    )


def count_tokens(texts: list[str], tokenizer) -> int:
    return sum(len(x) for x in tokenizer(texts, add_special_tokens=False)["input_ids"])


def build_haystack(
    task: str,
    num_tokens: int,
    tokenizer,
    seed: int = 0,
    depth: float | None = None,
    noise: str | NoiseCorpus = "valid",
    sample: TaskSample | None = None,
    other_people: int = 0,
    asked: tuple[str, ...] = NAMES,
    distractors: list[str] | tuple[str, ...] = (),
) -> Haystack:
    """A task haystack of exactly ``num_tokens`` tokens (more only if the facts alone are longer).

    ``depth`` in [0, 1] places the fact(s) at that fraction of the noise; None places them at
    random (Memorize always puts its facts first). ``noise`` is a split name, a text file path, or a
    corpus already built from a user's text. ``other_people`` adds that many facts about other
    names (Memorize and Detect), which the answer must not be taken from; ``asked``, whom the
    question may ask about. ``distractors`` are sentences put into the noise at random sentence
    starts (after the facts when they share one); they are noise, so they are not among the
    haystack's facts.
    """
    task = check_task(task)
    check_length(num_tokens)
    if depth is not None and not 0.0 <= depth <= 1.0:
        raise ValueError(f"fact depth must be between 0 and 1, got {depth}")
    if not 0 <= other_people < len(NAMES):
        raise ValueError(f"other people must be between 0 and {len(NAMES) - 1}, got {other_people}")
    rng = random.Random(f"{task}:{seed}")
    if not asked or any(name not in NAMES and name not in OPPOSITE for name in asked):
        allowed = ", ".join([*NAMES, *OPPOSITE])
        raise ValueError(f"asked names or directions must be among {allowed}, got {', '.join(asked) or 'none'}")
    sample = sample or make_task(task, rng, other_people, asked)
    corpus = noise if isinstance(noise, NoiseCorpus) else load_corpus(noise, tokenizer)
    fixed = count_tokens([*sample.facts, *distractors, sample.question], tokenizer)
    window = noise_window(corpus, rng.randrange(corpus.num_sentences), max(0, num_tokens - fixed), tokenizer)
    boundaries = fact_boundaries(window, len(sample.facts), sample.at_start, depth, rng)
    if not distractors:
        return assemble(
            task, window, sample.facts, boundaries, sample.question, sample.answer, tokenizer, seed, corpus.name
        )
    # (boundary, is-noise, index, text): sorting keeps the facts in order, before distractors at a shared start
    placed = sorted(
        [(b, False, i, fact) for i, (b, fact) in enumerate(zip(boundaries, sample.facts, strict=True))]
        + [(rng.randrange(len(window.boundary_tokens)), True, i, d) for i, d in enumerate(distractors)]
    )
    hay = assemble(
        task,
        window,
        [text for *_, text in placed],
        [b for b, *_ in placed],
        sample.question,
        sample.answer,
        tokenizer,
        seed,
        corpus.name,
    )
    is_noise = [noise for _, noise, *_ in placed]
    distractor_spans = [span for span, noise in zip(hay.facts, is_noise, strict=True) if noise]
    hay.facts = [span for span, noise in zip(hay.facts, is_noise, strict=True) if not noise]
    hay.room_mentions = RoomMentions.merge(hay.room_mentions, span_room_mentions(hay, distractor_spans, tokenizer))
    return hay


def build_custom_haystack(
    noise_text: str | None,
    facts: list[str],
    question: str,
    num_tokens: int,
    tokenizer,
    answer: str | None = None,
    depth: float | None = None,
    seed: int = 0,
    noise: str = "valid",
) -> Haystack:
    """A user's own haystack: pasted noise (or a built-in book split), their facts and question.

    Short noise is repeated to reach ``num_tokens``; facts are spread at random sentence starts,
    or from ``depth`` on, in the order given.
    """
    facts = [f.strip() for f in facts if f.strip()]
    question = question.strip()
    if not question:
        raise ValueError("write a question: the model answers the question at the end of the haystack")
    if not facts:
        raise ValueError("write at least one fact for the model to find")
    check_length(num_tokens)
    rng = random.Random(f"custom:{seed}")
    corpus = (
        build_corpus("pasted text", noise_text, tokenizer)
        if noise_text and noise_text.strip()
        else load_corpus(noise, tokenizer)
    )
    fixed = count_tokens([*facts, question], tokenizer)
    window = noise_window(corpus, 0, max(0, num_tokens - fixed), tokenizer)
    boundaries = fact_boundaries(window, len(facts), False, depth, rng)
    hay = assemble("custom", window, facts, boundaries, question, answer, tokenizer, seed, corpus.name)
    hay.notes = custom_notes(facts, question, answer, tokenizer)
    return hay


QUESTION_WORDS = {
    "where",
    "what",
    "who",
    "which",
    "when",
    "is",
    "was",
    "the",
    "a",
    "an",
    "in",
    "of",
    "how",
    "did",
    "does",
}


def fact_person(fact: str) -> str | None:
    """The person a fact is about: its first capitalised word that is not a question word or room."""
    return next((w for w in re.findall(r"\b[A-Z]\w*", fact) if w.lower() not in QUESTION_WORDS | set(ROOMS)), None)


def mentions_after_facts(hay: Haystack) -> np.ndarray:
    """Indices of the noise's room mentions read after the last fact and before the question.

    Before the fact a room named in the book cannot overwrite it; after it, it may.
    """
    after = max((f.token_end for f in hay.facts), default=0)
    return hay.room_mentions.between(after, hay.question_token_start)


def asked_fact(hay: Haystack) -> FactSpan | None:
    """The fact that names the right answer: the one the question asks about."""
    return next((f for f in hay.facts if hay.answer and hay.answer in rooms_named(f.text)), None)


def other_fact(hay: Haystack, answer: str) -> FactSpan | None:
    """The fact whose room a wrong answer is, when it is not the fact the question asks about.

    Reasoning's commonest miss: the memory held a fact, and the question read the wrong one. A room
    the question itself names is no other fact's, nor is one that the asked fact names too.
    """
    if answer == hay.answer or answer in rooms_named(hay.question):
        return None
    return next((f for f in hay.facts if answer in (named := rooms_named(f.text)) and hay.answer not in named), None)


def asked_fact_is_last(hay: Haystack) -> bool:
    """Whether the fact about the person the question asks for is the last fact in the haystack.

    With other people in a haystack this splits a model's answers: a memory that keeps only the
    latest room gets these right and the others wrong, one that keeps a room per person gets both.
    """
    last = max(hay.facts, key=lambda fact: fact.token_start)
    return fact_person(last.text) == fact_person(hay.question)


def custom_notes(facts: list[str], question: str, answer: str | None, tokenizer) -> list[str]:
    """Plain-language warnings about a user's facts and question.

    The model always answers one of its six rooms, so a question it cannot answer still gets a
    confident-looking answer; these notes say why such an answer means nothing.
    """
    notes = []
    fact_words = {w.lower() for f in facts for w in re.findall(r"\w+", f)}
    names = [w for w in re.findall(r"\b[A-Z]\w*", question) if w.lower() not in QUESTION_WORDS | set(ROOMS)]
    missing = [n for n in names if n.lower() not in fact_words]
    if missing:
        notes.append(
            f"The question asks about {', '.join(missing)}, who is in none of the facts: the model will still "
            "name a room, but there is no right answer."
        )
    placed: dict[str, list[str]] = {}
    for fact in facts:
        rooms = [r for r in ROOMS if re.search(rf"\b{r}\b", fact, re.IGNORECASE)]
        name = fact_person(fact)
        if name and len(rooms) == 1:
            placed.setdefault(name, []).append(rooms[0])
    for name, rooms in placed.items():
        if len(set(rooms)) > 1:
            notes.append(
                f"The facts put {name} in {len(set(rooms))} rooms ({', '.join(dict.fromkeys(rooms))}): as in bAbI, "
                f"the last one ({rooms[-1]}) is where {name} is now."
            )
    if not any(r in fact_words for r in ROOMS):
        notes.append(f"None of the facts names a room the model can answer ({', '.join(ROOMS)}).")
    if answer and answer not in fact_words:
        notes.append(f"The expected answer ({answer}) appears in none of the facts.")
    unknown = tokenizer.unk_token_id
    ids = tokenizer([*facts, question], add_special_tokens=False)["input_ids"]
    unk = sum(row.count(unknown) for row in ids) if unknown is not None else 0
    if unk:
        notes.append(
            f"{unk} word(s) of the facts and question are outside the model's English vocabulary (emoji, "
            "other scripts) and are read as [UNK]."
        )
    return notes


def check_length(num_tokens: int) -> None:
    if not isinstance(num_tokens, int) or num_tokens < 1:
        raise ValueError(f"length must be a positive number of tokens, got {num_tokens!r}")
    if num_tokens > MAX_TOKENS:
        raise ValueError(f"length {num_tokens:,} is above the maximum of {MAX_TOKENS:,} tokens")


def main(argv: list[str] | None = None) -> int:
    from rmt.backbone import load_tokenizer

    parser = argparse.ArgumentParser(description="Build a facts-in-noise haystack and write it as JSON.")
    parser.add_argument("--task", default="detect", help="memorize, detect or reasoning")
    parser.add_argument("--tokens", type=int, default=4096)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--depth", type=float, default=None, help="fact depth 0..1 (default: random)")
    parser.add_argument("--noise", default="valid", help="train, valid, all, or a plain-text FILE")
    parser.add_argument("--out", default="-", help="output JSON file (- for stdout)")
    args = parser.parse_args(argv)
    tokenizer = load_tokenizer()
    started = time.perf_counter()
    hay = build_haystack(args.task, args.tokens, tokenizer, seed=args.seed, depth=args.depth, noise=args.noise)
    seconds = time.perf_counter() - started
    payload = hay.to_json() | {"build_seconds": round(seconds, 3)}
    if args.out == "-":
        json.dump(payload, sys.stdout)
        sys.stdout.write("\n")
    else:
        with open(args.out, "w", encoding="utf-8") as f:
            json.dump(payload, f)
        print(
            f"{hay.num_tokens:,} tokens, {len(hay.facts)} fact(s), answer {hay.answer!r}, "
            f"built in {seconds:.2f} s -> {args.out}",
            file=sys.stderr,
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
