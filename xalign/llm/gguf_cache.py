"""Disk cache of dequantised GGUF models.

Loading a GGUF file through transformers dequantises every tensor (about 20 s for
SmolLM2-135M on a shared CPU) and leaves a model whose ``save_pretrained`` refuses
to run. The first load therefore writes a plain checkpoint (safetensors state dict,
``config.json`` without ``quantization_config``, tokenizer files) into the user
cache dir, keyed by the GGUF file's name, size and mtime; later loads rebuild the
model with ``from_config`` + ``load_state_dict`` in a few seconds.

Writes are atomic: everything goes into a temporary sibling directory that is
renamed into place last, so a crash leaves no half-written entry under the final
name, and a directory without the ``manifest.json`` written last is never read.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from xalign.publish import publish_directory

log = logging.getLogger(__name__)

CACHE_ENV = "XALIGN_CACHE_DIR"
FORMAT_VERSION = 1
WEIGHTS = "model.safetensors"
MANIFEST = "manifest.json"  # written last: its presence marks a complete entry


def cache_root() -> Path:
    """xalign's cache directory: ``$XALIGN_CACHE_DIR`` or the platform's user cache dir."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override).expanduser()
    import platformdirs

    return Path(platformdirs.user_cache_dir("xalign"))


def entry_dir(gguf_path: Path, root: Path | None = None) -> Path:
    """The cache directory of one GGUF file (changes when the file's size or mtime change)."""
    import transformers

    stat = gguf_path.stat()
    # The transformers version is part of the key: its dequantiser defines the weights.
    key = "|".join([gguf_path.name, str(stat.st_size), str(stat.st_mtime_ns),
                    transformers.__version__, f"v{FORMAT_VERSION}"])
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return (root or cache_root()) / "llm" / f"{gguf_path.stem}-{digest}"


def is_complete(directory: Path) -> bool:
    return (directory / MANIFEST).is_file()


def write_entry(directory: Path, model: Any, tokenizer: Any) -> None:
    """Write ``model`` (dequantised) and ``tokenizer`` to ``directory`` atomically.

    Tied tensors (e.g. ``lm_head.weight`` sharing ``embed_tokens.weight``) are stored
    once; the manifest records which key each dropped tensor aliases so that loading
    restores it even for a model class that does not tie weights itself.
    """
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        tensors, aliases = _dedupe(model.state_dict())
        save_file(tensors, str(tmp / WEIGHTS), metadata={"format": "pt"})
        config = model.config.to_dict()
        config.pop("quantization_config", None)
        (tmp / "config.json").write_text(json.dumps(config, indent=2), encoding="utf-8")
        if getattr(model, "generation_config", None) is not None:
            model.generation_config.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        manifest = {"format_version": FORMAT_VERSION, "aliases": aliases}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        publish_directory(tmp, directory, is_complete)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _dedupe(state: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    kept: dict[str, torch.Tensor] = {}
    owner: dict[tuple[int, tuple[int, ...]], str] = {}
    aliases: dict[str, str] = {}
    for key, tensor in state.items():
        ident = (tensor.data_ptr(), tuple(tensor.shape))
        if ident in owner:
            aliases[key] = owner[ident]
            continue
        owner[ident] = key
        kept[key] = tensor.detach().contiguous()
    return kept, aliases


def read_entry(directory: Path, dtype: torch.dtype | None = None) -> tuple[Any, Any]:
    """Rebuild ``(model, tokenizer)`` from a complete cache entry."""
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer, GenerationConfig

    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    config = AutoConfig.from_pretrained(directory)
    with _skip_init():  # every tensor is overwritten below; random init would cost seconds
        model = AutoModelForCausalLM.from_config(config)
    model.tie_weights()
    state = load_file(str(directory / WEIGHTS))
    for alias, source in manifest.get("aliases", {}).items():
        state[alias] = state[source]
    model.load_state_dict(state, strict=True)
    if (directory / "generation_config.json").is_file():
        model.generation_config = GenerationConfig.from_pretrained(directory)
    if dtype is not None:
        model = model.to(dtype)
    tokenizer = AutoTokenizer.from_pretrained(directory)
    return model, tokenizer


def _skip_init() -> Any:
    try:
        from transformers.initialization import no_init_weights
    except ImportError:  # older transformers: plain (slower) random init
        from contextlib import nullcontext

        return nullcontext()
    return no_init_weights()
