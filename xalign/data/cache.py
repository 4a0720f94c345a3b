"""On-disk cache of frozen-encoder features, so later epochs and runs skip the encoder.

An entry's key is a digest of: the media content (sha256 of the file's bytes, or of a
raw in-memory object), the modality and its plugin's version, the preprocessing
settings, the encoder's id (and weight fingerprint), and the view (``eval``, or
``train-<k>`` for the k-th cached augmented view). Changing any of them is a miss.

Entries are safetensors files written to a temporary file in the same folder, fsynced
and renamed over the final name (``os.replace`` is atomic), so a concurrent reader sees
either no entry or a complete one, never a half-written file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load as st_load
from safetensors.torch import save as st_save

from .hashing import digest_file, digest_raw

log = logging.getLogger(__name__)
FORMAT = 1  # bump when the key recipe or the file layout changes


def plugin_version(modality: str) -> str:
    """Version of the distribution providing ``modality`` ("" when unknown)."""
    from xalign.registry import get_registry

    for info in get_registry().plugins.values():
        if modality in info.modalities:
            return info.version or ""
    return ""


class FeatureCache:
    """Feature tensors on disk under ``directory``, keyed by content, settings and encoder.

    ``settings`` are the preprocessing settings that shape the features (anything JSON-able).
    ``train_views`` is the augmentation policy (see docs/data.md): train-mode features are
    cached as that many augmented views per item; 0 disables caching of train-mode features.
    """

    def __init__(self, directory: str | Path, encoder_id: str = "",
                 settings: Mapping[str, Any] | None = None, train_views: int = 4) -> None:
        if train_views < 0:
            raise ValueError(f"train_views must be >= 0, got {train_views}")
        self.directory = Path(directory)
        self.encoder_id = encoder_id
        self.settings = dict(settings or {})
        self.train_views = train_views
        self.hits = self.misses = 0
        self._settings_json = json.dumps(self.settings, sort_keys=True, default=str)

    def key(self, modality: str, media: Any, train: bool = False, *, view: int = 0,
            encoder_id: str | None = None) -> str:
        """The entry key of ``media`` (a file path or a raw object) for ``modality``.

        ``encoder_id`` overrides the cache-wide id (a dataset with one encoder per modality
        passes each encoder's fingerprint). Raises :class:`MediaError` for an unreadable
        file and ``TypeError`` for a raw object that cannot be hashed.
        """
        content = (digest_file(media) if isinstance(media, (str, os.PathLike))
                   else "raw:" + digest_raw(media))
        parts = {
            "format": FORMAT,
            "modality": modality,
            "plugin": plugin_version(modality),
            "content": content,
            "settings": self._settings_json,
            "encoder": self.encoder_id if encoder_id is None else encoder_id,
            "view": f"train-{view}" if train else "eval",
        }
        return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()

    def path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.safetensors"

    def __contains__(self, key: str) -> bool:
        return self.path(key).is_file()

    def get(self, key: str) -> torch.Tensor | None:
        """The cached tensor, or ``None`` on a miss (a corrupt entry counts as a miss)."""
        path = self.path(key)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            self.misses += 1
            return None
        try:
            tensor = st_load(data)["features"]
        except Exception as exc:  # damaged on disk: recompute and overwrite
            log.warning("feature cache entry %s is unreadable (%s); recomputing", path, exc)
            self.misses += 1
            return None
        self.hits += 1
        return tensor

    def put(self, key: str, tensor: torch.Tensor) -> None:
        """Store ``tensor`` under ``key`` atomically (write to a temp file, fsync, rename)."""
        path = self.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        data = st_save({"features": tensor.detach().cpu().contiguous()},
                       metadata={"format": str(FORMAT)})
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{key[:16]}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(path.parent)

    def stats(self) -> dict[str, int]:
        return {"hits": self.hits, "misses": self.misses}


def _fsync_dir(directory: Path) -> None:
    """Make the rename durable (POSIX); harmless to skip where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
