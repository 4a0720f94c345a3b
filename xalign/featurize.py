"""load → the encoder's own preprocess → frozen encoder: the one path from a media item to
features."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import EnvironmentFault, MediaError, XalignError
from xalign.modality import Modality


def preprocess_item(modality: Modality, encoder: FrozenEncoder, raw: Any, train: bool = False,
                    source: str | Path | None = None) -> torch.Tensor:
    """Run the encoder's preprocessing and check the contract (``Tensor[F, ...]``, finite)."""
    if encoder.spec is None:
        raise XalignError(f"encoder {encoder.encoder_id!r} was not built from a registered "
                          "Encoder (Encoder.instantiate / Registry.build_encoder), so it has no "
                          "preprocessing")
    try:
        tensor = encoder.spec.preprocess(raw, train)
    except MediaError as exc:
        if exc.path == "<in-memory>" and source is not None:
            raise MediaError(source, exc.reason) from exc
        raise
    except EnvironmentFault:  # a missing library or decoder is never a bad file
        raise
    except Exception as exc:  # a plugin bug or odd input: report it against the file
        raise MediaError(source, f"{modality.name} preprocessing failed ({encoder.spec.key}): "
                                 f"{type(exc).__name__}: {exc}") from exc
    if not isinstance(tensor, torch.Tensor) or tensor.ndim < 2:
        raise MediaError(source, f"{encoder.spec.key} preprocess must return Tensor[F, ...], "
                                 f"got {getattr(tensor, 'shape', type(tensor).__name__)}")
    if not torch.isfinite(tensor).all():
        raise MediaError(source, "preprocessed input contains NaN or inf")
    return tensor


def featurize(modality: Modality, encoder: FrozenEncoder, raw: Any, train: bool = False,
              source: str | Path | None = None) -> torch.Tensor:
    """Features ``Tensor[F, T, d]`` of one item (F frames) from its raw form."""
    return encoder(preprocess_item(modality, encoder, raw, train, source)).cpu()


def featurize_file(modality: Modality, encoder: FrozenEncoder, path: str | Path,
                   train: bool = False) -> torch.Tensor:
    """Features of one file; raises :class:`MediaError` naming the file on any failure."""
    return featurize(modality, encoder, modality.load(Path(path)), train, source=path)
