"""``transformers`` audio encoders (AST, CLAP audio tower, Whisper encoder), each fed its own
feature extractor's output (:mod:`.features`).

* AST (``ASTModel``): ``input_values [N, 1024, 128]`` -> all tokens (2 + patches).
* Whisper (``WhisperModel``'s encoder): ``input_features [N, 80, 3000]`` -> 1500 positions.
* CLAP (``ClapModel``'s audio tower or ``ClapAudioModel``): ``input_features
  [N, 1, 1001, 64]`` -> the final HTSAT feature map, flattened to tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError

DEFAULT_WEIGHTS = {
    "ast": "MIT/ast-finetuned-audioset-10-10-0.4593",
    "whisper": "openai/whisper-base",
    "clap": "laion/clap-htsat-unfused",
}
MODEL_TYPES = {"audio-spectrogram-transformer": "ast", "whisper": "whisper",
               "clap": "clap", "clap_audio_model": "clap"}


class ASTAdapter(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model(input_values=features.to(self.model.dtype)).last_hidden_state


class WhisperAdapter(nn.Module):
    def __init__(self, encoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.encoder(input_features=features.to(self.encoder.dtype)).last_hidden_state


class ClapAdapter(nn.Module):
    def __init__(self, audio_model: nn.Module) -> None:
        super().__init__()
        self.audio_model = audio_model
        self.fusion = bool(audio_model.config.enable_fusion)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        features = features.to(self.audio_model.dtype)
        is_longer = None
        if self.fusion:
            is_longer = torch.zeros(features.shape[0], 1, dtype=torch.bool, device=features.device)
        out = self.audio_model(input_features=features, is_longer=is_longer).last_hidden_state
        return out.flatten(2).transpose(1, 2)  # [N, C, F, T] -> [N, F·T, C]


def build_hf_encoder(family: str, source: str | None = None) -> FrozenEncoder:
    """Load the ``family`` model (``ast``, ``whisper``, ``clap``) from ``source`` (local dir or
    hub id; default: :data:`DEFAULT_WEIGHTS`) as a FrozenEncoder."""
    import transformers as tf

    source = source or DEFAULT_WEIGHTS[family]
    try:
        config = tf.AutoConfig.from_pretrained(source)
    except Exception as exc:
        raise CheckpointError(f"cannot read a transformers config from {source!r}: {exc}") from exc
    if MODEL_TYPES.get(config.model_type) != family:
        raise UnknownNameError(f"{family} model type", config.model_type,
                               [t for t, f in MODEL_TYPES.items() if f == family],
                               hint=f"read from {source}")
    try:
        if family == "ast":
            model = tf.ASTModel.from_pretrained(source, dtype=torch.float32)
            backbone, dim = ASTAdapter(model), config.hidden_size
        elif family == "whisper":
            encoder = tf.WhisperModel.from_pretrained(source, dtype=torch.float32).get_encoder()
            backbone, dim = WhisperAdapter(encoder), config.d_model
        else:
            cls = tf.ClapModel if config.model_type == "clap" else tf.ClapAudioModel
            model = cls.from_pretrained(source, dtype=torch.float32)
            audio = model.audio_model if config.model_type == "clap" else model
            backbone, dim = ClapAdapter(audio), audio.audio_encoder.num_features
    except Exception as exc:
        raise CheckpointError(f"cannot load {family} encoder from {source!r}: "
                              f"{type(exc).__name__}: {exc}") from exc
    return FrozenEncoder(backbone, dim, f"{family}:{source}")
