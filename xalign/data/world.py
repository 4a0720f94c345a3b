"""Write the synthetic world to disk: media files plus JSONL manifests per split.

Layout (see docs/data.md)::

    OUT/world.json                  what was written: seed, modalities, plugin versions, sizes
    OUT/<split>.jsonl               training examples (ManifestSource format): per media item
                                    one caption line and one qa / classify line per attribute
    OUT/<split>.items.jsonl         one line per media item: path, caption, attributes, quantities
    OUT/<modality>/<split>/<id>.*   media, written by the plugin's ``Modality.write``

Sample ``i`` of a split uses the same generator seed as ``SyntheticSource`` (``sample_seed``),
so the on-disk world and the on-the-fly one hold the same samples.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import XalignError
from xalign.modality import Modality
from xalign.registry import get_modality

from .cache import plugin_version
from .synthetic import SPLITS, sample_seed, split_index, synthesize
from .templates import TASKS, concrete_tasks, make_item

FORMAT = 1


@dataclass
class WorldSummary:
    out: Path
    media: dict[str, dict[str, int]] = field(default_factory=dict)  # modality -> split -> n
    examples: dict[str, int] = field(default_factory=dict)  # split -> manifest lines


def _write_media(modality: Modality, raw: Any, stem: Path, out: Path) -> str:
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = Path(modality.write(raw, stem))
    if not written.is_file():
        raise XalignError(f"plugin for {modality.name!r}: write() returned {written}, "
                          f"which is not a file")
    return Path(os.path.relpath(written, out)).as_posix()


def write_world(out: str | Path, modalities: Sequence[str], sizes: Mapping[str, int],
                seed: int = 0, tasks: Sequence[str] = TASKS, overwrite: bool = False,
                progress: Callable[[str, str, int], None] | None = None) -> WorldSummary:
    """Synthesise ``sizes[split]`` items per modality and split under ``out``.

    Refuses to write into a folder that already holds a world unless ``overwrite``.
    ``progress(modality, split, i)`` is called after each item.
    """
    out = Path(out)
    for split in sizes:
        split_index(split)
    resolved = [get_modality(m) for m in modalities]
    if not resolved:
        raise XalignError("no modalities to synthesise: install a plugin or pass --modalities")
    if (out / "world.json").exists() and not overwrite:
        raise XalignError(f"{out} already holds a synthetic world; pass --overwrite to replace "
                          f"it or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    summary = WorldSummary(out=out)
    for split in SPLITS:
        n = int(sizes.get(split, 0))
        if n <= 0:
            continue
        lines, items = [], []
        for modality in resolved:
            for i in range(n):
                s = sample_seed(seed, split, i)
                sample = synthesize(modality, s)
                item_id = f"{modality.name}-{split}-{i:06d}"
                rel = _write_media(modality, sample.raw, out / modality.name / split / item_id,
                                   out)
                attributes = {k: str(v) for k, v in sample.attributes.items()}
                items.append({"id": item_id, "modality": modality.name, "path": rel,
                              "seed": s, "caption": sample.caption, "attributes": attributes,
                              "quantities": {k: float(v) for k, v in sample.quantities.items()}})
                for task in concrete_tasks(modality, attributes, tasks):
                    ex = make_item(modality, item_id, rel, sample.caption, attributes, task,
                                   key=(seed, split, i))
                    lines.append({"id": f"{item_id}-{task}", "task": task,
                                  "media": [{"modality": modality.name, "path": rel}],
                                  "instruction": ex.instruction, "answer": ex.target,
                                  "attributes": attributes, "candidates": list(ex.candidates),
                                  "captions": [sample.caption]})
                if progress:
                    progress(modality.name, split, i)
            summary.media.setdefault(modality.name, {})[split] = n
        _write_jsonl(out / f"{split}.jsonl", lines)
        _write_jsonl(out / f"{split}.items.jsonl", items)
        summary.examples[split] = len(lines)
    meta = {
        "format": FORMAT, "seed": seed, "tasks": list(tasks),
        "splits": {s: int(sizes.get(s, 0)) for s in SPLITS},
        "modalities": {m.name: {"plugin_version": plugin_version(m.name), "cue": m.cue,
                                "attributes": {k: list(v) for k, v in m.attributes.items()}}
                       for m in resolved},
    }
    (out / "world.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return summary


def _write_jsonl(path: Path, records: list[dict[str, Any]]) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    os.replace(tmp, path)
