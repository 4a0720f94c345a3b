"""The image plugin as the host sees it: entry point, Modality fields, featurize a file."""

from __future__ import annotations

from pathlib import Path

from xalign_plugin_image import plugin
from xalign_plugin_image.encoders.tiny_pretrained import WEIGHTS_DIR

from xalign.featurize import featurize_file
from xalign.registry import Registry


def test_entry_point_registers_the_image_modality() -> None:
    registry = Registry(strict=False).discover()  # others may be broken; image must not be
    assert registry.plugins["image"].status == "ok"
    assert registry.plugins["image"].distribution == "xalign-plugin-image"
    assert registry.get("image") is plugin.MODALITY


def test_modality_fields_match_the_contract(tmp_path: Path) -> None:
    modality = plugin.MODALITY
    assert modality.name == "image" and modality.cue == " image: " and modality.frames == 1
    assert {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif"} == set(modality.extensions)
    assert modality.encoder == plugin.TINY.id == "tiny"
    encoder = plugin.TINY.instantiate()
    assert encoder.feature_dim == plugin.TINY.feature_dim == 256
    sample = modality.synthesize(0)
    assert set(sample.attributes) == set(modality.attributes)
    path = modality.write(sample.raw, tmp_path / "item")
    assert modality.accepts(path)
    features = featurize_file(modality, encoder, path)
    assert features.shape == (1, 8, 256)


def test_the_default_is_the_pretrained_encoder_and_old_names_still_resolve() -> None:
    """``tiny`` is the shipped pretrained encoder (its weights' digest in its id); the name it
    had while opt-in and the seeded encoder's recorded id resolve to what they meant."""
    registry = Registry(strict=False).discover()
    assert registry.resolve("image", None)[0].id == "tiny"
    for old in ("tiny-pretrained", "xalign-image-tiny-pretrained-1"):
        assert registry.resolve("image", old)[0].id == "tiny"
    assert registry.resolve("image", "xalign-image-tiny-2")[0].id == "tiny-designed"
    card = (WEIGHTS_DIR / "MODEL_CARD.md").read_text(encoding="utf-8")
    encoder = plugin.TINY.instantiate()
    assert encoder.weights_digest and f"`{encoder.weights_digest}" in card
