"""DisCRn examples: reading the released annotation records, rewriting, balancing.

A record as released (read by LAVIS ``DisCRnDataset``) holds two entities: ``sample_ids``,
``label`` (index of the right entity), ``question``, ``captions``, ``properties``,
``captions_pred_<modality>`` (baseline captions of both entities per modality) and, for
AudioCaps, ``start_seconds``. Records name no modalities: entity *i* is shown in the
*i*-th modality of the data set (``audio, video`` for AudioCaps, ``3d, image`` for Cap3D).

:class:`DiscrnExample` keeps every per-position field in one place so that
:meth:`DiscrnExample.swapped` can swap them *all* together. The reference dataset class
swaps captions, properties, baseline captions and the label but not ``sample_ids`` (nor
``start_seconds``), so after balancing half of its examples show the media of one entity
with the label of the other.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from xalign.errors import XalignError

INSTRUCTION = ("You are given two inputs. Select exactly one of the two by reference to its "
               "relative position (first or second, left or right) that best answers the question.")
QFORMER_PROMPT = "a short description"

# LAVIS names the point-cloud modality "pc" and sometimes the image modality "images".
_ALIASES = {"pc": "3d", "images": "image"}
_WHICH = re.compile(r"\bwhich (?:entity|object|image|audio)\b", re.IGNORECASE)


@dataclass(frozen=True)
class DiscrnExample:
    """One two-input question. Tuples are per position (0 = first input, 1 = second)."""

    id: str
    modalities: tuple[str, str]
    sample_ids: tuple[str, str]
    label: int
    question: str  # as used (rewritten)
    captions: tuple[str, str] = ("", "")
    properties: tuple[Any, Any] = (None, None)
    baseline_captions: tuple[str, str] = ("", "")  # captions_pred_<modality of that position>
    start_seconds: tuple[float, float] | None = None
    # a Path, or a raw object as Modality.load returns it; None until resolved
    media: tuple[Any, Any] = (None, None)
    source: str = "discrn"  # name of the set (a file name or "synthetic")
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def pair(self) -> str:
        """Modality pair in a fixed order, e.g. ``audio–video`` for either order."""
        return "–".join(sorted(self.modalities))

    @property
    def answer_modality(self) -> str:
        return self.modalities[self.label]

    def swapped(self, mark: bool = False) -> DiscrnExample:
        """The same example with the two inputs in the other order: every per-position
        field swaps and the label flips; ``mark`` gives it the id ``<id>#swapped``."""
        def flip(pair: tuple[Any, Any] | None) -> tuple[Any, Any] | None:
            return None if pair is None else (pair[1], pair[0])
        return replace(
            self, id=swapped_id(self.id) if mark else self.id,
            modalities=flip(self.modalities), sample_ids=flip(self.sample_ids),
            label=1 - self.label, captions=flip(self.captions), properties=flip(self.properties),
            baseline_captions=flip(self.baseline_captions),
            start_seconds=flip(self.start_seconds), media=flip(self.media))

    def to_record(self) -> dict[str, Any]:
        """A JSON-able record in the released format plus ``id`` and ``modalities``."""
        record: dict[str, Any] = {
            "id": self.id, "modalities": list(self.modalities),
            "sample_ids": list(self.sample_ids), "label": self.label,
            "question": self.question, "captions": list(self.captions),
            "properties": list(self.properties),
        }
        # Released files hold captions_pred_<m> for both entities per modality; the baseline of
        # entity i is the caption predicted from the modality it is shown in.
        for i, modality in enumerate(self.modalities):
            key = f"captions_pred_{modality}"
            record.setdefault(key, [None, None])[i] = self.baseline_captions[i]
        if self.start_seconds is not None:
            record["start_seconds"] = list(self.start_seconds)
        return record


def rewrite_question(question: str) -> str:
    """DESIGN §4: "which entity/object/image/audio" becomes "which of the two options"."""
    text = _WHICH.sub(lambda m: ("W" if m.group(0)[0] == "W" else "w") + "hich of the two options",
                      question.strip())
    return text if text.endswith("?") else text + "?"


def balance(examples: Sequence[DiscrnExample], mark: bool = False) -> list[DiscrnExample]:
    """Put the right answer first for even indices and second for odd ones (by swapping),
    so each position is right for half of the examples (±1).

    ``mark`` gives each swapped example its own id, ``<id>#swapped`` (:func:`swapped_id`), so
    that an answer to it can never be taken for an answer to the record as written: used for
    records read from a file, whose ids name the file's order."""
    return [ex if ex.label == i % 2 else ex.swapped(mark) for i, ex in enumerate(examples)]


SWAPPED = "#swapped"


def swapped_id(record_id: str) -> str:
    """The id of a record's example with its two inputs swapped."""
    return record_id + SWAPPED


def normalise_modality(name: str) -> str:
    return _ALIASES.get(name, name)


def read_annotation_file(path: str | Path) -> list[dict[str, Any]]:
    """Records of a JSON list file or a JSONL file, as they are."""
    path = Path(path)
    if not path.is_file():
        raise XalignError(f"{path}: DisCRn annotation file not found")
    text = path.read_text(encoding="utf-8")
    stripped = text.lstrip()
    if stripped.startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise XalignError(f"{path}: line {exc.lineno}: malformed JSON: {exc.msg}") from exc
    else:
        records = []
        for lineno, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise XalignError(f"{path}: line {lineno}: malformed JSON: {exc.msg}") from exc
    if not all(isinstance(r, dict) for r in records):
        raise XalignError(f"{path}: expected a list of JSON objects (DisCRn records)")
    return records


def infer_modalities(record: Mapping[str, Any]) -> tuple[str, str]:
    """Per-position modalities: the record's ``modalities`` or its ``captions_pred_*`` keys."""
    if "modalities" in record:
        names = [normalise_modality(str(m)) for m in record["modalities"]]
    else:
        names = [normalise_modality(k[len("captions_pred_"):]) for k in record
                 if k.startswith("captions_pred_")]
    if len(names) == 1:
        names = names * 2
    if len(names) != 2:
        raise XalignError("cannot tell the two modalities of a DisCRn record; pass "
                          "--modalities first,second (e.g. audio,video or 3d,image)")
    return names[0], names[1]


def _pair(record: Mapping[str, Any], key: str, rid: str) -> tuple[Any, Any]:
    value = record.get(key)
    if not isinstance(value, (list, tuple)) or len(value) != 2:
        raise XalignError(f"DisCRn record {rid}: field {key!r} must hold two values, got {value!r}")
    return value[0], value[1]


def parse_record(record: Mapping[str, Any], index: int,
                 modalities: tuple[str, str] | None = None, source: str = "discrn",
                 ) -> DiscrnExample:
    """One released record as an example (media are resolved later, see discrn.media)."""
    rid = str(record.get("id", record.get("instance_id", record.get("question_id", index))))
    modalities = tuple(normalise_modality(m) for m in modalities or infer_modalities(record))
    label = record.get("label")
    if label not in (0, 1):
        raise XalignError(f"DisCRn record {rid}: label must be 0 or 1, got {label!r}")
    for field_name in ("sample_ids", "question"):
        if field_name not in record:
            raise XalignError(f"DisCRn record {rid}: missing field {field_name!r}")

    def raw_modality_key(i: int) -> str:
        # the file may spell the modality the LAVIS way ("pc")
        for key in record:
            if key.startswith("captions_pred_") and \
                    normalise_modality(key[len("captions_pred_"):]) == modalities[i]:
                return key
        return f"captions_pred_{modalities[i]}"

    captions = _pair(record, "captions", rid) if "captions" in record else ("", "")
    baseline = []
    for i in range(2):
        preds = record.get(raw_modality_key(i))
        text = preds[i] if isinstance(preds, (list, tuple)) and len(preds) == 2 else None
        # without a predicted caption (sets built by `xalign data discrn`) the caption baseline
        # falls back to the record's own caption
        baseline.append(str(text or captions[i] or "").strip())
    sample_ids = _pair(record, "sample_ids", rid)
    starts = _pair(record, "start_seconds", rid) if record.get("start_seconds") else None
    properties = _pair(record, "properties", rid) if "properties" in record else (None, None)
    return DiscrnExample(
        id=rid, modalities=(modalities[0], modalities[1]),
        sample_ids=(str(sample_ids[0]), str(sample_ids[1])),
        label=int(label), question=rewrite_question(str(record["question"])),
        captions=(str(captions[0]), str(captions[1])), properties=properties,
        baseline_captions=(baseline[0], baseline[1]),
        start_seconds=None if starts is None else (float(starts[0]), float(starts[1])),
        source=source,
        extra={k: v for k, v in record.items() if k not in _KNOWN and
               not k.startswith("captions_pred_")},
    )


# Fields interpreted above, plus label-relative text (answer, explanation, round_trip) that
# would go stale when the inputs are swapped; the rest is kept as it is in ``extra``.
_KNOWN = {"id", "instance_id", "question_id", "modalities", "sample_ids", "label", "question",
          "captions", "properties", "start_seconds", "media", "answer", "explanation",
          "round_trip"}


def load_examples(path: str | Path, modalities: tuple[str, str] | None = None,
                  ) -> list[DiscrnExample]:
    """Examples of a released annotation file (not yet balanced, media not resolved)."""
    records = read_annotation_file(path)
    examples = [parse_record(r, i, modalities, source=Path(path).stem)
                for i, r in enumerate(records)]
    # records written by ``xalign data discrn`` name their media files (relative paths
    # resolve against the annotation file's folder)
    base = Path(path).resolve().parent
    examples = [replace(ex, media=tuple(base / m for m in r["media"]))
                if isinstance(r.get("media"), list) and len(r["media"]) == 2 else ex
                for ex, r in zip(examples, records, strict=True)]
    dupes = sorted(k for k, n in Counter(ex.id for ex in examples).items() if n > 1)
    if dupes:
        raise XalignError(f"{path}: duplicate record ids: {', '.join(dupes[:10])}")
    return examples
