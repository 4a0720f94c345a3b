"""Answer normalisation and matching for QA and open classification.

Short-answer QA is scored by exact match after normalising case, articles and
punctuation (as the VQA-style evaluations do); open classification maps a generated
text to the one label it names.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable, Sequence

_ARTICLES = re.compile(r"\b(?:a|an|the)\b")
_PUNCT = re.compile(f"[{re.escape(string.punctuation)}]")


def normalize(text: str) -> str:
    """Lower case, punctuation -> space (so "hot-dog" == "hot dog"), no articles, one space."""
    text = _PUNCT.sub(" ", text.lower().replace("_", " "))
    return " ".join(_ARTICLES.sub(" ", text).split())


def exact_match(prediction: str, answers: str | Iterable[str]) -> bool:
    """Whether the normalised prediction equals any normalised reference answer."""
    answers = [answers] if isinstance(answers, str) else list(answers)
    return normalize(prediction) in {normalize(a) for a in answers}


def match_label(text: str, labels: Sequence[str]) -> str | None:
    """The label a generated text names: an exact (normalised) match, else the only label
    that occurs in it as whole words (longer labels first, so "hot dog" is not "dog");
    ``None`` when it names none or several."""
    norm = normalize(text)
    by_norm = {normalize(label): label for label in labels}
    if norm in by_norm:
        return by_norm[norm]
    found, rest = [], f" {norm} "
    for key in sorted(by_norm, key=len, reverse=True):
        if key and f" {key} " in rest:
            found.append(by_norm[key])
            rest = rest.replace(f" {key} ", " ")
    return found[0] if len(found) == 1 else None
