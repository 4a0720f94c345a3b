"""The data-quality report of one manifest: plain dataclasses that round-trip through JSON."""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class BadFile:
    """A media file that is missing or that its plugin's loader refuses (``MediaError``)."""

    path: str
    reason: str
    lines: list[str]  # ids of the manifest lines that use it


@dataclass
class DuplicateMedia:
    """Files with the same content (``similarity`` 1.0) or near-identical pooled features.

    ``paths[0]`` is the one kept by ``--fix`` (first in manifest order); ``lines`` are the ids
    of the lines that use the other paths.
    """

    paths: list[str]
    similarity: float
    lines: list[str]


@dataclass
class DuplicateInstruction:
    """A line that asks the same thing as an earlier line about the same media content."""

    line: str
    duplicate_of: str
    instruction: str
    similarity: float  # rapidfuzz ratio of the normalised instructions, 0-100
    exact: bool  # equal after normalisation
    same_answer: bool  # False: the repeated question is answered differently (a conflict)


@dataclass
class Distribution:
    """Counts over categories with two balance figures over all of them: normalised entropy
    (1.0 = uniform) and the ratio of the largest to the smallest count. ``counts`` holds the
    ``top`` largest when the categories are many (free-text instructions)."""

    counts: dict[str, int]
    distinct: int = 0
    balance: float = 1.0
    max_min_ratio: float = 1.0

    @classmethod
    def of(cls, counts: dict[str, int], top: int | None = None) -> Distribution:
        ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = dict(ordered[:top] if top is not None else ordered)
        total, values = sum(counts.values()), [v for v in counts.values() if v > 0]
        if len(values) < 2:
            return cls(kept, len(values))
        entropy = -sum(v / total * math.log(v / total) for v in values)
        return cls(kept, len(values), round(entropy / math.log(len(values)), 4),
                   round(max(values) / min(values), 4))


@dataclass
class AnswerStats:
    """Answer lengths in words, and answers that are not well-formed."""

    count: int
    mean: float
    percentiles: dict[str, float]  # p0 (min), p50, p90, p100 (max)
    histogram: dict[str, int]  # words -> number of answers
    empty: list[str]  # line ids with an empty answer
    not_in_candidates: list[str]  # line ids whose answer is not one of their candidates


@dataclass
class QualityReport:
    """Everything ``xalign data check`` found in one manifest."""

    manifest: str
    lines: int
    media_files: int
    encoder: dict[str, str]  # modality -> encoder used for near-duplicates ("" when skipped)
    near_threshold: float | None
    near_relative: float | None
    instruction_threshold: float
    missing: list[BadFile] = field(default_factory=list)
    corrupt: list[BadFile] = field(default_factory=list)
    exact_duplicates: list[DuplicateMedia] = field(default_factory=list)
    near_duplicates: list[DuplicateMedia] = field(default_factory=list)
    duplicate_instructions: list[DuplicateInstruction] = field(default_factory=list)
    answers: AnswerStats | None = None
    modalities: Distribution = field(default_factory=lambda: Distribution({}))
    tasks: Distribution = field(default_factory=lambda: Distribution({}))
    instructions: Distribution = field(default_factory=lambda: Distribution({}))
    attributes: dict[str, Distribution] = field(default_factory=dict)
    # nearest-neighbour cosine of each readable file (the PNG's histogram), per modality
    nearest_similarity: dict[str, list[float]] = field(default_factory=dict)

    def problem_count(self) -> int:
        """Findings that ``--fix`` can act on (bad files, duplicates)."""
        return (len(self.missing) + len(self.corrupt) + len(self.exact_duplicates)
                + len(self.near_duplicates) + len(self.duplicate_instructions))

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, ensure_ascii=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> QualityReport:
        data = dict(data)
        for name, kind in (("missing", BadFile), ("corrupt", BadFile),
                           ("exact_duplicates", DuplicateMedia),
                           ("near_duplicates", DuplicateMedia),
                           ("duplicate_instructions", DuplicateInstruction)):
            data[name] = [kind(**x) for x in data.get(name, [])]
        if data.get("answers") is not None:
            data["answers"] = AnswerStats(**data["answers"])
        for name in ("modalities", "tasks", "instructions"):
            data[name] = Distribution(**data[name])
        data["attributes"] = {k: Distribution(**v) for k, v in data["attributes"].items()}
        return cls(**data)
