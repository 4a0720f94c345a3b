"""Corrupt media: every plugin rejects each planted bad file with a MediaError naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.faults.corrupt_media import all_cases
from xalign.errors import MediaError
from xalign.featurize import featurize_file
from xalign.registry import get_registry

MODALITIES = ["image", "video", "audio", "3d"]
OTHER = {"image": "audio", "video": "image", "audio": "3d", "3d": "image"}


@pytest.mark.parametrize("name", MODALITIES)
def test_bad_files_are_caught_and_named(name: str, tmp_path: Path) -> None:
    registry = get_registry()
    modality, other = registry.get(name), registry.get(OTHER[name])
    encoder = registry.build_encoder(name)
    cases = all_cases(modality, other, tmp_path)
    planted = [c for c in cases if c.bad]
    caught, wrongly_rejected, missed = [], [], []
    for case in cases:
        try:
            features = featurize_file(modality, encoder, case.path)
        except MediaError as exc:
            assert case.path.name in str(exc), f"error does not name the file: {exc}"
            (caught if case.bad else wrongly_rejected).append(f"{case.name}: {exc.reason}")
            continue
        if case.bad:
            missed.append(case.name)
        else:
            assert features.isfinite().all(), case.name
    print(f"{name}: planted {len(planted)} bad files, caught {len(caught)}")
    assert missed == [], f"bad files loaded without error: {missed}"
    assert wrongly_rejected == [], f"valid files rejected: {wrongly_rejected}"
    assert len(caught) == len(planted)
