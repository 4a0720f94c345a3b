"""The pretrained vision towers this plugin registers, and their reference input transforms.

Light on purpose (no torch, no transformers): the plugin's registration reads it. Each
tower's :class:`Transform` is what its model's own image processor does on the PIL path
(the values of the hub checkpoint's ``preprocessor_config.json``);
``tests/test_image_parity.py`` checks :func:`xalign_plugin_image.transforms.apply` against
transformers' processor on decoded JPEG/PNG files.
"""

from __future__ import annotations

from dataclasses import dataclass

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
HALF = (0.5, 0.5, 0.5)


@dataclass(frozen=True)
class Transform:
    """Resize (shortest edge to ``resize``, or to ``resize``×``resize`` when ``square``),
    centre-crop to ``crop``, bicubic, scale to [0, 1], normalise with ``mean``/``std``."""

    resize: int
    crop: int
    square: bool
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    processor: str  # the transformers class whose PIL path this reproduces


@dataclass(frozen=True)
class Tower:
    id: str
    family: str
    weights: str  # hub id of the default weights
    feature_dim: int
    tokens: int
    transform: Transform
    description: str


_CLIP = Transform(224, 224, False, CLIP_MEAN, CLIP_STD, "CLIPImageProcessor")
_CLIP_336 = Transform(336, 336, False, CLIP_MEAN, CLIP_STD, "CLIPImageProcessor")
_SIGLIP = Transform(224, 224, True, HALF, HALF, "SiglipImageProcessor")
_BLIP = Transform(224, 224, True, CLIP_MEAN, CLIP_STD, "BlipImageProcessor")

TOWERS: dict[str, Tower] = {t.id: t for t in (
    Tower("eva-clip-g", "eva-clip", "Salesforce/instructblip-vicuna-7b", 1408, 257, _BLIP,
          "EVA-CLIP ViT-g/14, the InstructBLIP vision tower (DESIGN §3), before ln_vision"),
    Tower("blip2-vit-g", "blip-2", "Salesforce/blip2-opt-2.7b", 1408, 257, _BLIP,
          "EVA-CLIP ViT-g/14 as trained in BLIP-2, before ln_vision"),
    Tower("clip-vit-l-14", "clip", "openai/clip-vit-large-patch14", 1024, 257, _CLIP,
          "CLIP ViT-L/14 at 224 px"),
    Tower("clip-vit-l-14-336", "clip", "openai/clip-vit-large-patch14-336", 1024, 577,
          _CLIP_336, "CLIP ViT-L/14 at 336 px (LLaVA)"),
    Tower("siglip-base", "siglip", "google/siglip-base-patch16-224", 768, 196, _SIGLIP,
          "SigLIP ViT-B/16 at 224 px"),
)}
