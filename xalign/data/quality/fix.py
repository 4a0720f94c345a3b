"""``--fix``: write a cleaned copy of a manifest; the original and its media are never touched."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from xalign.data.manifest import ManifestSource
from xalign.errors import XalignError

from .report import QualityReport


@dataclass
class FixSummary:
    out: Path
    kept: int
    dropped: dict[str, list[str]] = field(default_factory=dict)  # reason -> line ids


def drop_reasons(report: QualityReport, near: bool = False) -> dict[str, str]:
    """line id -> why ``--fix`` drops it (the first reason that applies). Always: lines with a
    missing or corrupt file, lines using a later copy of identical media, lines repeating an
    earlier instruction about the same media; with ``near``, also near-duplicate media and
    near-duplicate instructions."""
    reasons: dict[str, str] = {}
    groups = [("missing file", report.missing), ("corrupt file", report.corrupt),
              ("duplicate media", report.exact_duplicates)]
    if near:
        groups.append(("near-duplicate media", report.near_duplicates))
    for reason, found in groups:
        for group in found:
            for line in group.lines:
                reasons.setdefault(line, reason)
    for dup in report.duplicate_instructions:
        if dup.exact or near:
            reasons.setdefault(dup.line, "duplicate instruction" if dup.exact
                               else "near-duplicate instruction")
    return reasons


def write_fixed(report: QualityReport, out: str | Path, root: str | Path | None = None,
                near: bool = False) -> FixSummary:
    """Write the lines of ``report.manifest`` that :func:`drop_reasons` keeps to ``out``.

    Kept lines are copied byte for byte when ``out`` sits where relative media paths still
    resolve (the manifest's root); elsewhere their relative paths are rewritten to point at
    the same files. Refuses to write over the manifest itself.
    """
    manifest, out = Path(report.manifest), Path(out)
    if out.resolve() == manifest.resolve():
        raise XalignError(f"--fix {out} is the manifest itself; the original is never "
                          f"overwritten: choose another file")
    base = Path(root) if root is not None else manifest.parent
    ids = [item.id for item in ManifestSource(manifest, root=root).items]
    with manifest.open(encoding="utf-8", newline="") as f:  # newline="": keep line endings
        raw = [line for line in f if line.strip()]
    if len(raw) != len(ids):
        raise XalignError(f"{manifest} changed while it was being checked; run the check again")
    reasons = drop_reasons(report, near)
    same_root = out.parent.resolve() == base.resolve()
    summary = FixSummary(out=out, kept=0)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as f:
        for item_id, line in zip(ids, raw, strict=True):
            if item_id in reasons:
                summary.dropped.setdefault(reasons[item_id], []).append(item_id)
                continue
            f.write(line if same_root else _rebased(line, base, out.parent))
            summary.kept += 1
    os.replace(tmp, out)
    return summary


def _rebased(line: str, base: Path, target: Path) -> str:
    record = json.loads(line)
    media = record["media"]
    entries = media.values() if isinstance(media, dict) else [m["path"] for m in media]
    moved = {p: _relative(p, base, target) for p in entries}
    if isinstance(media, dict):
        record["media"] = {k: moved[v] for k, v in media.items()}
    else:
        record["media"] = [{**m, "path": moved[m["path"]]} for m in media]
    return json.dumps(record, ensure_ascii=False) + "\n"


def _relative(path: str, base: Path, target: Path) -> str:
    p = Path(path).expanduser()
    if p.is_absolute():
        return path
    return Path(os.path.relpath((base / p).resolve(), target.resolve())).as_posix()
