"""Registers the ``audio`` modality and its encoders with xalign (entry point ``xalign: audio``).

Every encoder owns its input: the tiny one and BEATs read the DESIGN §2 Kaldi fbank
windows (:mod:`.preprocess`), AST, Whisper and CLAP their own feature extractors'
output (:mod:`.encoders.features`). Heavy modules import on first call (:func:`xalign.lazy`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from xalign import Encoder, Modality, hookimpl, lazy
from xalign_plugin_audio.encoders import is_beats_checkpoint
from xalign_plugin_audio.formats import ATTRIBUTES, EXCLUSIVE, EXTENSIONS, QUESTIONS

FBANK_WINDOWS = lazy("xalign_plugin_audio.preprocess:preprocess")
HF = lazy("xalign_plugin_audio.encoders.hf_audio:build_hf_encoder")

MODALITY = Modality(
    name="audio",
    cue=" audio: ",
    extensions=EXTENSIONS,
    load=lazy("xalign_plugin_audio.loading:load"),
    write=lazy("xalign_plugin_audio.synthetic:write"),
    synthesize=lazy("xalign_plugin_audio.synthetic:synthesize"),
    attributes=ATTRIBUTES,
    questions=QUESTIONS,
    exclusive=EXCLUSIVE,
    frames=2,
    encoder="tiny",
    description="Mono 16 kHz audio (wav/flac/ogg/mp3/aac/m4a, or the audio track of "
                "mp4/mov/mkv/webm); each encoder computes its own features.",
)

ENCODERS = (
    Encoder(id="tiny", modality="audio", family="tiny",
            build=lazy("xalign_plugin_audio.encoders.tiny_pretrained:"
                       "build_pretrained_tiny_encoder"),
            preprocess=FBANK_WINDOWS, feature_dim=256, tokens_per_frame=16, stand_in=True,
            aliases=("xalign-audio-tiny-pretrained-1",),
            description="pretrained on the synthetic world (media-caption contrastive, "
                        "one objective for every modality): the default"),
    Encoder(id="tiny-designed", modality="audio", family="tiny",
            build=lazy("xalign_plugin_audio.encoders.tiny:build_tiny_encoder"),
            preprocess=FBANK_WINDOWS, feature_dim=256, tokens_per_frame=3, stand_in=True,
            aliases=("xalign-audio-tiny-3",),
            description="opt-in baseline, designed for the synthetic attributes: "
                        "seeded fbank-patch transformer: pool, flux and onset-count tokens"),
    Encoder(id="beats", modality="audio", family="beats",
            build=lazy("xalign_plugin_audio.encoders.beats:build_beats_encoder"),
            preprocess=FBANK_WINDOWS, feature_dim=768, tokens_per_frame=256,
            matches=is_beats_checkpoint, aliases=("beats:",),
            description="BEATs iter3+ (official .pt checkpoint); Kaldi fbank as DESIGN §2"),
    Encoder(id="ast", modality="audio", family="ast", build=partial(HF, "ast"),
            preprocess=lazy("xalign_plugin_audio.encoders.features:ast_features"),
            feature_dim=768, tokens_per_frame=1214,
            weights="MIT/ast-finetuned-audioset-10-10-0.4593",
            aliases=("audio-spectrogram-transformer:",),
            description="Audio Spectrogram Transformer, ASTFeatureExtractor input"),
    Encoder(id="whisper", modality="audio", family="whisper", build=partial(HF, "whisper"),
            preprocess=lazy("xalign_plugin_audio.encoders.features:whisper_features"),
            feature_dim=512, tokens_per_frame=1500, weights="openai/whisper-base",
            aliases=("whisper:",),
            description="Whisper base encoder, WhisperFeatureExtractor input (30 s)"),
    Encoder(id="clap", modality="audio", family="clap", build=partial(HF, "clap"),
            preprocess=lazy("xalign_plugin_audio.encoders.features:clap_features"),
            feature_dim=768, tokens_per_frame=64, weights="laion/clap-htsat-unfused",
            aliases=("clap:", "clap_audio_model:"),
            description="CLAP HTSAT audio tower, ClapFeatureExtractor input (48 kHz, 10 s)"),
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    for encoder in ENCODERS:
        register(encoder)
