"""Projectors get back the encoder they were trained on, by its recorded id; ids recorded by
earlier releases map onto the registered encoders (the old-id map)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from xalign.errors import CheckpointError, UnknownNameError
from xalign.pipeline import build_encoders
from xalign.projectors import ProjectorConfig, build_projector, load_projector
from xalign.registry import get_registry

OLD = Path(__file__).parent / "data" / "projectors_v0"
# ids the built-in tiny encoders recorded before encoders were registered components
OLD_IDS = {"image": "xalign-image-tiny-2", "video": "xalign-video-tiny-2",
           "audio": "xalign-audio-tiny-3", "3d": "xalign-3d-tiny-3"}


@pytest.mark.parametrize("name", ["image", "video", "audio", "3d"])
def test_recorded_ids_resolve_to_the_tiny_encoder(name: str) -> None:
    """"tiny" is the pretrained default; the designed encoder of earlier releases is kept as
    "tiny-designed", and the ids those releases recorded resolve to it."""
    registry = get_registry()
    designed = registry.resolve(name, OLD_IDS[name])[0].id  # "tiny-designed" once replaced
    for encoder_id, registered in (("tiny", "tiny"), (OLD_IDS[name], designed)):
        tiny = registry.encoder(name, registered)
        config = ProjectorConfig(kind="linear", modality=name, feature_dim=tiny.feature_dim,
                                 llm_dim=8, num_tokens=1, encoder_id=encoder_id)
        encoders = build_encoders({name: build_projector(config)})
        assert encoders[name].spec is tiny and encoders[name].encoder_id == registered


@pytest.mark.parametrize(("name", "kind"), [("audio", "linear"), ("3d", "mlp")])
def test_a_projector_saved_by_the_previous_release_loads(name: str, kind: str) -> None:
    """tests/data/projectors_v0 was written by the code before this redesign (git 652bcfb)."""
    projector = load_projector(OLD / name, llm_dim=64)
    assert projector.config.kind == kind and projector.config.encoder_id == OLD_IDS[name]
    saved = torch.load(OLD / f"{name}_io.pt", weights_only=True)
    with torch.no_grad():  # float32's default tolerance: another CPU sums in another order
        torch.testing.assert_close(projector(saved["input"], None, None), saved["output"])
    encoder = build_encoders({name: projector})[name]
    assert encoder.spec.key == f"{name}/tiny-designed" and encoder.feature_dim == 256


def test_older_pretrained_ids_carry_their_weights() -> None:
    """Earlier releases recorded pretrained encoders as ``family:source``."""
    registry = get_registry()
    assert registry.resolve("audio", "beats:/ckpt/BEATs_iter3.pt") == (
        registry.encoder("audio", "beats"), "/ckpt/BEATs_iter3.pt")
    assert registry.resolve("audio", "audio-spectrogram-transformer:MIT/ast")[0].id == "ast"
    assert registry.resolve("3d", "ulip2-pointbert:/ckpt/u.pt")[0].id == "ulip2-pointbert"
    # image encoders recorded their hub id
    assert registry.resolve("image", "Salesforce/instructblip-vicuna-7b") == (
        registry.encoder("image", "eva-clip-g"), None)


def test_feature_width_mismatch_is_reported() -> None:
    config = ProjectorConfig(kind="linear", modality="image", feature_dim=7, llm_dim=8,
                             num_tokens=1)
    with pytest.raises(CheckpointError, match="7-d features"):
        build_encoders({"image": build_projector(config)})


@pytest.mark.parametrize(("name", "old_id"), [("audio", "xalign-audio-tiny-2"),
                                              ("3d", "xalign-3d-tiny-2")])
def test_a_projector_trained_on_an_older_tiny_layout_is_refused(name: str, old_id: str) -> None:
    """Audio and 3D tiny encoders gained a token (layout -3): older projectors must not load."""
    config = ProjectorConfig(kind="linear", modality=name, feature_dim=256,
                             llm_dim=8, num_tokens=1, encoder_id=old_id)
    with pytest.raises(UnknownNameError, match=f"{old_id}.*{name}-tiny-3"):
        build_encoders({name: build_projector(config)})
