"""Helpers for the training tests: a tiny random Llama + word-level tokenizer saved to a folder.

``load_llm(folder)`` reads it like any local transformers model, so the tests drive the
real training code (recipes, data, projector, composer, engine, checkpoints, CLI and
``accelerate launch``) in milliseconds per step, with nothing downloaded.
"""

from __future__ import annotations

import atexit
import functools
import re
import shutil
import tempfile
from pathlib import Path

import yaml

_TEXT = """
a an the of is it this that what which with by from one two three four five describe image
video audio input options choose classify answer tell me does have give brief short
description caption write sentence contain perceive summarise you in and or yes no
colour color shape count position size aspect kind pitch loudness direction speed motion
red green blue yellow circle square triangle left right top bottom sphere cube cylinder
cone torus small large flat regular tall tone chord beeps low mid high quiet loud up down
moving fast slow 3d point cloud object sound picture clip frame shapes there are
"""
WORDS = _TEXT.split()


def make_tiny_llm(folder: Path, seed: int = 0, hidden: int = 32) -> Path:
    """Write a tiny random causal LM and its tokenizer into ``folder``; returns ``folder``."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    specials = ["<unk>", "<pad>", "</s>"]
    vocab = {w: i for i, w in enumerate(specials + sorted(set(WORDS) | set("0123456789.,:?!")))}
    core = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Whitespace(), pre_tokenizers.Punctuation()])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<unk>",
                                        pad_token="<pad>", eos_token="</s>")
    config = LlamaConfig(vocab_size=len(vocab), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=256, tie_word_embeddings=True,
                         eos_token_id=vocab["</s>"], pad_token_id=vocab["<pad>"],
                         bos_token_id=None)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@functools.cache
def shared_tiny_llm() -> Path:
    """One tiny LLM folder per test process (removed at exit), shared by the test modules."""
    folder = Path(tempfile.mkdtemp(prefix="xalign-tiny-llm-"))
    atexit.register(shutil.rmtree, folder, True)
    return make_tiny_llm(folder / "llm")


def tiny_recipe_yaml(path: Path, llm: Path, cache: Path | None, modality: str = "image",
                     **sections: dict) -> Path:
    """A small recipe file for ``modality`` on the tiny LLM (sections override defaults)."""
    data = {
        "name": "test-tiny",
        "modality": modality,
        "llm": {"source": str(llm)},
        "projector": {"kind": "qformer", "preset": "tiny", "num_tokens": 2},
        "data": {"sources": [{"kind": "synthetic", "size": 24, "tasks": ["classify"]}]},
        "optim": {"lr": 1e-3, "warmup_steps": 2},
        "schedule": {"max_steps": 12, "batch_size": 4, "log_every": 1},
        "cache": {"enabled": cache is not None, "dir": str(cache) if cache else None},
        "checkpoint": {"every": 4, "keep_last": 2},
        "eval": {"every": 0, "val_size": 0, "test_size": 0},
        "seed": 3,
    }
    for key, value in sections.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    path.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return path


def losses(run_dir: Path) -> list[tuple[int, float]]:
    """``(step, loss)`` of every training line of a run's metrics.jsonl."""
    import json

    out = []
    for line in (run_dir / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "loss" in record:
            out.append((record["step"], record["loss"]))
    return out


def one_line(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()
