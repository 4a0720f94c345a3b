"""Media paths of DisCRn records, derived from sample ids and per-modality roots.

The released sets name files after their ids (DESIGN §4): AudioCaps clips
``<id>_<start>.flac`` / ``<id>_<start>.mp4``, Cap3D point clouds ``<id>/<id>_8192.npz``
and rendered views ``<id>_<view>.jpeg``. Patterns are templates with ``{id}``,
``{start}`` (whole seconds) and ``{view}``; ``--media-pattern`` overrides them, and a
modality without a pattern is looked up as ``<root>/<id>.<ext>`` for each of its
file extensions.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from xalign.data.skips import SkipReport
from xalign.errors import XalignError
from xalign.eval.discrn.records import DiscrnExample

DEFAULT_PATTERNS = {
    "audio": "{id}_{start}.flac",
    "video": "{id}_{start}.mp4",
    "3d": "{id}/{id}_8192.npz",
    "image": "{id}_{view}.jpeg",
}


def parse_assignments(values: Sequence[str], option: str) -> dict[str, str]:
    """``["audio=/data/a", ...]`` as a dict; errors name the option and the bad value."""
    out: dict[str, str] = {}
    for value in values:
        name, sep, rest = value.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise XalignError(f"{option} expects MODALITY=VALUE, got {value!r}")
        out[name.strip()] = rest.strip()
    return out


def candidate_paths(example: DiscrnExample, position: int, root: Path,
                    pattern: str | None, extensions: Sequence[str] = (), view: int = 2,
                    ) -> list[Path]:
    """Where the media of ``position`` may be, in order of preference."""
    sample_id = example.sample_ids[position]
    start = example.start_seconds[position] if example.start_seconds else None
    fields = {"id": sample_id, "start": "" if start is None else int(float(start)), "view": view}
    if pattern:
        return [root / pattern.format(**fields)]
    return [root / f"{sample_id}{ext}" for ext in extensions] or [root / sample_id]


def resolve_media(examples: Sequence[DiscrnExample], roots: Mapping[str, str | Path],
                  patterns: Mapping[str, str] | None = None,
                  extensions: Mapping[str, Sequence[str]] | None = None,
                  skips: SkipReport | None = None, view: int = 2) -> list[DiscrnExample]:
    """Examples whose media files exist, with ``media`` set to their paths.

    A modality without a root falls back to the paths a record names in ``media``.

    An example with a missing file is left out and recorded in ``skips`` (naming the
    file), never scored as wrong.
    """
    patterns = {**DEFAULT_PATTERNS, **(patterns or {})}
    extensions = extensions or {}
    needed = {m for ex in examples for pos, m in enumerate(ex.modalities) if ex.media[pos] is None}
    missing_roots = sorted(needed - set(roots))
    if missing_roots:
        raise XalignError("no media root for modality " + ", ".join(missing_roots) +
                          "; pass --media-root " + " --media-root ".join(
                              f"{m}=DIR" for m in missing_roots))
    kept = []
    for ex in examples:
        if skips is not None:
            skips.mark_seen()
        paths: list[Path] = []
        for pos, modality in enumerate(ex.modalities):
            if modality in roots:
                options = candidate_paths(ex, pos, Path(roots[modality]), patterns.get(modality),
                                          extensions.get(modality, ()), view)
            else:  # the record names its files
                options = [Path(ex.media[pos])]
            found = next((p for p in options if p.is_file()), None)
            if found is None:
                if skips is not None:
                    skips.add(ex.id, str(options[0]), f"{modality} file not found")
                break
            paths.append(found)
        else:
            kept.append(replace(ex, media=(paths[0], paths[1])))
    return kept
