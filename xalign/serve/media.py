"""Uploads: which modality a file is, reading it with its plugin's loader, and a preview.

Every failure becomes one line for the page (:func:`user_message`); the upload's temporary
folder is replaced by the file's name, since the user never saw that path.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from xalign.errors import MediaError, XalignError
from xalign.modality import Modality

log = logging.getLogger(__name__)

AUTO = "auto"
MESH_SUFFIXES = (".obj", ".stl", ".glb", ".gltf")  # gradio's Model3D shows these as they are
PREVIEW_POINTS = 1500


def guess_modality(path: str | Path, modalities: Mapping[str, Modality], chosen: str = AUTO,
                   prefer: Iterable[str] = ()) -> str:
    """The modality to read ``path`` as: ``chosen`` unless it is ``auto``; otherwise the one
    whose extensions match, preferring ``prefer`` (the modalities with a projector) when
    several match (``.gif``: image and video)."""
    if chosen != AUTO:
        if chosen not in modalities:
            from xalign.errors import UnknownNameError

            raise UnknownNameError("modality", chosen, modalities)
        return chosen
    matches = [name for name, m in modalities.items() if m.accepts(path)]
    if not matches:
        suffixes = sorted({s for m in modalities.values() for s in m.extensions})
        suffix = Path(path).suffix or "files without an extension"
        raise MediaError(path, f"no installed modality reads {suffix}; "
                               f"accepted: {', '.join(suffixes)}")
    preferred = [name for name in matches if name in set(prefer)]
    return (preferred or matches)[0]


def read_media(modality: Modality, path: str | Path) -> Any:
    """The raw item from the plugin's loader (raises its :class:`MediaError`)."""
    return modality.load(Path(path))


def user_message(exc: BaseException, path: str | Path | None = None) -> str:
    """One line for the page: the loader's reason under the file's own name; an unexpected
    error by its type and message (its traceback goes to the server log)."""
    name = Path(path).name if path is not None else None
    if isinstance(exc, MediaError):
        return f"{name or exc.path}: {exc.reason}"
    if isinstance(exc, XalignError):
        text = str(exc)
        return text.replace(str(path), name) if path is not None and name else text
    log.error("unexpected error", exc_info=exc)
    where = f"{name}: " if name else ""
    return f"{where}{type(exc).__name__}: {exc} (the server log has the traceback)"


def point_cloud_obj(points: np.ndarray, out: Path, limit: int = PREVIEW_POINTS) -> Path:
    """An OBJ of one small tetrahedron per point (at most ``limit`` points, evenly picked),
    centred and scaled to the unit sphere: Model3D draws meshes, not bare points."""
    xyz = np.asarray(points, dtype=np.float64)[:, :3]
    if len(xyz) > limit:
        xyz = xyz[np.linspace(0, len(xyz) - 1, limit).astype(int)]
    xyz = xyz - xyz.mean(0)
    xyz = xyz / max(float(np.linalg.norm(xyz, axis=1).max()), 1e-9)
    size = 0.015
    corners = size * np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]], dtype=float)
    lines = []
    for p in xyz:
        lines.extend("v {:.5f} {:.5f} {:.5f}".format(*(p + c)) for c in corners)
    for i in range(len(xyz)):
        a, b, c, d = (4 * i + k for k in range(1, 5))
        lines.extend((f"f {a} {b} {c}", f"f {a} {c} {d}", f"f {a} {d} {b}", f"f {b} {d} {c}"))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def preview_kind(modality: str, raw: Any) -> str | None:
    """Which preview shows an item: ``image``, ``video``, ``audio``, ``3d`` or ``None``."""
    if modality in ("image", "video", "audio"):
        return modality
    if isinstance(raw, np.ndarray) and raw.ndim == 2 and raw.shape[1] >= 3:
        return "3d"  # any point-cloud modality, by the shape of what its loader returns
    return None


def preview_file(kind: str | None, path: Path, raw: Any, folder: Path) -> Path | None:
    """The file the preview shows: the upload itself, or for a point cloud an OBJ of it."""
    if kind is None:
        return None
    if kind != "3d" or path.suffix.lower() in MESH_SUFFIXES:
        return path
    return point_cloud_obj(raw, folder / f"{path.stem}-preview.obj")
