"""Which position a generated DisCRn answer names (DESIGN §4).

An answer is *correct* when it matches the synonym set of the right position and
not the other one, *wrong* when it names the other position or both positions
("both", "either", "the first or the second"), and *unmatched* when it names
neither. Phrases match as whole words, case-insensitively.

The synonym sets follow DESIGN §4; "2" is added to the second set for symmetry
with "1" in the first (the LAVIS evaluator has both). A modality name counts for
the position that holds that modality only when the two inputs differ in
modality, otherwise it would name both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

CORRECT, WRONG, UNMATCHED = "correct", "wrong", "unmatched"

FIRST = ("left", "1st", "1", "first", "input 1", "entity 1", "object 1",
         "input a", "entity a", "object a")
SECOND = ("right", "2nd", "2", "second", "input 2", "entity 2", "object 2",
          "input b", "entity b", "object b")
# Words that refer to both positions at once: an answer using them did not select one.
BOTH = ("both", "either", "neither")


@dataclass(frozen=True)
class Match:
    """The outcome of matching one answer: positions named and the verdict."""

    named: tuple[int, ...]  # positions (0, 1) the answer refers to
    verdict: str  # "correct" | "wrong" | "unmatched"


@lru_cache(maxsize=256)
def _pattern(phrases: tuple[str, ...]) -> re.Pattern[str]:
    # Longest first so "input 1" wins over "1"; (?<!\w)/(?!\w) are whole-word bounds that
    # also work for phrases that start or end with a digit.
    alternatives = sorted({p.lower() for p in phrases if p.strip()}, key=len, reverse=True)
    body = "|".join(r"\s+".join(map(re.escape, a.split())) for a in alternatives)
    return re.compile(rf"(?<![\w-])(?:{body})(?![\w-])", re.IGNORECASE)


def modality_words(name: str, cue: str | None = None) -> tuple[str, ...]:
    """Words that refer to an input of modality ``name``: its name and its cue word."""
    words = {name.lower()}
    if cue:
        word = cue.strip().rstrip(":").strip().lower()
        if word:
            words.add(word)
    return tuple(sorted(words))


def synonym_sets(modality_words_per_position: Sequence[Iterable[str]] = ((), ()),
                 ) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The phrases naming position one and position two.

    ``modality_words_per_position`` holds, per position, the words naming the modality
    of the input there (see :func:`modality_words`); words shared by both positions are
    dropped because they would name both.
    """
    first_mod, second_mod = (set(w.lower() for w in ws) for ws in modality_words_per_position)
    shared = first_mod & second_mod
    return (FIRST + tuple(sorted(first_mod - shared)), SECOND + tuple(sorted(second_mod - shared)))


def named_positions(answer: str, synonyms: tuple[Sequence[str], Sequence[str]]) -> tuple[int, ...]:
    """Positions (0 and/or 1) the answer names; both when it says "both"/"either"."""
    if _pattern(BOTH).search(answer):
        return (0, 1)
    return tuple(i for i, phrases in enumerate(synonyms) if _pattern(tuple(phrases)).search(answer))


def match_answer(answer: str, label: int,
                 modality_words_per_position: Sequence[Iterable[str]] = ((), ())) -> Match:
    """Verdict for ``answer`` when position ``label`` (0 or 1) is the right one."""
    if label not in (0, 1):
        raise ValueError(f"label must be 0 or 1, got {label!r}")
    named = named_positions(answer, synonym_sets(modality_words_per_position))
    if not named:
        return Match(named, UNMATCHED)
    return Match(named, CORRECT if named == (label,) else WRONG)
