"""Instruction-aware Q-Former projector (X-InstructBLIP) on transformers' InstructBLIP Q-Former.

Components, named as the state dict names them:

* ``ln``: LayerNorm on the encoder features (LAVIS ``{m}_ln``; in transformers'
  InstructBLIP this is the vision tower's ``post_layernorm``).
* ``query_tokens``: learned queries ``[1, K, hidden]``.
* ``qformer``: ``InstructBlipQFormerModel``. The instruction's tokens are appended
  after the queries and attend together with them in self-attention; only the
  queries cross-attend to the features (``encoder_hidden_size = feature_dim``).
* ``llm_proj``: ``Linear(hidden, llm_dim)`` applied to the K query outputs only (or, with
  ``head="vocab"``, a mixture of the LLM's word embeddings: :mod:`xalign.projectors.heads`).

Instructions longer than the Q-Former's position table are truncated from the
left (the end of the instruction is kept), as LAVIS's tokenizer does.
"""

from __future__ import annotations

import torch
from torch import nn
from transformers.models.instructblip.configuration_instructblip import InstructBlipQFormerConfig
from transformers.models.instructblip.modeling_instructblip import InstructBlipQFormerModel

from xalign.projectors.base import Projector
from xalign.projectors.config import ProjectorConfig
from xalign.projectors.heads import make_head


def hf_qformer_config(config: ProjectorConfig) -> InstructBlipQFormerConfig:
    """The transformers Q-Former config for a projector config (preset + widths + vocab)."""
    preset = config.qformer_preset()
    return InstructBlipQFormerConfig(
        vocab_size=config.resolved_instruction_vocab_size(),
        hidden_size=preset.hidden_size,
        num_hidden_layers=preset.num_hidden_layers,
        num_attention_heads=preset.num_attention_heads,
        intermediate_size=preset.intermediate_size,
        hidden_dropout_prob=preset.dropout,
        attention_probs_dropout_prob=preset.dropout,
        max_position_embeddings=preset.max_position_embeddings,
        layer_norm_eps=preset.layer_norm_eps,
        cross_attention_frequency=preset.cross_attention_frequency,
        encoder_hidden_size=config.feature_dim,
        # BERT's [PAD] is id 0; an LLM vocabulary may use id 0 for a real token.
        pad_token_id=None if config.instruction_tokenizer == "llm" else 0,
    )


class QFormerProjector(Projector):
    """``ln`` -> Q-Former(queries ‖ instruction, cross-attention to features) -> ``llm_proj``."""

    uses_instruction = True

    def __init__(self, config: ProjectorConfig) -> None:
        super().__init__(config)
        preset = config.qformer_preset()
        self.ln = nn.LayerNorm(config.feature_dim, eps=preset.ln_eps)
        # LAVIS initialises the queries like BERT weights: N(0, 0.02).
        queries = torch.randn(1, config.num_tokens, preset.hidden_size) * 0.02
        self.query_tokens = nn.Parameter(queries)
        self.qformer = InstructBlipQFormerModel(hf_qformer_config(config))
        self.llm_proj = make_head(config.head, preset.hidden_size, config.llm_dim)

    def forward(
        self,
        features: torch.Tensor,
        instruction_ids: torch.Tensor | None = None,
        instruction_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        self._check_features(features)
        embeds = self.ln(features.to(self.ln.weight.dtype))
        rows, k = embeds.shape[0], self.config.num_tokens
        queries = self.query_tokens.expand(rows, -1, -1)
        attention_mask = None
        if instruction_ids is not None:
            instruction_ids, instruction_mask = self._fit_instruction(
                instruction_ids, instruction_mask, rows
            )
            query_mask = torch.ones(rows, k, dtype=instruction_mask.dtype, device=embeds.device)
            attention_mask = torch.cat([query_mask, instruction_mask.to(embeds.device)], dim=1)
            instruction_ids = instruction_ids.to(embeds.device)
        out = self.qformer(
            input_ids=instruction_ids,
            attention_mask=attention_mask,
            query_embeds=queries,
            encoder_hidden_states=embeds,
        )
        return self.llm_proj(out.last_hidden_state[:, :k])

    def frozen_by_design(self) -> set[str]:
        if self.config.instruction_embeddings == "llm":
            return {"qformer.embeddings.word_embeddings.weight"}
        return set()

    def borrow_instruction_embeddings(self, llm_table: torch.Tensor, seed: int = 0) -> None:
        """Word embeddings for the instruction from the LLM's own (``[vocab, llm_dim]``), mapped
        to the Q-Former width by a fixed random orthogonal projection, and frozen.

        With ``instruction_tokenizer="llm"`` the Q-Former's word table is as large as the
        LLM vocabulary (49k × hidden for SmolLM2: most of the tiny Q-Former's parameters);
        trained from scratch on a few thousand instructions it stays noise for most words
        and the instruction gets in the way. Borrowed, words mean something from step 0,
        as the paper's BERT embeddings do.
        """
        words = self.qformer.embeddings.word_embeddings
        rows, width = words.weight.shape
        if llm_table.shape[0] < rows:
            raise ValueError(f"LLM table has {llm_table.shape[0]} rows; the Q-Former reads "
                             f"{rows} instruction ids")
        generator = torch.Generator().manual_seed(seed)
        basis = torch.linalg.qr(torch.randn(llm_table.shape[1], width, generator=generator))[0]
        borrowed = llm_table[:rows].float() @ basis
        with torch.no_grad():
            words.weight.copy_(borrowed * (0.05 / borrowed.std()))
        words.weight.requires_grad_(False)

    def _fit_instruction(
        self, ids: torch.Tensor, mask: torch.Tensor | None, rows: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if ids.ndim != 2 or ids.shape[0] != rows:
            raise ValueError(
                f"instruction_ids must be [N={rows}, L], got {tuple(ids.shape)}"
            )
        if mask is None:
            mask = torch.ones_like(ids)
        elif mask.shape != ids.shape:
            raise ValueError(
                f"instruction_mask {tuple(mask.shape)} does not match ids {tuple(ids.shape)}"
            )
        vocab = self.qformer.config.vocab_size
        if ids.numel() and (int(ids.max()) >= vocab or int(ids.min()) < 0):
            raise ValueError(
                f"instruction ids must lie in [0, {vocab}) (the Q-Former vocabulary of "
                f"{self.config.instruction_tokenizer!r}); got max {int(ids.max())}"
            )
        limit = self.qformer.config.max_position_embeddings
        if ids.shape[1] > limit:
            ids, mask = ids[:, -limit:], mask[:, -limit:]
        return ids, mask.long()
