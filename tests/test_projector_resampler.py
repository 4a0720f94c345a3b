"""Projector kinds register through the register_projectors hook: the perceiver resampler
(the core's, registered like a plugin's) and a fixture plugin's kind; the resampler trains
through ``xalign train ... projector.kind=resampler``."""

from __future__ import annotations

import importlib.metadata as md
import json
import sys
from pathlib import Path

import pytest
import torch

from tests.train_tiny import shared_tiny_llm
from xalign.projectors import ProjectorConfig, build_projector, load_projector
from xalign.projectors.resampler import ResamplerProjector
from xalign.registry import Registry, get_registry, reset_registry


def config(**overrides: object) -> ProjectorConfig:
    values = dict(kind="resampler", modality="image", feature_dim=24, llm_dim=16, num_tokens=5)
    return ProjectorConfig(**{**values, **overrides})


def test_resampler_is_registered_through_the_hook() -> None:
    kind = get_registry().projectors["resampler"]
    assert kind.plugin == "xalign" and kind.target == (
        "xalign.projectors.resampler:ResamplerProjector")
    assert isinstance(build_projector(config()), ResamplerProjector)


def test_latents_cross_attend_to_the_features(tmp_path: Path) -> None:
    torch.manual_seed(0)
    projector = build_projector(config())
    features = torch.randn(3, 7, 24)
    tokens = projector(features)
    assert tokens.shape == (3, 5, 16)
    # K tokens whatever T, and each item's tokens depend on its own features only
    assert projector(features[:, :2]).shape == (3, 5, 16)
    changed = features.clone()
    changed[1] += 1.0
    moved = (projector(changed) - tokens).abs().amax(dim=(1, 2))
    assert moved[1] > 1e-3 and moved[0] == 0 and moved[2] == 0
    tokens.sum().backward()
    assert projector.latents.grad is not None and projector.latents.grad.abs().sum() > 0
    saved = projector.save_pretrained(tmp_path / "p")
    again = load_projector(saved)
    torch.testing.assert_close(again(features), projector.eval()(features))


def test_a_plugin_adds_a_projector_kind() -> None:
    entry = md.EntryPoint(name="kinds", value="tests.fixture_plugins.projector_kind",
                          group="xalign")
    registry = Registry(strict=True).discover([entry])
    assert registry.plugins["kinds"].projectors == ["doubling"]
    assert registry.projectors["doubling"].plugin == "kinds"
    reset_registry(registry)
    try:
        projector = build_projector(config(kind="doubling", feature_dim=16))
        assert torch.equal(projector(torch.ones(2, 3, 16)), torch.full((2, 5, 16), 2.0))
    finally:
        reset_registry(None)


def test_xalign_train_with_a_resampler(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       capsys: pytest.CaptureFixture) -> None:
    from xalign.cli.main import main

    run = tmp_path / "run"
    args = ["xalign", "train", "--modality", "image", "projector.kind=resampler",
            "projector.num_tokens=4", f"llm.source={shared_tiny_llm()}", "--out", str(run),
            "--no-progress", "schedule.max_steps=3", "schedule.batch_size=2",
            "data.sources.0.size=6", "eval.val_size=0", "eval.test_size=0",
            "cache.enabled=false", "checkpoint.every=0"]
    monkeypatch.setattr(sys, "argv", args)
    try:
        main()
    except SystemExit as exc:
        assert not exc.code, capsys.readouterr().err
    saved = json.loads((run / "projector" / "config.json").read_text())
    assert (saved["kind"], saved["num_tokens"], saved["encoder_id"]) == ("resampler", 4, "tiny")
    assert json.loads((run / "summary.json").read_text())["steps"] == 3
    assert isinstance(load_projector(run / "projector"), ResamplerProjector)
