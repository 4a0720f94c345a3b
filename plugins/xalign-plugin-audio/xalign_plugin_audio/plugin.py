"""Registers the ``audio`` modality with xalign (entry point ``xalign: audio``)."""

from __future__ import annotations

from collections.abc import Callable

from xalign import hookimpl
from xalign.modality import Modality, ProjectorDefaults
from xalign_plugin_audio.encoders import ENCODERS, FEATURE_DIM, build_encoder
from xalign_plugin_audio.loading import EXTENSIONS, load
from xalign_plugin_audio.preprocess import NUM_WINDOWS, preprocess
from xalign_plugin_audio.synthetic import ATTRIBUTES, synthesize, write

MODALITY = Modality(
    name="audio",
    cue=" audio: ",
    extensions=EXTENSIONS,
    load=load,
    preprocess=preprocess,
    build_encoder=build_encoder,
    feature_dim=FEATURE_DIM,
    synthesize=synthesize,
    write=write,
    attributes=ATTRIBUTES,
    projector=ProjectorDefaults(),
    frames=NUM_WINDOWS,
    encoders=ENCODERS,
    description="Mono 16 kHz audio (wav/flac/ogg/mp3/aac/m4a, or the audio track of "
                "mp4/mov/mkv/webm), 128-bin Kaldi fbank in two 5-second windows.",
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)
