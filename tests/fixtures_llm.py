"""Shared LLM helpers for the llm / compose / model / generate tests.

Plain functions cached per process (not fixtures), so that every test module that
imports them shares one embedded SmolLM2 and one tiny GGUF file: pytest would
instantiate an imported session fixture once per module.
"""

from __future__ import annotations

import atexit
import copy
import functools
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xalign.llm import LoadedLLM, freeze_llm, load_llm

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@functools.cache
def embedded_llm() -> LoadedLLM:
    """The embedded SmolLM2 (from the user cache after the first run). Do not mutate it."""
    return load_llm("smollm2")


def _byte_alphabet() -> list[str]:
    """GPT-2's printable stand-ins for the 256 byte values (a byte-level BPE base vocab)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1),
                 *range(ord("®"), ord("ÿ") + 1)]
    chars, extra = [], 0
    for byte in range(256):
        if byte in printable:
            chars.append(chr(byte))
        else:
            chars.append(chr(256 + extra))
            extra += 1
    return chars


def write_tiny_gguf(path: Path, *, hidden: int = 64, layers: int = 2, heads: int = 4,
                    kv_heads: int = 2, ffn: int = 128, seed: int = 0) -> Path:
    """A tiny Llama GGUF (Q4_1 matrices, byte-level BPE, chat template), written from scratch."""
    from gguf import GGMLQuantizationType, GGUFWriter
    from gguf.quants import quantize

    rng = np.random.default_rng(seed)
    tokens = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", *_byte_alphabet(),
              "Ġt", "he", "Ġthe"]
    types = [3] * 5 + [1] * (len(tokens) - 5)  # 3 = control token
    writer = GGUFWriter(str(path), "llama")
    writer.add_block_count(layers)
    writer.add_context_length(256)
    writer.add_embedding_length(hidden)
    writer.add_feed_forward_length(ffn)
    writer.add_head_count(heads)
    writer.add_head_count_kv(kv_heads)
    writer.add_rope_freq_base(10000.0)
    writer.add_layer_norm_rms_eps(1e-5)
    writer.add_vocab_size(len(tokens))
    writer.add_rope_dimension_count(hidden // heads)
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("default")
    writer.add_token_list(tokens)
    writer.add_token_types(types)
    writer.add_token_merges(["Ġ t", "h e", "Ġt he"])
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(4)
    writer.add_unk_token_id(0)
    writer.add_pad_token_id(4)
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)

    def tensor(name: str, shape: tuple[int, ...]) -> None:
        if len(shape) == 1:
            writer.add_tensor(name, (1 + 0.1 * rng.standard_normal(shape)).astype(np.float32))
            return
        values = (0.2 * rng.standard_normal(shape)).astype(np.float32)
        packed = quantize(values, GGMLQuantizationType.Q4_1)
        writer.add_tensor(name, packed, raw_shape=packed.shape,
                          raw_dtype=GGMLQuantizationType.Q4_1)

    head_dim = hidden // heads
    tensor("token_embd.weight", (len(tokens), hidden))  # no output.weight: tied LM head
    tensor("output_norm.weight", (hidden,))
    for i in range(layers):
        tensor(f"blk.{i}.attn_norm.weight", (hidden,))
        tensor(f"blk.{i}.ffn_norm.weight", (hidden,))
        tensor(f"blk.{i}.attn_q.weight", (hidden, hidden))
        tensor(f"blk.{i}.attn_k.weight", (kv_heads * head_dim, hidden))
        tensor(f"blk.{i}.attn_v.weight", (kv_heads * head_dim, hidden))
        tensor(f"blk.{i}.attn_output.weight", (hidden, hidden))
        tensor(f"blk.{i}.ffn_gate.weight", (ffn, hidden))
        tensor(f"blk.{i}.ffn_up.weight", (ffn, hidden))
        tensor(f"blk.{i}.ffn_down.weight", (hidden, ffn))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return path


@functools.cache
def shared_tiny_gguf() -> tuple[Path, Path]:
    """``(gguf file, cache dir)`` shared by the tests that load the tiny GGUF by path."""
    root = Path(tempfile.mkdtemp(prefix="xalign-tiny-gguf-"))
    atexit.register(shutil.rmtree, root, True)
    return write_tiny_gguf(root / "tiny.gguf"), root / "cache"


def make_tiny_llm(tokenizer: Any | None = None, *, hidden: int = 64, seed: int = 0,
                  chat: bool = True) -> LoadedLLM:
    """A fresh random 2-layer Llama (tied embeddings) over SmolLM2's tokenizer."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tokenizer = copy.deepcopy(tokenizer or embedded_llm().tokenizer)
    if not chat:
        tokenizer.chat_template = None
    config = LlamaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
        max_position_embeddings=512, tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    return LoadedLLM(freeze_llm(model), tokenizer, f"tiny-llama-{hidden}", hidden)
