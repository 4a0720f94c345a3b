"""Inputs of the transformers audio encoders, from the raw 16 kHz waveform, exactly as their
own feature extractors compute them (the settings of each default checkpoint's
``preprocessor_config.json``).

* AST (``ASTFeatureExtractor``): Kaldi fbank, 128 bins, on ±1 samples, padded/cut to 1024
  frames (10.24 s), normalised with AudioSet's mean/std: ``[1, 1024, 128]``.
* Whisper (``WhisperFeatureExtractor``): 80-bin log-mel, padded to 30 s: ``[1, 80, 3000]``.
* CLAP (``ClapFeatureExtractor``, HTSAT-unfused): 48 kHz input, so the 16 kHz waveform is
  resampled first (nothing above 8 kHz survives the modality's 16 kHz raw item); 64-bin
  log-mel in dB, 10 s, ``repeatpad``: ``[1, 1, 1001, 64]``.

``train`` changes nothing: these models were trained on exactly these features.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np
import torch

from xalign_plugin_audio.preprocess import as_waveform
from xalign_plugin_audio.resample import SAMPLE_RATE, resample

CLAP_RATE = 48_000


@cache
def extractor(name: str) -> Any:
    """The feature extractor of the default checkpoint of family ``name``."""
    import transformers

    if name == "ast":
        return transformers.ASTFeatureExtractor()  # MIT/ast-finetuned-audioset-10-10-0.4593
    if name == "whisper":
        return transformers.WhisperFeatureExtractor(feature_size=80)  # openai/whisper-base
    if name == "clap":  # laion/clap-htsat-unfused
        return transformers.ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
    raise KeyError(name)


def _samples(raw: Any) -> np.ndarray:
    return as_waveform(raw).numpy().astype(np.float32)


def ast_features(raw: Any, train: bool = False) -> torch.Tensor:  # noqa: ARG001
    out = extractor("ast")(_samples(raw), sampling_rate=SAMPLE_RATE, return_tensors="np")
    return torch.from_numpy(out["input_values"])


def whisper_features(raw: Any, train: bool = False) -> torch.Tensor:  # noqa: ARG001
    out = extractor("whisper")(_samples(raw), sampling_rate=SAMPLE_RATE, return_tensors="np")
    return torch.from_numpy(out["input_features"])


def clap_features(raw: Any, train: bool = False) -> torch.Tensor:  # noqa: ARG001
    samples = resample(_samples(raw), SAMPLE_RATE, CLAP_RATE).astype(np.float32)
    out = extractor("clap")(samples, sampling_rate=CLAP_RATE, return_tensors="np")
    return torch.from_numpy(out["input_features"])
