"""Linear projector (X-LLaVA baseline of X-InstructBLIP): one linear map from d_enc to K·d_llm.

Definition (it follows LAVIS's ``projection_only`` mode with ``proj_dim`` = r):

1. ``ln``: LayerNorm on the features (LAVIS applies ``{m}_ln`` before every projector).
2. Mean-pool over the T feature tokens: ``[N, T, d_enc] -> [N, d_enc]``.
3. One linear map ``d_enc -> K·d_llm`` whose output is reshaped to ``[N, K, d_llm]``.

With ``hidden_dim = None`` the map is a single ``Linear(d_enc, K·d_llm)`` (``proj``).
With ``hidden_dim = r`` it is factorised (low rank, still one linear map):
``proj = Linear(d_enc, K·r)`` reshaped to ``[N, K, r]``, then ``llm_proj = Linear(r, d_llm)``
shared by the K tokens. ``match_params_of="qformer"`` picks r so that the trainable
parameter count equals that of the Q-Former projector with the same preset, widths,
K and instruction vocabulary (the paper matches the two baselines in parameters);
r is an integer, so the count is within ``(K·(d_enc+1) + d_llm) / 2`` of the target.

With ``head="vocab"`` each token is then snapped onto the LLM's word embeddings
(:mod:`xalign.projectors.heads`), as the Q-Former's can be, for like-for-like ablations.

Initialisation: ``nn.Linear``'s default, uniform in ±1/sqrt(fan_in) (the paper's
"uniform init"; LAVIS uses the same default layer).
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn

from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig
from xalign.projectors.heads import make_head


def qformer_parameter_count(config: ProjectorConfig) -> int:
    """Trainable parameters of the Q-Former projector matching ``config`` (built on 'meta')."""
    from xalign.projectors.qformer import QFormerProjector

    reference = dataclasses.replace(config, kind="qformer", match_params_of=None, hidden_dim=None)
    with torch.device("meta"):
        return QFormerProjector(reference).num_parameters()


def matched_rank(config: ProjectorConfig, target: int) -> int:
    """Bottleneck rank r whose factorised linear map has about ``target`` parameters."""
    k, d_enc, d_llm = config.num_tokens, config.feature_dim, config.llm_dim
    # ln: 2·d_enc; proj: d_enc·K·r + K·r; llm_proj: r·d_llm + d_llm
    fixed = 2 * d_enc + d_llm
    per_rank = k * (d_enc + 1) + d_llm
    return max(1, round((target - fixed) / per_rank))


class LinearProjector(Projector):
    """LayerNorm, mean-pool over T, linear map to K·d_llm (optionally factorised through rank r)."""

    uses_instruction = False

    def __init__(self, config: ProjectorConfig) -> None:
        if config.match_params_of == "qformer" and config.hidden_dim is None:
            rank = matched_rank(config, qformer_parameter_count(config))
            config = dataclasses.replace(config, hidden_dim=rank)
        super().__init__(config)
        k, d_llm = config.num_tokens, config.llm_dim
        self.ln = nn.LayerNorm(config.feature_dim)
        width = config.hidden_dim if config.hidden_dim is not None else d_llm
        self.proj = nn.Linear(config.feature_dim, k * width)
        self.llm_proj = None
        if config.hidden_dim is not None or config.head != "linear":
            self.llm_proj = make_head(config.head, width, d_llm)

    def forward(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor | None = None,  # noqa: ARG002 - not instruction-aware
        instruction_mask: torch.Tensor | None = None,  # noqa: ARG002
    ) -> torch.Tensor:
        self._check_features(features)
        pooled = self.ln(features.to(self.ln.weight.dtype)).mean(dim=1)
        tokens = self.proj(pooled).view(pooled.shape[0], self.config.num_tokens, -1)
        return self.llm_proj(tokens) if self.llm_proj is not None else tokens
