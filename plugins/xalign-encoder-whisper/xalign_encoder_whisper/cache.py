"""Convert a shipped CTranslate2 Whisper once into a safetensors cache entry.

Reading the 145 MB ``model.bin`` parts and splitting the fused projections takes seconds;
the cache entry (``model.safetensors`` in transformers' key names, float16 as shipped,
``config.json``, ``decoding.json``, ``tokenizer.json``) loads with no conversion. The key
is the model files' names, sizes and mtimes plus a format version, so reinstalling the
weight packages makes a new entry.

Writes are atomic and safe under concurrency, as :mod:`xalign.llm.gguf_cache`: the entry is
written into a temporary sibling and renamed into place; ``manifest.json`` is written last,
so a directory without it is never read; a writer that loses the rename race keeps the
winner's complete entry.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
import tempfile
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from xalign.errors import CheckpointError
from xalign.llm.gguf_cache import cache_root
from xalign.publish import publish_directory
from xalign_encoder_whisper.ct2 import read_ct2
from xalign_encoder_whisper.weights import (
    WeightPackage,
    decoding_config,
    hf_config,
    hf_state_dict,
)

log = logging.getLogger(__name__)

FORMAT_VERSION = 1
WEIGHTS, CONFIG, DECODING, TOKENIZER = ("model.safetensors", "config.json", "decoding.json",
                                        "tokenizer.json")
MANIFEST = "manifest.json"  # written last: its presence marks a complete entry


def entry_dir(name: str, parts: list[Path], root: Path | None = None) -> Path:
    """The cache directory for the model files ``parts`` (new when any of them changes)."""
    key = [name, f"v{FORMAT_VERSION}"]
    for part in parts:
        stat = part.stat()
        key += [part.name, str(stat.st_size), str(stat.st_mtime_ns)]
    digest = hashlib.sha256("|".join(key).encode()).hexdigest()[:16]
    return (root or cache_root()) / "whisper" / f"{name}-{digest}"


def is_complete(directory: Path) -> bool:
    return (directory / MANIFEST).is_file()


def write_entry(directory: Path, parts: list[Path], data_dir: Path, english_only: bool) -> None:
    """Convert the CTranslate2 model ``parts`` into ``directory`` atomically."""
    model = read_ct2(parts)
    config = hf_config(model, english_only)
    state = {k: v.contiguous() for k, v in hf_state_dict(model, config).items()}
    del model
    directory.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{directory.name}.", suffix=".tmp", dir=directory.parent))
    try:
        save_file(state, str(tmp / WEIGHTS), metadata={"format": "pt"})
        (tmp / CONFIG).write_text(json.dumps(config, indent=2), encoding="utf-8")
        (tmp / DECODING).write_text(json.dumps(decoding_config(data_dir)), encoding="utf-8")
        if (data_dir / TOKENIZER).is_file():
            shutil.copyfile(data_dir / TOKENIZER, tmp / TOKENIZER)
        manifest = {"format_version": FORMAT_VERSION, "english_only": english_only,
                    "sources": [str(p) for p in parts]}
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=2), encoding="utf-8")
        publish_directory(tmp, directory, is_complete)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def converted(package: WeightPackage, root: Path | None = None) -> Path:
    """The complete cache entry of ``package``, converting the shipped weights on first use."""
    parts, data_dir = package.files()
    directory = entry_dir(package.name, parts, root)
    if not is_complete(directory):
        log.info("converting %s (%s) into %s", package.name, " + ".join(map(str, parts)),
                 directory)
        write_entry(directory, parts, data_dir, package.english_only)
    return directory


def read_entry(directory: Path) -> tuple[dict, dict[str, torch.Tensor], dict]:
    """``(config kwargs, state dict, decoding config)`` of a complete entry."""
    if not is_complete(directory):
        raise CheckpointError(f"{directory}: not a complete Whisper cache entry (no {MANIFEST})")
    try:
        config = json.loads((directory / CONFIG).read_text(encoding="utf-8"))
        decoding = json.loads((directory / DECODING).read_text(encoding="utf-8"))
        state = load_file(str(directory / WEIGHTS))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{directory}: unreadable Whisper cache entry ({exc}); delete "
                              "the directory to convert again") from exc
    return config, state, decoding
