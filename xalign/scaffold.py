"""``xalign plugins new NAME``: write a working third-party plugin package.

The generated modality reads 1-D signals stored as ``.npy`` files; it is the complete,
tested starting point that docs/plugins.md walks through, file by file: ``plugin.py``
(light: what xalign lists) registers the modality and its tiny encoder by reference to
``signal.py`` (the functions that need numpy and torch), and ``tests/test_plugin.py`` runs
``xalign plugins check`` on the installed package.
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
dependencies = ["xalign", "numpy", "torch"]

[project.optional-dependencies]
dev = ["pytest>=8"]

[project.entry-points.xalign]
{name} = "{package}.plugin"

[tool.setuptools.packages.find]
include = ["{package}*"]
'''

_PLUGIN = '''\
"""Registers the {name!r} modality and its built-in tiny encoder with xalign.

Keep this module light (no torch, no decoders): `xalign plugins` imports it to list the
plugin. Functions that need heavy imports live in `signal.py` and are named with `lazy`,
which imports them on first call.
"""

from __future__ import annotations

from collections.abc import Callable

from xalign import Encoder, Modality, hookimpl, lazy

EXTENSIONS = (".npy",)
ATTRIBUTES = {{"pitch": ("low", "high")}}  # closed vocabularies of the synthetic labels
DIM = 64  # feature width of the tiny encoder

MODALITY = Modality(
    name={name!r},
    cue=" {name}: ",
    extensions=EXTENSIONS,
    load=lazy("{package}.signal:load"),
    write=lazy("{package}.signal:write"),
    synthesize=lazy("{package}.signal:synthesize"),
    attributes=ATTRIBUTES,
    frames=1,
    encoder="tiny",
    description="1-D signals (.npy); replace with your modality",
)

TINY = Encoder(
    id="tiny",
    modality={name!r},
    family="tiny",
    build=lazy("{package}.signal:build_tiny_encoder"),
    preprocess=lazy("{package}.signal:preprocess"),
    feature_dim=DIM,
    tokens_per_frame=1,
    stand_in=True,
    description="seeded random patch transformer, pooled (not pretrained)",
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    register(TINY)
'''

_SIGNAL = '''\
"""The {name!r} modality's functions: load, write, synthesize, and the tiny encoder with its
preprocessing. Edit them for your data; `plugin.py` names them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from xalign import MediaError, SyntheticSample
from xalign.encoders import FrozenEncoder
from xalign.encoders.tiny import build_tiny
from xalign.errors import CheckpointError
from xalign.media import check_file
from {package}.plugin import DIM, EXTENSIONS

LENGTH = 256  # samples per item after preprocessing
PATCH = 16  # samples per encoder token
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


def write(raw: np.ndarray, path: Path) -> Path:
    path = Path(path).with_suffix(".npy")
    np.save(path, raw)
    return path


def synthesize(seed: int) -> SyntheticSample:
    """A sine wave whose pitch is the attribute to learn."""
    rng = np.random.default_rng(seed)
    pitch = ("low", "high")[seed % 2]
    t = np.linspace(0, 1, LENGTH, dtype=np.float32)
    signal = np.sin(2 * np.pi * PITCHES[pitch] * t + rng.uniform(0, np.pi)).astype(np.float32)
    return SyntheticSample(signal, f"a {{pitch}} pitched signal", {{"pitch": pitch}},
                           {{"speed": PITCHES[pitch] / 8.0}})


def preprocess(raw: np.ndarray, train: bool) -> torch.Tensor:
    """The tiny encoder's input: crop (randomly when training) or pad to LENGTH,
    ``Tensor[1, LENGTH]`` (one frame)."""
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


def build_tiny_encoder(source: str | None = None) -> FrozenEncoder:
    """The seeded tiny encoder (not pretrained): ``[N, LENGTH]`` -> ``[N, 1, DIM]``, the
    salient pool of its patch tokens."""
    if source is not None:
        raise CheckpointError(f"the tiny encoder is built from a seed, not {{source!r}}")
    return FrozenEncoder(build_tiny(_Patchify, DIM, seed=0, pool=True), DIM, "tiny")
'''

_TEST = '''\
from xalign.plugin_check import check_plugin


def test_the_plugin_contract_holds() -> None:
    """What `xalign plugins check {name}` runs: load/write round trip, preprocess shapes,
    encoder output width, synthesize determinism, MediaError on a bad file."""
    report = check_plugin({name!r})
    assert report.ok, "\\n".join(report.problems)
'''

_README = '''\
# {dist}

An xalign modality plugin for `{name}` (scaffolded by `xalign plugins new`).

    pip install -e '.[dev]'
    xalign plugins            # lists {name!r} with its encoder 'tiny'
    xalign plugins check {name}
    pytest tests

Edit `{package}/signal.py` (and the data in `plugin.py`); docs: xalign's docs/plugins.md.
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
        f"{package}/signal.py": _SIGNAL,
        "tests/test_plugin.py": _TEST,
    }
    for relative, template in files.items():
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(template.format(**values), encoding="utf-8")
    return root
