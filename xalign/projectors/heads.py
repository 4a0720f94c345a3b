"""Output heads: how a projector turns its hidden states into LLM input tokens.

* ``linear`` (the paper's ``llm_proj``): ``Linear(hidden, llm_dim)``; a token may be any
  vector of the LLM's input space.
* ``vocab``: ``softmax(Linear(hidden, llm_dim) · Eᵀ) @ E``, a token is a mixture of the
  frozen LLM's own word embeddings ``E``. Tokens then live where the LLM's text lives, so what the
  LLM learned to do with *described* inputs (a text-only stage, :mod:`xalign.llm.text_stage`)
  applies to projected ones, and a projector trained on one modality composes with others
  it never saw. The nearest words of each token can be printed (:meth:`VocabHead.words`).
* ``normed``: ``Linear(hidden, llm_dim)``, then each token rescaled to the median norm of
  the LLM's word embeddings: free in direction, never louder than a word (a linear head's
  tokens drift to many times a word's norm). Measured on image–video DisCRn, it helps only
  with the caption teacher (README, "It reasons").

``E`` (and the norm taken from it) is the LLM's, never saved with the projector: the model binds it
(:meth:`VocabHead.bind`) and the projector config records which LLM state it belongs to.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from xalign.errors import XalignError

HEADS = ("linear", "vocab", "normed")


class VocabHead(nn.Module):
    """``hidden -> query q -> softmax(q · Eᵀ · scale) @ E``: each token is snapped softly onto
    the LLM's vocabulary. Only ``proj`` and ``log_scale`` train (as many parameters as the
    linear head, plus one)."""

    def __init__(self, hidden: int, llm_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden, llm_dim)
        self.log_scale = nn.Parameter(torch.zeros(()))
        self.llm_dim = llm_dim
        self.register_buffer("table", torch.empty(0), persistent=False)

    def bind(self, embedding_weight: torch.Tensor) -> None:
        """Use ``embedding_weight`` ([vocab, llm_dim], the LLM's input table), frozen."""
        check_table(embedding_weight, self.llm_dim)
        self.table = embedding_weight.detach()

    def weights(self, hidden: torch.Tensor) -> torch.Tensor:
        """``[..., vocab]``: how much of each word makes each token."""
        if self.table.numel() == 0:
            raise XalignError("vocab head used before bind(): compose it through XAlignModel, "
                              "which binds the LLM's embedding table")
        query = self.proj(hidden).float()
        return (query @ self.table.float().t() * self.log_scale.exp()).softmax(dim=-1)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        return (self.weights(hidden) @ self.table.float()).to(hidden.dtype)

    @torch.no_grad()
    def words(self, hidden: torch.Tensor, tokenizer: Any) -> list[list[str]]:
        """The most weighted vocabulary entry of each token of ``hidden[N, K, h]``."""
        ids = self.weights(hidden).argmax(dim=-1)
        return [[tokenizer.decode([int(i)]) for i in row] for row in ids.reshape(-1, ids.shape[-1])]


class NormedHead(nn.Module):
    """``Linear(hidden, llm_dim)``, each output token rescaled to the median word-embedding
    norm of the bound LLM (as many parameters as the linear head)."""

    def __init__(self, hidden: int, llm_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(hidden, llm_dim)
        self.llm_dim = llm_dim
        self.register_buffer("norm", torch.zeros(()), persistent=False)
        self.bound = False  # a Python flag: reading the buffer would sync a GPU every call

    def bind(self, embedding_weight: torch.Tensor) -> None:
        """Take the target norm from ``embedding_weight`` ([vocab, llm_dim], the LLM's)."""
        check_table(embedding_weight, self.llm_dim)
        self.norm = embedding_weight.detach().float().norm(dim=-1).median().to(self.norm.device)
        self.bound = True

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        if not self.bound:
            raise XalignError("normed head used before bind(): compose it through XAlignModel, "
                              "which binds the LLM's embedding table")
        tokens = self.proj(hidden)
        scale = self.norm / tokens.float().norm(dim=-1, keepdim=True).clamp_min(1e-6)
        return (tokens.float() * scale).to(tokens.dtype)


def check_table(embedding_weight: torch.Tensor, llm_dim: int) -> None:
    if embedding_weight.ndim != 2 or embedding_weight.shape[1] != llm_dim:
        raise XalignError(f"the projector head expects an LLM embedding table of width "
                          f"{llm_dim}, got {list(embedding_weight.shape)}: the projector was "
                          "trained for another LLM")


def make_head(kind: str, hidden: int, llm_dim: int) -> nn.Module:
    """The output head named by ``kind`` (see the module docstring)."""
    if kind == "linear":
        return nn.Linear(hidden, llm_dim)
    if kind == "vocab":
        return VocabHead(hidden, llm_dim)
    if kind == "normed":
        return NormedHead(hidden, llm_dim)
    from xalign.errors import UnknownNameError

    raise UnknownNameError("projector head", kind, HEADS)
