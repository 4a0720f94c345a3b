"""``transformers`` audio encoders (AST, CLAP audio tower, Whisper encoder) behind our input.

Every adapter receives what the plugin's ``preprocess`` produces: normalised
128-bin Kaldi fbank windows ``[N, 512, 128]`` (5.12 s each). What each model gets:

* **AST** (``ASTModel``): its own front end *is* a Kaldi fbank (128 bins, Hanning,
  25/10 ms, computed on ±1 samples), so the input is exact: we undo the BEATs
  normalisation, shift from int16 to ±1 scale (− ln 2³⁰), zero-pad the time axis to
  ``config.max_length`` (as ``ASTFeatureExtractor`` pads before normalising) and apply
  AST's normalisation ``(x − mean) / (2 std)`` (from ``preprocessor_config.json`` when
  the model directory has one). Output: all AST tokens (2 + patches).
* **Whisper** (``WhisperModel``'s encoder): an approximate Whisper log-mel (80 or 128
  bins, see :mod:`.mel_remap`), ``log10``, clamped to 8 below the window's peak,
  ``(x + 4) / 4``; the time axis is padded with the clamp floor to the
  ``2 · max_source_positions`` frames Whisper requires (3000 = 30 s). Output: the
  first ``ceil(512 / 2)`` = 256 positions, those that cover the window.
* **CLAP** (``ClapModel``'s audio tower or ``ClapAudioModel``): an approximate CLAP
  log-mel (64 bins up to 14 kHz at 48 kHz; nothing above 8 kHz since our audio is
  16 kHz) in dB, padded with the −100 dB floor to CLAP's 10 s (1001 frames), as
  CLAP's ``repeatpad`` does for a clip over 5 s; four identical channels and
  ``is_longer=False`` for fusion models. Output: the final HTSAT feature map,
  flattened to tokens.

Whisper and CLAP see a re-mapped fbank, not features recomputed from the waveform,
because the plugin's preprocessing (and the feature cache) is shared by all encoders.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch
from torch import nn

from xalign.encoders import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign_plugin_audio.encoders.hf_inputs import ASTInput, ClapInput, WhisperInput
from xalign_plugin_audio.preprocess import FBANK

MODEL_TYPES = ("audio-spectrogram-transformer", "clap", "clap_audio_model", "whisper")


class ASTAdapter(nn.Module):
    def __init__(self, model: nn.Module, mean: float, std: float) -> None:
        super().__init__()
        self.model = model
        self.inputs = ASTInput(model.config.max_length, mean, std)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        inputs = self.inputs(windows).to(self.model.dtype)
        return self.model(input_values=inputs).last_hidden_state


class WhisperAdapter(nn.Module):
    def __init__(self, encoder: nn.Module, mel_filters: torch.Tensor) -> None:
        super().__init__()
        self.encoder = encoder
        stride = encoder.conv1.stride[0] * encoder.conv2.stride[0]
        self.stride = stride
        self.inputs = WhisperInput(mel_filters, encoder.config.max_source_positions * stride)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        features = self.inputs(windows).to(self.encoder.dtype)
        hidden = self.encoder(input_features=features).last_hidden_state
        covered = min(windows.shape[1], self.inputs.frames)
        return hidden[:, : math.ceil(covered / self.stride)]  # positions that cover real input


class ClapAdapter(nn.Module):
    def __init__(self, audio_model: nn.Module, extractor: object) -> None:
        super().__init__()
        self.audio_model = audio_model
        self.inputs = ClapInput(extractor, bool(audio_model.config.enable_fusion))

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        features = self.inputs(windows).to(self.audio_model.dtype)
        is_longer = None
        if self.inputs.fusion:
            is_longer = torch.zeros(features.shape[0], 1, dtype=torch.bool, device=features.device)
        out = self.audio_model(input_features=features, is_longer=is_longer).last_hidden_state
        return out.flatten(2).transpose(1, 2)  # [N, C, F, T] -> [N, F·T, C]


def _extractor(cls: type, source: str, **defaults: object) -> object:
    """The model's own feature-extractor settings when it ships them, else the defaults."""
    local = Path(source)
    if local.is_dir() and not (local / "preprocessor_config.json").exists():
        return cls(**defaults)
    try:
        return cls.from_pretrained(source)
    except (OSError, ValueError):
        return cls(**defaults)


def build_hf_encoder(source: str) -> FrozenEncoder:
    """Load a transformers AST / CLAP / Whisper model (local dir or hub id) as a FrozenEncoder."""
    import transformers as tf

    try:
        config = tf.AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise CheckpointError(f"cannot read a transformers config from {source!r}: {exc}") from exc
    kind = config.model_type
    if kind not in MODEL_TYPES:
        raise UnknownNameError("transformers audio model type", kind, MODEL_TYPES,
                               hint="the audio plugin adapts AST, CLAP and Whisper checkpoints")
    try:
        if kind == "audio-spectrogram-transformer":
            model = tf.ASTModel.from_pretrained(source, dtype=torch.float32)
            fe = _extractor(tf.ASTFeatureExtractor, source, num_mel_bins=config.num_mel_bins)
            if config.num_mel_bins != FBANK.num_mel_bins:
                raise CheckpointError(f"{source}: AST expects {config.num_mel_bins} mel bins; "
                                      f"the audio plugin computes {FBANK.num_mel_bins}")
            backbone, dim = ASTAdapter(model, fe.mean, fe.std), config.hidden_size
        elif kind == "whisper":
            encoder = tf.WhisperModel.from_pretrained(source, dtype=torch.float32).get_encoder()
            fe = _extractor(tf.WhisperFeatureExtractor, source, feature_size=config.num_mel_bins)
            backbone = WhisperAdapter(encoder, torch.as_tensor(fe.mel_filters))
            dim = config.d_model
        else:
            cls = tf.ClapModel if kind == "clap" else tf.ClapAudioModel
            model = cls.from_pretrained(source, dtype=torch.float32)
            audio = model.audio_model if kind == "clap" else model
            fe = _extractor(tf.ClapFeatureExtractor, source,
                            feature_size=audio.config.num_mel_bins)
            backbone, dim = ClapAdapter(audio, fe), audio.audio_encoder.num_features
    except CheckpointError:
        raise
    except Exception as exc:
        raise CheckpointError(f"cannot load {kind} encoder from {source!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
    return FrozenEncoder(backbone, dim, f"{kind}:{source}")
