"""Projectors trained on a plugin's built-in encoder get that encoder back at load time."""

from __future__ import annotations

import pytest

from xalign.errors import CheckpointError, UnknownNameError
from xalign.model import build_encoders
from xalign.projectors import ProjectorConfig, build_projector
from xalign.registry import get_modality


@pytest.mark.parametrize("name", ["image", "video", "audio", "3d"])
def test_builtin_encoder_id_resolves_to_the_builtin_encoder(name: str) -> None:
    modality = get_modality(name)
    recorded = modality.build_encoder(None).encoder_id  # what a training run writes
    for encoder_id in ("tiny", recorded):
        config = ProjectorConfig(kind="linear", modality=name, feature_dim=modality.feature_dim,
                                 llm_dim=8, num_tokens=1, encoder_id=encoder_id)
        encoders = build_encoders({name: build_projector(config)})
        assert encoders[name].encoder_id == recorded


def test_feature_width_mismatch_is_reported() -> None:
    config = ProjectorConfig(kind="linear", modality="image", feature_dim=7, llm_dim=8,
                             num_tokens=1)
    with pytest.raises(CheckpointError, match="7-d features"):
        build_encoders({"image": build_projector(config)})


@pytest.mark.parametrize(("name", "old_id"), [("audio", "xalign-audio-tiny-2"),
                                              ("3d", "xalign-3d-tiny-2")])
def test_a_projector_trained_on_an_older_tiny_layout_is_refused(name: str, old_id: str) -> None:
    """Audio and 3D tiny encoders gained a token (layout -3): old projectors must not load."""
    modality = get_modality(name)
    config = ProjectorConfig(kind="linear", modality=name, feature_dim=modality.feature_dim,
                             llm_dim=8, num_tokens=1, encoder_id=old_id)
    with pytest.raises(UnknownNameError, match=f"{old_id}.*{name}-tiny-3"):
        build_encoders({name: build_projector(config)})
