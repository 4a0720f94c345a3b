"""The frozen-encoder wrapper every registered encoder's ``build`` returns."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from xalign.encoders.component import Encoder


def freeze(module: nn.Module) -> nn.Module:
    """Turn off gradients and put ``module`` in eval mode; returns it for chaining."""
    for p in module.parameters():
        p.requires_grad_(False)
    return module.eval()


class FrozenEncoder(nn.Module):
    """Wraps a feature extractor so that it can never train by accident.

    ``train(True)`` is ignored (dropout and batch-norm stay in eval mode even
    when the parent model trains), parameters never require grad, and the
    forward pass runs without autograd. ``backbone`` maps the plugin's
    preprocessed batch ``Tensor[N, ...]`` to ``Tensor[N, T, feature_dim]``.
    """

    def __init__(self, backbone: nn.Module, feature_dim: int, encoder_id: str) -> None:
        super().__init__()
        self.backbone = freeze(backbone)
        self.feature_dim = int(feature_dim)
        self.encoder_id = encoder_id
        # the registered component this network was built from (its preprocess); set by
        # Encoder.instantiate, None for a network built by hand
        self.spec: Encoder | None = None
        # short SHA-256 of the weights file, for encoders that ship one (build_frozen): a
        # projector records it and refuses other weights under the same id
        self.weights_digest = ""

    def train(self, mode: bool = True) -> FrozenEncoder:  # noqa: ARG002 - frozen on purpose
        return super().train(False)

    def _first_tensor(self) -> torch.Tensor | None:
        return next(iter([*self.backbone.parameters(), *self.backbone.buffers()]), None)

    @property
    def device(self) -> torch.device:
        first = self._first_tensor()
        return first.device if first is not None else torch.device("cpu")

    @property
    def dtype(self) -> torch.dtype:
        first = self._first_tensor()
        return first.dtype if first is not None else torch.float32

    @torch.no_grad()
    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        features = self.backbone(inputs.to(device=self.device, dtype=self.dtype))
        if features.ndim != 3 or features.shape[-1] != self.feature_dim:
            raise RuntimeError(
                f"encoder {self.encoder_id!r} returned shape {tuple(features.shape)}; "
                f"expected [N, T, {self.feature_dim}]"
            )
        return features
