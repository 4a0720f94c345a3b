"""Projector configuration: one flat dataclass that round-trips through ``config.json``.

A projector is built from its :class:`ProjectorConfig` and from nothing else, so a
saved directory (``config.json`` + ``model.safetensors``) is self-describing.

Q-Former sizes come from named presets (:data:`QFORMER_PRESETS`):

* ``tiny``: hidden 128, 2 layers, 4 heads, intermediate 512, cross-attention in
  every layer, no dropout (CPU-friendly and deterministic).
* ``paper``: BERT-base as in X-InstructBLIP: hidden 768, 12 layers, 12 heads,
  intermediate 3072, cross-attention every 2nd layer, dropout 0.1.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xalign.errors import UnknownNameError, XalignError
from xalign.projectors.heads import HEADS

PROJECTOR_KINDS = ("qformer", "linear", "mlp")


@dataclass(frozen=True)
class QFormerPreset:
    """Geometry of a BERT-style Q-Former (see ``InstructBlipQFormerConfig``)."""

    hidden_size: int
    num_hidden_layers: int
    num_attention_heads: int
    intermediate_size: int
    cross_attention_frequency: int
    max_position_embeddings: int = 512
    dropout: float = 0.0
    layer_norm_eps: float = 1e-12  # BERT's, inside the Q-Former
    ln_eps: float = 1e-5  # the feature LayerNorm (LAVIS `{m}_ln`, torch default)


QFORMER_PRESETS: dict[str, QFormerPreset] = {
    "tiny": QFormerPreset(128, 2, 4, 512, 1, dropout=0.0),
    "paper": QFormerPreset(768, 12, 12, 3072, 2, dropout=0.1),
}

# bert-base-uncased (30522) plus the "[DEC]" bos token LAVIS adds: X-InstructBLIP's Q-Former vocab.
LAVIS_BERT_VOCAB_SIZE = 30523


@dataclass
class ProjectorConfig:
    """Everything needed to rebuild a projector.

    ``hidden_dim`` is the MLP hidden width (default: ``llm_dim``); for ``linear``
    it is the bottleneck rank ``r`` of the factorised map (``None`` = full rank),
    and ``match_params_of="qformer"`` resolves it at build time so the trainable
    parameter count matches the Q-Former of the same preset (the resolved value
    is what ``save_pretrained`` writes).
    """

    kind: str  # "qformer" | "linear" | "mlp"
    modality: str
    feature_dim: int  # encoder feature width d_enc
    llm_dim: int  # LLM embedding width
    num_tokens: int = 32  # K tokens per frame
    preset: str = "tiny"  # Q-Former size (also the reference for linear param matching)
    encoder_id: str = "tiny"
    # the encoder's weights digest where it ships one (FrozenEncoder.weights_digest): a
    # projector is tied to the features it learned from, not only to the encoder's id
    encoder_weights: str = ""
    llm_id: str = ""
    cue: str = ""
    frames: int = 1
    qformer_prompt: str | None = None  # fixed Q-Former prompt instead of the instruction
    instruction_tokenizer: str = "llm"  # "llm" or a tokenizer id/path (paper: bert-base-uncased)
    # vocab of the instruction tokenizer; required for "llm", else defaults to 30523 (LAVIS BERT)
    instruction_vocab_size: int | None = None
    match_params_of: str | None = None  # linear only: "qformer"
    hidden_dim: int | None = None  # mlp hidden width / linear bottleneck rank
    # the chat template's system turn during training (None: the template's default);
    # XAlignModel composes with the same one
    system_prompt: str | None = None
    # output head (xalign.projectors.heads): "linear" (llm_proj), "vocab" (mixtures of the
    # LLM's word embeddings) or "normed" (linear, rescaled to the LLM's word-embedding norm)
    head: str = "linear"
    # Q-Former instruction word embeddings: "learned" or "llm" (borrowed from the LLM, frozen)
    instruction_embeddings: str = "learned"

    def __post_init__(self) -> None:
        for name in ("feature_dim", "llm_dim", "num_tokens", "frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise XalignError(f"projector config: {name} must be a positive int, got {value!r}")
        for name in ("instruction_vocab_size", "hidden_dim"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, int) or value <= 0):
                raise XalignError(
                    f"projector config: {name} must be a positive int or null, got {value!r}"
                )
        if self.head not in HEADS:
            raise UnknownNameError("projector head", str(self.head), list(HEADS))
        if self.match_params_of not in (None, "qformer"):
            raise UnknownNameError("match_params_of target", str(self.match_params_of), ["qformer"])

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ProjectorConfig:
        """Build from a dict; an unknown key raises :class:`UnknownNameError` (lists valid keys)."""
        names = [f.name for f in dataclasses.fields(cls)]
        for key in data:
            if key not in names:
                raise UnknownNameError("projector config key", key, names)
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.name not in data]
        if missing:
            raise XalignError(f"projector config is missing {', '.join(missing)}")
        return cls(**data)

    def qformer_preset(self) -> QFormerPreset:
        """The Q-Former geometry named by ``preset``."""
        if self.preset not in QFORMER_PRESETS:
            raise UnknownNameError("Q-Former preset", self.preset, QFORMER_PRESETS)
        return QFORMER_PRESETS[self.preset]

    def resolved_instruction_vocab_size(self) -> int:
        """Vocabulary size of the instruction tokenizer (the Q-Former's word embeddings)."""
        if self.instruction_vocab_size is not None:
            return self.instruction_vocab_size
        if self.instruction_tokenizer == "llm":
            raise XalignError(
                "projector config: instruction_vocab_size is required when the Q-Former reads "
                "the LLM tokenizer's ids (instruction_tokenizer='llm'); set it to len(tokenizer)"
            )
        return LAVIS_BERT_VOCAB_SIZE
