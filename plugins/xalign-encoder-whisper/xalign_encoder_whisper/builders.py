"""One build function per registered encoder id (the registry references them lazily)."""

from __future__ import annotations

from xalign.encoders.frozen import FrozenEncoder
from xalign_encoder_whisper.encoder import build_whisper_encoder


def build_base(source: str | None = None) -> FrozenEncoder:
    return build_whisper_encoder("whisper-base", source)


def build_tiny_en(source: str | None = None) -> FrozenEncoder:
    return build_whisper_encoder("whisper-tiny.en", source)
