"""The video plugin as the host sees it, and its reuse of the image plugin's encoder."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from xalign_plugin_image.plugin import DESIGNED as IMAGE_SEEDED
from xalign_plugin_image.towers import TOWERS
from xalign_plugin_video import plugin
from xalign_plugin_video.sampling import FRAMES_ENV

from xalign.errors import CheckpointError
from xalign.featurize import featurize_file
from xalign.registry import Registry


def test_entry_point_registers_the_video_modality() -> None:
    registry = Registry(strict=False).discover()  # others may be broken; video must not be
    assert registry.plugins["video"].status == "ok"
    assert registry.plugins["video"].distribution == "xalign-plugin-video"
    assert registry.get("video").name == "video"


def test_modality_fields_and_featurize(tmp_path: Path) -> None:
    modality = plugin.make_modality()
    assert modality.name == "video" and modality.cue == " video: " and modality.frames == 5
    assert set(modality.extensions) == {".mp4", ".avi", ".mov", ".mkv", ".webm", ".gif"}
    tiny = plugin.encoders()[0]
    assert (tiny.id, tiny.feature_dim) == ("tiny", IMAGE_SEEDED.feature_dim)
    sample = modality.synthesize(0)
    assert set(sample.attributes) == set(modality.attributes)
    path = modality.write(sample.raw, tmp_path / "clip")
    features = featurize_file(modality, tiny.instantiate(), path)
    assert features.shape == (5, 2, 256)


def test_default_encoder_is_the_seeded_image_encoder_plus_motion() -> None:
    """Per frame the image plugin's seeded encoder (its default of earlier releases)."""
    tiny = plugin.encoders()[0]
    video, image = tiny.instantiate(), IMAGE_SEEDED.instantiate()
    for (name, a), b in zip(video.state_dict().items(), image.state_dict().values(),
                            strict=True):
        assert torch.equal(a, b), name
    clip = tiny.preprocess(plugin.make_modality().synthesize(3).raw, False)
    with torch.no_grad():
        per_frame, features = image(clip), video(clip)
    assert torch.equal(features[:, :1], per_frame)  # each frame: the image encoder's token
    motion = per_frame[-1] - per_frame[0]  # then the clip's motion, the same for every frame
    assert all(torch.equal(frame[1:], motion) for frame in features)


def test_every_image_tower_is_a_video_encoder_with_its_transform() -> None:
    ids = [e.id for e in plugin.encoders()]
    assert ids[:2] == ["tiny", "tiny-pretrained"] and set(ids[2:]) == set(TOWERS)
    clip = plugin.make_modality().synthesize(3).raw
    siglip = next(e for e in plugin.encoders() if e.id == "siglip-base")
    frames = siglip.preprocess(clip, False)
    assert frames.shape == (5, 3, 224, 224)
    assert frames.min() >= -1.0 and frames.max() <= 1.0  # SigLIP's [-1, 1], not CLIP's norm
    with pytest.raises(CheckpointError, match="'/nonexistent/tower' is neither a local directory"):
        siglip.instantiate("/nonexistent/tower")


def test_frames_follow_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FRAMES_ENV, "4")  # the 13b model's setting
    modality = plugin.make_modality()
    assert modality.frames == 4
    assert plugin.encoders()[0].preprocess(modality.synthesize(0).raw, False).shape[0] == 4
