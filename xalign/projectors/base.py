"""The interface every projector implements: encoder features (+ instruction) -> LLM tokens."""

from __future__ import annotations

import abc
from pathlib import Path

import torch
from torch import nn

from xalign.projectors.config import ProjectorConfig


class Projector(nn.Module, abc.ABC):
    """Maps frozen-encoder features to ``K`` soft tokens in the LLM embedding space.

    ``forward(features[N, T, d_enc], instruction_ids[N, L] | None, instruction_mask[N, L] | None)
    -> Tensor[N, K, llm_dim]``. ``N`` counts frames: callers flatten items × frames
    into rows and concatenate the ``K`` tokens of an item's frames themselves, so
    nothing here is modality-specific. Only instruction-aware projectors
    (``uses_instruction``) look at the instruction; the others ignore it.
    """

    uses_instruction: bool = False

    def __init__(self, config: ProjectorConfig) -> None:
        super().__init__()
        self.config = config

    @property
    def num_tokens(self) -> int:
        return self.config.num_tokens

    @abc.abstractmethod
    def forward(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor | None = None,
        instruction_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Project ``features[N, T, d_enc]`` to ``Tensor[N, K, llm_dim]``."""

    def frozen_by_design(self) -> set[str]:
        """Names of parameters that stay frozen on purpose (e.g. borrowed word embeddings)."""
        return set()

    def save_pretrained(self, directory: str | Path) -> Path:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        from xalign.projectors.io import save_projector

        return save_projector(self, directory)

    def num_parameters(self, trainable_only: bool = True) -> int:
        """Number of (trainable) parameters."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad or not trainable_only)

    def _check_features(self, features: torch.Tensor) -> None:
        if features.ndim != 3 or features.shape[-1] != self.config.feature_dim:
            raise ValueError(
                f"{self.config.kind} projector for {self.config.modality!r} expects features "
                f"[N, T, {self.config.feature_dim}], got {tuple(features.shape)}"
            )
