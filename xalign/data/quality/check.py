"""``check_manifest``: the whole data-quality report of one JSONL manifest."""

from __future__ import annotations

from pathlib import Path

from xalign.data.cache import FeatureCache
from xalign.data.manifest import ManifestSource

from .media import scan_media
from .report import QualityReport
from .text import answer_stats, balance, duplicate_instructions

NEAR_THRESHOLD = 0.985  # cosine; the tiny seeded encoders put distinct images up to ~0.98
NEAR_RELATIVE = 0.2  # ... and 5x closer than the median nearest-neighbour distance
INSTRUCTION_THRESHOLD = 90.0  # rapidfuzz ratio of normalised instructions


def check_manifest(manifest: str | Path, root: str | Path | None = None,
                   near: float | None = NEAR_THRESHOLD,
                   near_relative: float | None = NEAR_RELATIVE,
                   instruction_threshold: float = INSTRUCTION_THRESHOLD,
                   cache: FeatureCache | None = None) -> QualityReport:
    """Check every line and media file of ``manifest`` (format: docs/data.md).

    ``near=None`` skips feature-space near-duplicates (no encoder is built); a pair of files
    is a near-duplicate when the cosine of their pooled features is at least ``near`` and
    their distance at most ``near_relative`` times the median nearest-neighbour distance
    (``None``: the threshold alone). A manifest that
    does not parse raises ``ManifestError`` naming the line; an environment problem (a
    missing decoder) raises ``EnvironmentFault`` and no file is blamed.
    """
    source = ManifestSource(manifest, root=root)
    items = list(source.items)
    scan = scan_media(items, near, cache, near_relative)
    spread = balance(items)
    return QualityReport(
        manifest=str(manifest), lines=len(items),
        media_files=len({str(p) for item in items for _, p in item.media}),
        encoder=scan.encoders, near_threshold=near,
        near_relative=near_relative if near is not None else None,
        instruction_threshold=instruction_threshold,
        missing=scan.missing, corrupt=scan.corrupt, exact_duplicates=scan.exact,
        near_duplicates=scan.near,
        duplicate_instructions=duplicate_instructions(items, scan.digests,
                                                      instruction_threshold),
        answers=answer_stats(items), modalities=spread["modalities"], tasks=spread["tasks"],
        instructions=spread["instructions"], attributes=spread["attributes"],
        nearest_similarity=scan.nearest)
