"""An in-process fake plugin for the data-layer tests (two tiny modalities), and its checks.

Other ``tests/test_data_*.py`` files import ``fake_registry`` / ``model_api`` from here.
"""

from __future__ import annotations

import sys
import types
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from xalign import hookimpl
from xalign.encoders import FrozenEncoder, seeded
from xalign.encoders.component import Encoder
from xalign.errors import MediaError
from xalign.media import check_file
from xalign.modality import Modality, SyntheticSample
from xalign.registry import PluginInfo, Registry, reset_registry

CALLS: Counter[str] = Counter()  # how often load / preprocess ran, per modality
BLOB_ATTRIBUTES = {"colour": ("red", "green", "blue"), "shape_size": ("small", "large")}


def _load(name: str) -> Any:
    def load(path: Path) -> np.ndarray:
        CALLS[f"{name}.load"] += 1
        path = check_file(path, (".npy",))
        try:
            return np.load(path, allow_pickle=False)
        except Exception as exc:
            raise MediaError(path, f"not a numpy file: {exc}") from exc
    return load


def _preprocess(name: str) -> Any:
    def preprocess(raw: np.ndarray, train: bool) -> torch.Tensor:
        CALLS[f"{name}.preprocess"] += 1
        x = torch.as_tensor(np.asarray(raw, dtype=np.float32)).reshape(1, 8)
        return x + 0.5 * torch.randn_like(x) if train else x  # train-time "augmentation"
    return preprocess


class _Backbone(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x).reshape(x.shape[0], 2, 4)


def _encoder(name: str) -> Any:
    def build(source: str | None) -> FrozenEncoder:
        with seeded(0 if source is None else len(source) + 1):
            return FrozenEncoder(_Backbone(), 4, f"{name}-tiny")
    return build


def _synthesize(seed: int) -> SyntheticSample:
    rng = np.random.default_rng(seed)
    colour = str(rng.choice(BLOB_ATTRIBUTES["colour"]))
    size = str(rng.choice(BLOB_ATTRIBUTES["shape_size"]))
    raw = rng.normal(size=8).astype(np.float32)
    return SyntheticSample(raw=raw, caption=f"a {size} {colour} blob",
                           attributes={"colour": colour, "shape_size": size},
                           quantities={"mass": float(rng.random())})


def _synthesize_plain(seed: int) -> SyntheticSample:
    raw = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    return SyntheticSample(raw=raw, caption=f"a hum number {seed}", attributes={})


def _write(raw: np.ndarray, path: Path) -> Path:
    path = Path(path).with_suffix(".npy")
    np.save(path, raw)
    return path


def make(name: str, synthesize: Any, attributes: dict[str, tuple[str, ...]]) -> Modality:
    return Modality(name=name, cue=f" {name}: ", extensions=(".npy",), load=_load(name),
                    synthesize=synthesize, write=_write, attributes=attributes)


def make_encoder(name: str) -> Encoder:
    return Encoder(id="tiny", modality=name, family="tiny", build=_encoder(name),
                   preprocess=_preprocess(name), feature_dim=4, tokens_per_frame=2,
                   stand_in=True)


class FakePlugin:
    @hookimpl
    def register_modalities(self, register: Any) -> None:
        register(make("blob", _synthesize, BLOB_ATTRIBUTES))
        register(make("hum", _synthesize_plain, {}))

    @hookimpl
    def register_encoders(self, register: Any) -> None:
        register(make_encoder("blob"))
        register(make_encoder("hum"))


def fake_registry_with(version: str = "1.0") -> Registry:
    registry = Registry(strict=True)
    registry.add_plugin(FakePlugin(), PluginInfo("fake", "xalign-plugin-fake", version))
    return registry


@pytest.fixture
def fake_registry() -> Any:
    registry = fake_registry_with()
    reset_registry(registry)
    CALLS.clear()
    yield registry
    reset_registry(None)


@dataclass
class _MediaFeatures:
    modality: str
    features: torch.Tensor


@dataclass
class _Example:
    media: list
    instruction: str
    target: str | None
    qformer_prompt: str | None = None


@pytest.fixture
def model_api(monkeypatch: pytest.MonkeyPatch) -> Any:
    """``xalign.model`` when it exists, else a stand-in with its documented Example API."""
    try:
        import xalign.model as model
    except ImportError:
        model = types.ModuleType("xalign.model")
        model.Example, model.MediaFeatures = _Example, _MediaFeatures
        monkeypatch.setitem(sys.modules, "xalign.model", model)
    return model


def test_fake_plugin_round_trip(fake_registry: Registry, tmp_path: Path) -> None:
    blob = fake_registry.get("blob")
    sample = blob.synthesize(5)
    path = blob.write(sample.raw, tmp_path / "x")
    assert np.array_equal(blob.load(path), sample.raw)
    encoder = fake_registry.build_encoder("blob")
    assert encoder(encoder.spec.preprocess(sample.raw, False)).shape == (1, 2, 4)
    assert fake_registry.plugins["fake"].version == "1.0"
