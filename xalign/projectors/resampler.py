"""Perceiver resampler (Flamingo; Lynx's 32-query resampler): learned latents cross-attend to
the frozen-encoder features and become the ``K`` LLM tokens.

Per layer, as in Flamingo's Perceiver Resampler: the latents attend to the concatenation of
the (projected) features and themselves, ``x ← x + Attn(LN(x), LN([f ‖ x]))``, then
``x ← x + FF(LN(x))``; a final LayerNorm and a linear map to the LLM width follow. Width,
depth and heads come from the Q-Former preset of the config (``tiny``: 128 wide, 2 layers,
4 heads), ``num_tokens`` is the number of latents. It ignores the instruction.

Registered as projector kind ``resampler`` through the ``register_projectors`` hook by the
core's built-in plugin (:mod:`xalign.projector_kinds`), exactly as a third party would.
"""

from __future__ import annotations

import torch
from torch import nn

from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig


class ResamplerLayer(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm_latents = nn.LayerNorm(width)
        self.norm_context = nn.LayerNorm(width)
        self.attention = nn.MultiheadAttention(width, heads, batch_first=True)
        self.feed_forward = nn.Sequential(nn.LayerNorm(width), nn.Linear(width, 4 * width),
                                          nn.GELU(), nn.Linear(4 * width, width))

    def forward(self, latents: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
        query = self.norm_latents(latents)
        context = torch.cat([self.norm_context(features), query], dim=1)
        latents = latents + self.attention(query, context, context, need_weights=False)[0]
        return latents + self.feed_forward(latents)


class ResamplerProjector(Projector):
    """``[N, T, d_enc]`` -> ``[N, K, d_llm]`` through ``K`` learned latents."""

    uses_instruction = False

    def __init__(self, config: ProjectorConfig) -> None:
        super().__init__(config)
        preset = config.qformer_preset()
        width = preset.hidden_size
        self.input = nn.Linear(config.feature_dim, width)
        self.latents = nn.Parameter(torch.randn(config.num_tokens, width) * 0.02)
        self.layers = nn.ModuleList(ResamplerLayer(width, preset.num_attention_heads)
                                    for _ in range(preset.num_hidden_layers))
        self.norm = nn.LayerNorm(width)
        self.output = nn.Linear(width, config.llm_dim)

    def forward(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor | None = None,  # noqa: ARG002 - not instruction-aware
        instruction_mask: torch.Tensor | None = None,  # noqa: ARG002
    ) -> torch.Tensor:
        self._check_features(features)
        context = self.input(features.to(self.input.weight.dtype))
        latents = self.latents.unsqueeze(0).expand(features.shape[0], -1, -1)
        for layer in self.layers:
            latents = layer(latents, context)
        return self.output(self.norm(latents))
