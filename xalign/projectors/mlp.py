"""N-token MLP projector (S3 / LLaVA style): 2-layer MLP producing K tokens per input.

Definition: adaptive average pooling over the T feature tokens to K tokens
(``[N, T, d_enc] -> [N, K, d_enc]``; each output token averages a contiguous
span of the feature sequence, and tokens repeat when T < K), then
``Linear(d_enc, hidden) -> GELU -> Linear(hidden, d_llm)`` applied to each token.
``hidden_dim`` defaults to ``llm_dim`` (LLaVA's choice). S3 uses K = 4, which the
modality's projector defaults / recipes set through ``num_tokens``. No feature
LayerNorm (LLaVA applies the MLP directly to the encoder output).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig


class MLPProjector(Projector):
    """Adaptive-pool T -> K tokens, then Linear, GELU, Linear to the LLM width."""

    uses_instruction = False

    def __init__(self, config: ProjectorConfig) -> None:
        super().__init__(config)
        hidden = config.hidden_dim or config.llm_dim
        self.mlp = nn.Sequential(
            nn.Linear(config.feature_dim, hidden),
            nn.GELU(),
            nn.Linear(hidden, config.llm_dim),
        )

    def forward(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor | None = None,  # noqa: ARG002 - not instruction-aware
        instruction_mask: torch.Tensor | None = None,  # noqa: ARG002
    ) -> torch.Tensor:
        self._check_features(features)
        x = features.to(self.mlp[0].weight.dtype)
        pooled = F.adaptive_avg_pool1d(x.transpose(1, 2), self.config.num_tokens).transpose(1, 2)
        return self.mlp(pooled)
