"""transformers' Whisper built from the converted cache entry, and a small greedy transcriber.

The transcriber is Whisper's own decoder: the ceiling the Q-Former + LLM is compared with.
It decodes greedily from ``<|startoftranscript|>`` (``<|en|><|transcribe|>`` for multilingual
models) ``<|notimestamps|>``, with the package's suppression lists, as faster-whisper does
without temperature fallback.
"""

from __future__ import annotations

import functools
import inspect
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from xalign.errors import CheckpointError
from xalign_encoder_whisper.cache import TOKENIZER, converted, read_entry
from xalign_encoder_whisper.weights import weight_package

_lock = threading.Lock()


def _no_init() -> Any:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers: plain (slower) random init
        from contextlib import nullcontext

        return nullcontext()
    return no_init_weights()


@dataclass
class LoadedWhisper:
    """The full model in float32 eval mode, its tokenizer and decoding config."""

    name: str
    model: Any  # transformers.WhisperForConditionalGeneration
    tokenizer: Any  # tokenizers.Tokenizer
    decoding: dict
    directory: Path

    @property
    def english_only(self) -> bool:
        return self.model.config.vocab_size < 51865


def load_from_entry(name: str, directory: Path) -> LoadedWhisper:
    """Build ``WhisperForConditionalGeneration`` from a cache entry (strict key match)."""
    from tokenizers import Tokenizer
    from transformers import WhisperConfig, WhisperForConditionalGeneration

    config_kwargs, state, decoding = read_entry(directory)
    config = WhisperConfig(**config_kwargs)
    with _no_init():
        model = WhisperForConditionalGeneration(config)
    state["proj_out.weight"] = state["model.decoder.embed_tokens.weight"]
    state = {k: v.float() for k, v in state.items()}
    missing, unexpected = model.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise CheckpointError(f"{directory}: Whisper weights do not match the model (missing "
                              f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]})")
    tokenizer_path = directory / TOKENIZER
    tokenizer = Tokenizer.from_file(str(tokenizer_path)) if tokenizer_path.is_file() else None
    for p in model.parameters():
        p.requires_grad_(False)
    return LoadedWhisper(name, model.eval(), tokenizer, decoding, directory)


@functools.lru_cache(maxsize=2)
def _load_cached(name: str) -> LoadedWhisper:
    return load_from_entry(name, converted(weight_package(name)))


def load_whisper(name: str = "whisper-base") -> LoadedWhisper:
    """The shipped model ``name`` (converted into the cache on first use; one copy a process)."""
    with _lock:
        return _load_cached(name)


def _token(whisper: LoadedWhisper, text: str) -> int:
    if whisper.tokenizer is None:
        raise CheckpointError(f"{whisper.directory}: no tokenizer.json, cannot decode")
    token = whisper.tokenizer.token_to_id(text)
    if token is None:
        raise CheckpointError(f"{whisper.name}: tokenizer has no token {text!r}")
    return token


def prompt_ids(whisper: LoadedWhisper) -> list[int]:
    """The decoder prompt of English transcription without timestamps."""
    words = ["<|startoftranscript|>"]
    if not whisper.english_only:
        words += ["<|en|>", "<|transcribe|>"]
    return [_token(whisper, w) for w in [*words, "<|notimestamps|>"]]


@torch.no_grad()
def transcribe(whisper: LoadedWhisper, input_features: torch.Tensor,
               max_new_tokens: int = 64) -> list[str]:
    """Greedy transcripts of a batch of log-mel inputs ``[N, 80, 3000]``."""
    model = whisper.model
    eot = _token(whisper, "<|endoftext|>")
    timestamps_from = _token(whisper, "<|notimestamps|>") + 1
    suppress = torch.tensor(whisper.decoding.get("suppress_ids", []), dtype=torch.long)
    begin = torch.tensor(whisper.decoding.get("suppress_ids_begin", []), dtype=torch.long)
    encoded = model.model.encoder(input_features.float()).last_hidden_state
    n = encoded.shape[0]
    tokens = torch.tensor([prompt_ids(whisper)] * n)
    done = torch.zeros(n, dtype=torch.bool)
    out: list[list[int]] = [[] for _ in range(n)]
    # transformers 5 renamed past_key_values to cache
    cache_arg = "cache" if "cache" in inspect.signature(model.forward).parameters \
        else "past_key_values"
    past = None
    step_input = tokens
    for step in range(max_new_tokens):
        result = model(encoder_outputs=(encoded,), decoder_input_ids=step_input,
                       use_cache=True, **{cache_arg: past})
        past = getattr(result, cache_arg)
        logits = result.logits[:, -1].float()
        logits[:, timestamps_from:] = -torch.inf
        if suppress.numel():
            logits[:, suppress] = -torch.inf
        if step == 0 and begin.numel():
            logits[:, begin] = -torch.inf
        nxt = logits.argmax(-1)
        nxt[done] = eot
        for i in range(n):
            if not done[i] and int(nxt[i]) != eot:
                out[i].append(int(nxt[i]))
        done |= nxt == eot
        if bool(done.all()):
            break
        step_input = nxt[:, None]
    return [whisper.tokenizer.decode(ids, skip_special_tokens=True).strip() for ids in out]
