"""Projectors: frozen-encoder features (+ instruction) -> soft tokens for a frozen LLM.

One interface (:class:`Projector`), three kinds: the instruction-aware Q-Former
(X-InstructBLIP), a linear map (X-LLaVA baseline) and an N-token MLP (S3/LLaVA).
Each projector saves alone (``config.json`` + ``model.safetensors``).
"""

from xalign.projectors.base import Projector
from xalign.projectors.config import (
    LAVIS_BERT_VOCAB_SIZE,
    PROJECTOR_KINDS,
    QFORMER_PRESETS,
    ProjectorConfig,
    QFormerPreset,
)
from xalign.projectors.init import InitReport, init_qformer_from
from xalign.projectors.io import load_projector, read_config, save_projector, trained_llm
from xalign.projectors.linear import LinearProjector, qformer_parameter_count
from xalign.projectors.mlp import MLPProjector
from xalign.projectors.qformer import QFormerProjector, hf_qformer_config
from xalign.projectors.registry import build_projector, projector_kinds, register_projector

__all__ = [
    "LAVIS_BERT_VOCAB_SIZE",
    "PROJECTOR_KINDS",
    "QFORMER_PRESETS",
    "InitReport",
    "LinearProjector",
    "MLPProjector",
    "Projector",
    "ProjectorConfig",
    "QFormerPreset",
    "QFormerProjector",
    "build_projector",
    "hf_qformer_config",
    "init_qformer_from",
    "load_projector",
    "projector_kinds",
    "qformer_parameter_count",
    "read_config",
    "register_projector",
    "save_projector",
    "trained_llm",
]
