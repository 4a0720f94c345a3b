"""``xalign plugins``: fast (no torch, no transformers), per modality its encoders, projector
kinds; a third-party distribution adds an audio encoder without touching the audio plugin."""

from __future__ import annotations

import importlib.metadata as md
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from xalign.cli.plugins import listing
from xalign.featurize import featurize_file
from xalign.registry import Registry


def test_listing_imports_neither_torch_nor_transformers() -> None:
    run = subprocess.run([sys.executable, "-X", "importtime", "-m", "xalign", "plugins",
                          "--json"], capture_output=True, text=True, check=True)
    imported = {line.split("|")[-1].strip() for line in run.stderr.splitlines()
                if line.startswith("import time:")}
    heavy = sorted(m for m in imported if m.split(".")[0] in ("torch", "transformers"))
    assert heavy == [], heavy[:5]
    data = json.loads(run.stdout)
    rows = {row["name"]: row for row in data["modalities"]}
    for name in ("image", "video", "audio", "3d"):
        assert rows[name]["status"] == "ok" and rows[name]["default_encoder"] == "tiny"
        tiny = next(e for e in rows[name]["encoders"] if e["id"] == "tiny")
        assert (tiny["family"], tiny["kind"], tiny["plugin"]) == ("tiny", "stand-in", name)
    assert {"eva-clip-g", "siglip-base"} <= {e["id"] for e in rows["image"]["encoders"]}
    assert {"qformer", "linear", "mlp", "resampler"} <= {p["kind"] for p in data["projectors"]}


def test_a_third_party_adds_a_clap_encoder_to_audio(tmp_path: Path) -> None:
    registry = Registry(strict=True).discover([
        md.EntryPoint(name="audio", value="xalign_plugin_audio.plugin", group="xalign"),
        md.EntryPoint(name="clap_fixture", value="tests.fixture_plugins.clap_encoder",
                      group="xalign"),
    ])
    audio = next(r for r in listing(registry)["modalities"] if r["name"] == "audio")
    fixture = next(e for e in audio["encoders"] if e["id"] == "clap-fixture")
    assert (fixture["family"], fixture["plugin"]) == ("clap", "clap_fixture")
    assert registry.owner("audio/tiny") == "audio"  # the audio plugin's own are untouched
    path = tmp_path / "tone.wav"
    sf.write(path, 0.3 * np.sin(np.linspace(0, 2000, 16_000 * 2)).astype(np.float32), 16_000)
    features = featurize_file(registry.get("audio"),
                              registry.build_encoder("audio", "clap-fixture"), path)
    assert features.shape == (1, 8, 16) and features.isfinite().all()


def test_unknown_encoder_for_a_listed_modality_suggests_the_closest() -> None:
    registry = Registry(strict=True).discover([
        md.EntryPoint(name="audio", value="xalign_plugin_audio.plugin", group="xalign")])
    with pytest.raises(KeyError, match="did you mean 'beats'"):
        registry.encoder("audio", "beat")
