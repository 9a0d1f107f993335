"""The paper's three synthetic tasks as templates: facts, a question and a room to answer.

bAbI itself is not available offline, so facts come from the same templates the paper's tasks
use (bAbI qa1-style location facts, qa4-style two-argument relations).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass

ROOMS = ("bathroom", "bedroom", "garden", "hallway", "kitchen", "office")
ROOM_WORD = re.compile(r"\b(" + "|".join(ROOMS) + r")(s?)\b", re.IGNORECASE)
NAMES = ("Mary", "John", "Daniel", "Sandra")
VERBS = ("moved", "went", "went back", "journeyed", "travelled")
OPPOSITE = {"north": "south", "south": "north", "east": "west", "west": "east"}
# Tokens of the longest fact the templates write ("The bathroom is north of the kitchen."; a test checks every
# fact they can make). Segments that re-read one token fewer than this read every fact whole, and never read a
# fact of this length whole twice (``RMTConfig.segment_overlap``).
LONGEST_FACT_TOKENS = 8

TASKS = {
    "memorize": "Memorize: one fact at the very start, the question at the very end.",
    "detect": "Detect & Memorize: one fact at a random place in the noise.",
    "reasoning": "Reasoning: two relation facts at random places; the answer needs the right one.",
}


def room_named(sentence: str) -> str | None:
    """The first of the task's rooms a sentence names (a fact does; so can any line of a book)."""
    match = ROOM_WORD.search(sentence)
    return match.group(1).lower() if match else None


def rooms_named(text: str) -> set[str]:
    """Every one of the task's rooms a text names (a Reasoning fact names two)."""
    return {match.group(1).lower() for match in ROOM_WORD.finditer(text)}


@dataclass
class TaskSample:
    facts: list[str]
    question: str
    answer: str
    at_start: bool  # Memorize puts its facts first; the others place facts in the noise


def check_task(task: str) -> str:
    """The canonical task name, or a ValueError a user can read."""
    name = task.strip().lower().replace("&", "").replace(" ", "").replace("_", "")
    aliases = {"detectmemorize": "detect", "detectandmemorize": "detect"}
    name = aliases.get(name, name)
    if name not in TASKS:
        raise ValueError(f"unknown task {task!r}: choose one of {', '.join(TASKS)}")
    return name


def location_fact(rng: random.Random, name: str | None = None, room: str | None = None) -> tuple[str, str, str]:
    name, verb, room = name or rng.choice(NAMES), rng.choice(VERBS), room or rng.choice(ROOMS)
    return f"{name} {verb} to the {room}.", f"Where is {name}?", room


def other_people_facts(asked: str, count: int, rng: random.Random) -> list[str]:
    """Location facts about people the question does not ask about: bAbI qa1's own setting.

    Without them a haystack holds one person, and a model can pass by keeping whichever room it
    read last; with them it has to keep each room with its person.
    """
    others = rng.sample([n for n in NAMES if n != asked], min(count, len(NAMES) - 1))
    return [location_fact(rng, name)[0] for name in others]


def other_questions(
    facts: list[str], question: str, answer: str, asked: tuple[str, ...] = NAMES
) -> list[tuple[str, str]]:
    """Questions about the same facts whose answer differs from ``answer``, each with its answer;
    questions about people ask only about ``asked`` (as ``make_task`` does).

    Asked of the same memory, they are the sharpest lesson in keeping facts apart: the memory is
    the same, only the question differs, so the answer can only change by reading the question.
    The facts are this module's own templates, so their words sit at known places.
    """
    found = []
    for fact in facts:
        words = fact.rstrip(".").split()
        if words[0] in asked:  # "Mary went back to the kitchen."
            found.append((f"Where is {words[0]}?", words[-1]))
        elif words[0] == "The":  # "The garden is north of the kitchen."
            room, direction, centre = words[1], words[3], words[-1]
            if question.startswith("What is the "):  # keep the asked question's phrasing
                found.append((f"What is the {centre} {OPPOSITE[direction]} of?", room))
            else:
                found.append((f"What is {direction} of the {centre}?", room))
    return [(q, a) for q, a in found if a != answer and q != question]


def relation_facts(rng: random.Random, asked_direction: str | None = None) -> tuple[list[str], str, str]:
    """Two facts about one room; the question picks one fact, in one of bAbI's two phrasings.

    The other fact shares the room, so the model must read the direction, not just the names.
    ``asked_direction`` fixes the direction asked about (a probe's one target); left None, the
    draws are exactly those every seeded haystack was built from.
    """
    centre, first, second = rng.sample(ROOMS, 3)
    dir_first = asked_direction or rng.choice(list(OPPOSITE))
    dir_second = rng.choice([d for d in OPPOSITE if d != dir_first])
    facts = [f"The {first} is {dir_first} of the {centre}.", f"The {second} is {dir_second} of the {centre}."]
    asked, direction = (first, dir_first) if asked_direction else rng.choice([(first, dir_first), (second, dir_second)])
    if rng.random() < 0.5:
        question = f"What is {direction} of the {centre}?"
    else:
        question = f"What is the {centre} {OPPOSITE[direction]} of?"
    rng.shuffle(facts)
    return facts, question, asked


RELATION = re.compile(r"\bis (" + "|".join(OPPOSITE) + r") of\b", re.IGNORECASE)


def relation_direction(fact: str) -> str | None:
    """The direction a relation fact states ("The garden is east of the hallway." -> "east")."""
    match = RELATION.search(fact)
    return match.group(1).lower() if match else None


def relation_slots(facts: list[str]) -> list[int]:
    """For each direction of ``OPPOSITE`` in order, the room a relation fact puts that way of the
    centre (its index in ``ROOMS``), or ``len(ROOMS)`` where no fact states it.

    Training asks memory slot k to name the room in direction k (``rmt.train --slot-loss``): the
    memory then keeps each room where the question's direction can address it.
    """
    slots = [len(ROOMS)] * len(OPPOSITE)
    for fact in facts:
        if (direction := relation_direction(fact)) is not None:
            slots[list(OPPOSITE).index(direction)] = ROOMS.index(fact.split()[1])
    return slots


def question_phrasing(question: str) -> str:
    """Which of bAbI's two relation phrasings a question uses: "inverted" ("What is the hallway west
    of?") makes the reader turn the direction round before it finds the fact; "direct" does not."""
    return "inverted" if question.rstrip().endswith(" of?") else "direct"


def make_task(task: str, rng: random.Random, other_people: int = 0, asked: tuple[str, ...] = NAMES) -> TaskSample:
    """One sample; ``other_people`` (0-3) adds facts about other names to Memorize and Detect.

    ``asked`` narrows whom the question may ask about (the others still come from all names): a
    curriculum can teach reading one person's room before steering the reading by the name. The
    directions in it (north, ...) do the same for Reasoning: the asked fact states one of them,
    the other fact any other direction. Without directions, Reasoning draws as it always did.

    The facts are shuffled: Memorize opens with all of them, so "the first fact" is no shortcut
    for "the asked person's fact". Reasoning has no people, so it ignores ``other_people``.
    """
    task = check_task(task)
    if task == "reasoning":
        directions = [d for d in asked if d in OPPOSITE]
        facts, question, answer = relation_facts(rng, rng.choice(directions) if directions else None)
        return TaskSample(facts, question, answer, at_start=False)
    name = rng.choice([n for n in asked if n in NAMES] or NAMES)
    fact, question, answer = location_fact(rng, name)
    facts = [fact]
    if other_people:
        facts += other_people_facts(name, other_people, rng)
        rng.shuffle(facts)
    return TaskSample(facts, question, answer, at_start=task == "memorize")
