"""Image encoders: the built-in tiny one, or a transformers vision tower by path / hub id."""

from __future__ import annotations

from xalign.encoders import FrozenEncoder
from xalign_plugin_image.encoders.tiny import TINY_DIM, TINY_ID, build_tiny_encoder

# Short names for the paper-size and common towers (resolved on the hub: needs network).
ALIASES = {
    "eva-clip-g": "Salesforce/instructblip-vicuna-7b",  # 1408-d EVA-CLIP ViT-g/14 (DESIGN §3)
    "clip-vit-l-14": "openai/clip-vit-large-patch14",
    "siglip-base": "google/siglip-base-patch16-224",
}
ENCODERS = ("tiny", *ALIASES)


def build_encoder(source: str | None = None) -> FrozenEncoder:
    """``None`` / ``"tiny"`` / :data:`TINY_ID`: the seeded tiny encoder; an alias of
    :data:`ALIASES`; else a local directory or hub id of a CLIP, SigLIP, BLIP-2 or
    InstructBLIP checkpoint."""
    if source in (None, "tiny", TINY_ID):
        return build_tiny_encoder()
    from xalign_plugin_image.encoders.hf import build_hf_encoder  # transformers: import lazily

    return build_hf_encoder(ALIASES.get(source, source))


__all__ = ["ALIASES", "ENCODERS", "TINY_DIM", "TINY_ID", "build_encoder", "build_tiny_encoder"]
