"""Prompts of the data builders and the parsers of their answers.

Parsers are strict on form (a malformed answer is dropped and counted, never guessed
at) and lenient on decoration (bullets, numbering, quotes, case).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# -- DisCRn (DESIGN §4) ---------------------------------------------------------------------
PROPERTIES = ('Here is a description: "{caption}"\n'
              "List three short properties of what it describes, one per line, each starting "
              'with "- ".')
# One worked example, given as an earlier chat turn, keeps small models from echoing the caption.
PROPERTIES_EXAMPLE = ("A dog barks loudly while cars pass by.",
                      "- a barking dog\n- loud\n- traffic in the background")

# Three in-context examples for the question/answer/explanation triplets.
TRIPLET_EXAMPLES = (
    ("A dog barks loudly while cars pass by.", "Soft rain falls on a tin roof.",
     "Which entity is louder?", "Entity A",
     "A barking dog next to traffic is louder than soft rain."),
    ("A small red cube on a wooden table.", "A tall green vase holding flowers.",
     "Which entity is taller?", "Entity B", "A tall vase is taller than a small cube."),
    ("An engine idles and then revs up.", "A man speaks while birds chirp.",
     "Which entity includes a human voice?", "Entity B",
     "Only the second description mentions a man speaking."),
)

TRIPLET = ("Two entities are described. Write a question that compares them and whose answer "
           "is exactly one of them, the answer (Entity A or Entity B), and a short explanation."
           "\n\nEntity A: {a}\nEntity B: {b}")
_REPLY = "Question: {q}\nAnswer: {ans}\nExplanation: {e}"
TRIPLET_PREFILL = "Question: Which entity"
PROPERTIES_PREFILL = "- "
ROUND_TRIP_PREFILL = "Entity"

ROUND_TRIP = ("Entity A: {a}\nEntity B: {b}\nQuestion: {q}\n"
              'Answer with "Entity A" or "Entity B".')

# -- QA from captions (DESIGN §5) -------------------------------------------------------------
ANSWERS = ('Caption: "{caption}"\nList single words from the caption that would make good '
           "answers to a question about it, separated by commas.")
QUESTION = ('Caption: "{caption}"\nWrite one question about the caption whose answer is '
            '"{answer}".')
ANSWER = 'Caption: "{caption}"\nQuestion: {question}\nAnswer with a single word.'
NO_COLOUR = ('Rewrite this description without any mention of colour: "{caption}"\n'
             "Write only the rewritten description.")
# One worked example per prompt, given as an earlier chat turn (small models need it).
QA_EXAMPLE = {"caption": "A brown dog barks loudly while two cars pass by.",
              "answers": "dog, barks, two, cars", "answer": "two",
              "question": "How many cars pass by?",
              "no_colour": "A dog barks loudly while two cars pass by."}
STOPWORDS = frozenset({
    "a", "an", "the", "and", "or", "of", "on", "in", "at", "to", "is", "are", "was", "were",
    "be", "by", "with", "while", "from", "for", "its", "it", "this", "that", "there", "their",
    "some", "which", "who", "what"})


def with_example(template: str, reply: str, **fields: str) -> list[dict[str, str]]:
    """``template`` filled with the worked example, its reply, then filled with ``fields``."""
    example = {"caption": QA_EXAMPLE["caption"], "answer": QA_EXAMPLE["answer"],
               "question": QA_EXAMPLE["question"]}
    return [{"role": "user", "content": template.format(**example)},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": template.format(**fields)}]


_BULLET = re.compile(r"^\s*(?:(?:[-*•]+|\d+[.)]|\(\d+\))\s*)+")
_FIELD = re.compile(r"^\s*(question|answer|explanation)\s*:\s*(.*)$", re.IGNORECASE)
_COLOURS = re.compile(
    r"\b(?:red|green|blue|yellow|orange|purple|pink|brown|black|white|grey|gray|golden|silver|"
    r"colou?r(?:ed|ful|s)?)\b", re.IGNORECASE)


def properties_prompt(caption: str) -> list[dict[str, str]]:
    example, reply = PROPERTIES_EXAMPLE
    return [{"role": "user", "content": PROPERTIES.format(caption=example)},
            {"role": "assistant", "content": reply},
            {"role": "user", "content": PROPERTIES.format(caption=caption)}]


def triplet_prompt(a: str, b: str) -> list[dict[str, str]]:
    """The three in-context examples as earlier chat turns, then the pair to write about."""
    turns: list[dict[str, str]] = []
    for x, y, q, ans, e in TRIPLET_EXAMPLES:
        turns.append({"role": "user", "content": TRIPLET.format(a=x, b=y)})
        turns.append({"role": "assistant", "content": _REPLY.format(q=q, ans=ans, e=e)})
    turns.append({"role": "user", "content": TRIPLET.format(a=a, b=b)})
    return turns


def parse_properties(text: str, limit: int = 3, max_words: int = 8) -> list[str]:
    """Up to ``limit`` distinct short properties, one per line (bullets stripped)."""
    out: list[str] = []
    for line in text.splitlines():
        item = _BULLET.sub("", line).strip().strip('"').rstrip(".").strip()
        if item and len(item.split()) <= max_words and item.lower() not in map(str.lower, out):
            out.append(item)
    return out[:limit]


@dataclass(frozen=True)
class Triplet:
    question: str
    answer: str
    explanation: str


def parse_triplets(text: str) -> list[Triplet]:
    """Every complete Question/Answer/Explanation block (the explanation may be missing)."""
    found: list[Triplet] = []
    current: dict[str, str] = {}
    for line in text.splitlines():
        m = _FIELD.match(line)
        if not m:
            continue
        key, value = m.group(1).lower(), m.group(2).strip()
        if key == "question" and current:
            _close(current, found)
            current = {}
        current[key] = value
    _close(current, found)
    return found


def _close(fields: dict[str, str], found: list[Triplet]) -> None:
    if fields.get("question") and fields.get("answer"):
        found.append(Triplet(fields["question"], fields["answer"], fields.get("explanation", "")))


def parse_answers(text: str, caption: str, limit: int = 5) -> list[str]:
    """Single-word candidate answers that occur in the caption (others are malformed; bare
    function words such as "a" or "the" are no answers)."""
    words = {w.lower() for w in re.findall(r"[A-Za-z0-9'-]+", caption)}
    out: list[str] = []
    for part in re.split(r"[,\n;]", text):
        word = _BULLET.sub("", part).strip().strip("\"'.").lower()
        if word and " " not in word and word in words and word not in out \
                and word not in STOPWORDS:
            out.append(word)
    return out[:limit]


def mentions_colour(text: str) -> bool:
    return bool(_COLOURS.search(text))
