"""The 3D plugin as the host sees it: entry point, Modality fields, featurize a file."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from xalign_plugin_3d import plugin

from xalign.errors import MediaError
from xalign.featurize import featurize_file
from xalign.registry import Registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    tomllib = pytest.importorskip("tomli")

PYPROJECT = Path(__file__).resolve().parents[1] / "plugins" / "xalign-plugin-3d" / "pyproject.toml"


def test_pyproject_declares_the_entry_point_and_open3d() -> None:
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    assert project["name"] == "xalign-plugin-3d"
    assert project["entry-points"]["xalign"] == {"3d": "xalign_plugin_3d.plugin"}
    names = {dep.split(">")[0].split("=")[0].strip() for dep in project["dependencies"]}
    assert {"xalign", "open3d-cpu", "numpy", "torch"} <= names


def test_entry_point_registers_the_3d_modality() -> None:
    registry = Registry(strict=False).discover()  # others may be broken; 3d must not be
    assert registry.plugins["3d"].status == "ok"
    assert registry.plugins["3d"].distribution == "xalign-plugin-3d"
    assert registry.get("3d") is plugin.MODALITY


def test_modality_fields_and_featurize_a_written_item(tmp_path: Path) -> None:
    modality = plugin.MODALITY
    assert (modality.name, modality.cue, modality.frames) == ("3d", " 3d: ", 1)
    assert set(modality.extensions) == {".ply", ".pcd", ".obj", ".off", ".npy", ".npz", ".xyz",
                                        ".txt"}
    assert modality.encoder == "tiny"
    assert [e.id for e in plugin.ENCODERS] == ["tiny", "tiny-designed", "ulip2-pointbert"]
    encoder = plugin.ENCODERS[0].instantiate()
    assert encoder.feature_dim == plugin.ENCODERS[0].feature_dim == 256
    sample = modality.synthesize(3)
    assert set(sample.attributes) == set(modality.attributes)
    assert {"size", "height"} == set(sample.quantities)
    path = modality.write(sample.raw, tmp_path / "item")
    assert modality.accepts(path)
    features = featurize_file(modality, encoder, path)
    assert features.shape == (1, 8, 256) and features.isfinite().all()


def test_featurize_file_names_a_bad_file(tmp_path: Path) -> None:
    path = tmp_path / "nan_cloud.npy"
    np.save(path, np.array([[0.0, 0, 0], [np.nan, 0, 1], [1, 1, 1]]))
    modality = plugin.MODALITY
    with pytest.raises(MediaError, match=r"nan_cloud\.npy.*NaN"):
        featurize_file(modality, plugin.ENCODERS[0].instantiate(), path)
