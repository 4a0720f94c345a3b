"""Names of Q-Former tensors in foreign checkpoints, mapped onto :class:`QFormerProjector` names.

Understood layouts (the Q-Former is the same BERT-style network in all of them):

* LAVIS (BLIP-2, InstructBLIP): ``Qformer.bert.encoder.layer.0.attention.self.query.weight``
  -> ``qformer.encoder.layer.0.attention.attention.query.weight``;
  ``Qformer.bert.embeddings.LayerNorm.*`` -> ``qformer.embeddings.layernorm.*``.
* transformers ``Blip2QFormerModel``: ``qformer.layernorm.*`` -> ``qformer.embeddings.layernorm.*``.
* transformers InstructBLIP: ``qformer.*`` names are xalign's names.
* queries: ``query_tokens`` / ``{m}_query_tokens`` -> ``query_tokens``.
* feature LayerNorm: ``ln_vision.*`` (LAVIS BLIP-2), ``vision_model.post_layernorm.*``
  (transformers) -> ``ln.*``.
* LLM projection: ``llm_proj.*``, ``language_projection.*`` -> ``llm_proj.*``.

Keys that belong to no part of a projector (vision tower, LLM, ``cls`` heads,
``position_ids`` buffers…) map to ``None``.
"""

from __future__ import annotations

import re

_QFORMER_SEGMENT = re.compile(r"(?:^|\.|_)(?:qformer|Qformer|QFormer)\.")
_BARE_QFORMER = ("embeddings.", "encoder.layer.", "layernorm.", "bert.")
_LN_PREFIXES = ("ln_vision.", "vision_model.post_layernorm.", "ln.")
_PROJ_PREFIXES = ("language_projection.", "llm_proj.")


def _strip_wrappers(key: str) -> str:
    for prefix in ("module.", "_orig_mod.", "model."):
        while key.startswith(prefix):
            key = key[len(prefix):]
    return key


def _qformer_inner(rest: str) -> str | None:
    """Map a key relative to the Q-Former module onto transformers' InstructBLIP names."""
    if rest.startswith("bert."):
        rest = rest[len("bert."):]
    if rest.startswith(("cls.", "pooler.")) or rest.endswith("position_ids"):
        return None
    if rest.startswith("layernorm."):  # transformers' BLIP-2 keeps the embedding norm at the top
        rest = "embeddings." + rest
    rest = rest.replace("embeddings.LayerNorm.", "embeddings.layernorm.")
    rest = rest.replace(".attention.self.", ".attention.attention.")
    rest = rest.replace(".crossattention.self.", ".crossattention.attention.")
    return "qformer." + rest


def normalize_qformer_key(key: str) -> str | None:
    """The :class:`QFormerProjector` state-dict name for a foreign key, or ``None``."""
    key = _strip_wrappers(key)
    if key == "query_tokens" or key.endswith(("_query_tokens", ".query_tokens")):
        return "query_tokens"
    for prefix in _LN_PREFIXES:
        if key.startswith(prefix):
            return "ln." + key[len(prefix):]
    for prefix in _PROJ_PREFIXES:
        if key.startswith(prefix):
            return "llm_proj." + key[len(prefix):]
    match = _QFORMER_SEGMENT.search(key)
    if match is not None:
        return _qformer_inner(key[match.end():])
    if key.startswith(_BARE_QFORMER):  # a Q-Former module's own state dict
        return _qformer_inner(key)
    return None


def is_cross_attention(name: str) -> bool:
    """Whether an xalign Q-Former tensor belongs to a cross-attention block."""
    return ".crossattention." in name
