"""``xalign plugins new NAME``: write a working third-party plugin package.

The generated modality reads 1-D signals stored as ``.npy`` files; it is a
complete, tested starting point that a plugin author edits into their own
modality (see docs/plugins.md).
"""

from __future__ import annotations

import re
from pathlib import Path

from xalign.errors import XalignError

_PYPROJECT = '''\
[build-system]
requires = ["setuptools>=68"]
build-backend = "setuptools.build_meta"

[project]
name = "{dist}"
version = "0.1.0"
description = "xalign modality plugin: {name}"
requires-python = ">=3.10"
dependencies = ["xalign", "numpy"]

[project.entry-points.xalign]
{name} = "{package}.plugin"

[tool.setuptools.packages.find]
include = ["{package}*"]
'''

_PLUGIN = '''\
"""The {name!r} modality: 1-D signals stored as .npy files.

Edit `load`, `preprocess`, `TinySignalEncoder` and `synthesize` for your data;
keep the names: the Modality below is all xalign needs.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import torch
from torch import nn

from xalign import MediaError, Modality, ProjectorDefaults, SyntheticSample, hookimpl
from xalign.encoders import FrozenEncoder
from xalign.encoders.tiny import build_tiny
from xalign.errors import UnknownNameError
from xalign.media import check_file

LENGTH = 256  # samples per item after preprocessing
PATCH = 16  # samples per encoder token
DIM = 64  # feature width of the tiny encoder
EXTENSIONS = (".npy",)
PITCHES = {{"low": 2.0, "high": 8.0}}


def load(path: Path) -> np.ndarray:
    """Read a 1-D float signal; every failure names the file."""
    path = check_file(path, EXTENSIONS)
    try:
        signal = np.load(path, allow_pickle=False)
    except Exception as exc:
        raise MediaError(path, f"not a readable .npy array ({{exc}})") from exc
    if signal.ndim != 1 or signal.size < 2:
        raise MediaError(path, f"expected a 1-D signal, got shape {{signal.shape}}")
    if not np.isfinite(signal).all():
        raise MediaError(path, "signal contains NaN or inf")
    return signal.astype(np.float32)


def preprocess(raw: np.ndarray, train: bool) -> torch.Tensor:
    """Crop (randomly when training) or pad to LENGTH; returns Tensor[1, LENGTH]."""
    signal = torch.as_tensor(raw, dtype=torch.float32)
    if signal.numel() > LENGTH:
        start = int(torch.randint(0, signal.numel() - LENGTH + 1, ())) if train else 0
        signal = signal[start:start + LENGTH]
    signal = nn.functional.pad(signal, (0, LENGTH - signal.numel()))
    return signal.unsqueeze(0)


class _Patchify(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.proj = nn.Linear(PATCH, DIM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x.reshape(x.shape[0], -1, PATCH))


def build_encoder(source: str | None) -> FrozenEncoder:
    """The built-in tiny encoder (random, seeded: not pretrained); its recorded id is "tiny"."""
    if source not in (None, "tiny"):
        raise UnknownNameError("{name} encoder", str(source), ["tiny"],
                               hint="this plugin only ships the built-in tiny encoder")
    return FrozenEncoder(build_tiny(_Patchify, DIM, seed=0), DIM, "tiny")


def synthesize(seed: int) -> SyntheticSample:
    """A sine wave whose pitch is the attribute to learn."""
    rng = np.random.default_rng(seed)
    pitch = ("low", "high")[seed % 2]
    t = np.linspace(0, 1, LENGTH, dtype=np.float32)
    signal = np.sin(2 * np.pi * PITCHES[pitch] * t + rng.uniform(0, np.pi)).astype(np.float32)
    return SyntheticSample(signal, f"a {{pitch}} pitched signal", {{"pitch": pitch}},
                           {{"speed": PITCHES[pitch] / 8.0}})


def write(raw: np.ndarray, path: Path) -> Path:
    path = Path(path).with_suffix(".npy")
    np.save(path, raw)
    return path


MODALITY = Modality(
    name={name!r},
    cue=" {name}: ",
    extensions=EXTENSIONS,
    load=load,
    preprocess=preprocess,
    build_encoder=build_encoder,
    feature_dim=DIM,
    synthesize=synthesize,
    write=write,
    attributes={{"pitch": tuple(PITCHES)}},
    projector=ProjectorDefaults(kind="qformer", num_query_tokens=8),
    description="1-D signals (.npy); replace with your modality",
)


@hookimpl
def register_modalities(register) -> None:
    register(MODALITY)


# A stable id for caches: changes when the preprocessing constants change.
SETTINGS_ID = zlib.crc32(f"{{LENGTH}}-{{PATCH}}-{{DIM}}".encode())
'''

_TEST = '''\
from pathlib import Path

import numpy as np
import pytest

from xalign import MediaError
from xalign.registry import Registry


def test_plugin_is_discovered_and_encodes(tmp_path: Path) -> None:
    registry = Registry(strict=True).discover()
    modality = registry.get({name!r})
    sample = modality.synthesize(1)
    path = modality.write(sample.raw, tmp_path / "item")
    tensor = modality.preprocess(modality.load(path), False)
    features = modality.build_encoder(None)(tensor)
    assert features.shape[0] == 1 and features.shape[-1] == modality.feature_dim


def test_bad_file_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.npy"
    bad.write_bytes(b"not numpy")
    modality = Registry().discover().get({name!r})
    with pytest.raises(MediaError, match="bad.npy"):
        modality.load(bad)
    np.save(tmp_path / "nan.npy", np.array([np.nan, 1.0]))
    with pytest.raises(MediaError, match="NaN"):
        modality.load(tmp_path / "nan.npy")
'''

_README = '''\
# {dist}

An xalign modality plugin for `{name}` (scaffolded by `xalign plugins new`).

    pip install -e .
    xalign plugins            # lists {name!r} as ok
    pytest tests

Edit `{package}/plugin.py`; docs: xalign's docs/plugins.md.
'''

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


def scaffold_plugin(name: str, directory: Path) -> Path:
    """Create ``xalign-plugin-NAME/`` under ``directory`` and return its path."""
    if not _NAME.match(name):
        raise XalignError(f"invalid plugin name {name!r}: use lower-case letters, digits and '_', "
                          "starting with a letter (e.g. 'eeg')")
    dist = f"xalign-plugin-{name.replace('_', '-')}"
    package = f"xalign_plugin_{name}"
    root = Path(directory) / dist
    if root.exists():
        raise XalignError(f"{root} already exists; choose another name or --dir")
    values = {"name": name, "dist": dist, "package": package}
    files = {
        "pyproject.toml": _PYPROJECT,
        "README.md": _README,
        f"{package}/__init__.py": '"""xalign modality plugin: {name}."""\n',
        f"{package}/plugin.py": _PLUGIN,
        "tests/test_plugin.py": _TEST,
    }
    for relative, template in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.format(**values), encoding="utf-8")
    return root
