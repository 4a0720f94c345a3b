"""Explicit key-mapping table: LAVIS X-InstructBLIP names -> xalign Q-Former projector names.

LAVIS (``lavis/models/blip2_models/blip2_vicuna_xinstruct.py``) keeps, per modality
``m`` (``image``, ``video``, ``audio``, ``pc``):

* ``{m}_Qformer.bert.*``: a BERT-style Q-Former (``lavis/models/blip2_models/Qformer.py``)
  whose attention blocks are ``attention.self.{query,key,value}`` + ``attention.output``,
  cross-attention ``crossattention.*`` in every ``cross_attention_freq``-th layer, and two
  feed-forward paths (``intermediate``/``output`` for the instruction tokens,
  ``intermediate_query``/``output_query`` for the queries);
* ``{m}_query_tokens`` ``[1, K, hidden]``, ``{m}_ln.*`` (feature LayerNorm) and
  ``{m}_llm_proj.*`` (``Linear(hidden, llm_dim)``).

transformers' InstructBLIP Q-Former (what xalign builds on) renames ``attention.self``
to ``attention.attention`` and ``embeddings.LayerNorm`` to ``embeddings.layernorm``;
everything else keeps its name under the ``qformer.`` prefix.
"""

from __future__ import annotations

from collections.abc import Iterable

_PARAMS = ("weight", "bias")


def _attention_rows(i: int, block: str) -> list[tuple[str, str]]:
    src, dst = f"encoder.layer.{i}.{block}", f"qformer.encoder.layer.{i}.{block}"
    rows = [(f"{src}.self.{proj}.{p}", f"{dst}.attention.{proj}.{p}")
            for proj in ("query", "key", "value") for p in _PARAMS]
    rows += [(f"{src}.output.{sub}.{p}", f"{dst}.output.{sub}.{p}")
             for sub in ("dense", "LayerNorm") for p in _PARAMS]
    return rows


def qformer_table(num_layers: int, cross_layers: Iterable[int]) -> list[tuple[str, str]]:
    """(name under ``{m}_Qformer.bert.``, xalign name) for every Q-Former tensor."""
    cross = set(cross_layers)
    rows = [
        ("embeddings.word_embeddings.weight", "qformer.embeddings.word_embeddings.weight"),
        ("embeddings.position_embeddings.weight", "qformer.embeddings.position_embeddings.weight"),
        *((f"embeddings.LayerNorm.{p}", f"qformer.embeddings.layernorm.{p}") for p in _PARAMS),
    ]
    for i in range(num_layers):
        rows += _attention_rows(i, "attention")
        if i in cross:
            rows += _attention_rows(i, "crossattention")
        for path in ("intermediate", "intermediate_query"):
            rows += [(f"encoder.layer.{i}.{path}.dense.{p}",
                      f"qformer.encoder.layer.{i}.{path}.dense.{p}") for p in _PARAMS]
        for path in ("output", "output_query"):
            rows += [(f"encoder.layer.{i}.{path}.{sub}.{p}",
                      f"qformer.encoder.layer.{i}.{path}.{sub}.{p}")
                     for sub in ("dense", "LayerNorm") for p in _PARAMS]
    return rows


def projector_table(modality: str, num_layers: int, cross_layers: Iterable[int]
                    ) -> list[tuple[str, str]]:
    """(full LAVIS key, xalign key) for every tensor of one modality's Q-Former projector."""
    rows = [
        (f"{modality}_query_tokens", "query_tokens"),
        *((f"{modality}_ln.{p}", f"ln.{p}") for p in _PARAMS),
        *((f"{modality}_llm_proj.{p}", f"llm_proj.{p}") for p in _PARAMS),
    ]
    prefix = f"{modality}_Qformer.bert."
    rows += [(prefix + src, dst) for src, dst in qformer_table(num_layers, cross_layers)]
    return rows


def ignorable(key: str, modality: str) -> bool:
    """Keys under a modality's projector prefixes that hold nothing to convert."""
    return key in (f"{modality}_Qformer.bert.embeddings.position_ids",) or key.startswith(
        f"{modality}_Qformer.cls."
    )


def projector_prefixes(modality: str) -> tuple[str, ...]:
    """Prefixes whose keys all belong to the modality's Q-Former projector."""
    return (f"{modality}_Qformer.", f"{modality}_query_tokens", f"{modality}_ln.",
            f"{modality}_llm_proj.")
