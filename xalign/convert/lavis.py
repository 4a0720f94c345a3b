"""Import X-InstructBLIP (LAVIS) checkpoints as xalign Q-Former projectors, one per modality.

A LAVIS checkpoint is a pickled ``.pth`` dict, usually ``{"model": state_dict, ...}``;
it is opened with ``torch.load(weights_only=True)`` only, so a pickle holding
arbitrary objects is refused before anything in it runs. The Q-Former geometry
(hidden width, layers, cross-attention frequency, K, widths, vocabulary) is read
from the tensor shapes and must match an xalign preset (``paper`` for the released
checkpoints); the number of attention heads, which no tensor records, is the
preset's. Every tensor goes through the explicit table of
:mod:`xalign.convert.lavis_keys` with a shape check, and errors name the key.
Frozen encoder weights (``{m}_encoder.*``), if present, are not converted.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import torch

from xalign.convert.lavis_keys import ignorable, projector_prefixes, projector_table
from xalign.errors import CheckpointError, UnknownNameError
from xalign.projectors import QFORMER_PRESETS, ProjectorConfig, QFormerProjector
from xalign.projectors.safe_load import load_torch_pickle, unwrap_state_dict

log = logging.getLogger(__name__)

# LAVIS modality names -> xalign modality names, cues and frames (X-InstructBLIP defaults).
LAVIS_MODALITIES = {"image": "image", "video": "video", "audio": "audio", "pc": "3d"}
CUES = {"image": " image: ", "video": " video: ", "audio": " audio: ", "3d": " 3d: "}
FRAMES = {"video": 5, "audio": 2}
ENCODERS = {"image": "eva_clip_g", "video": "eva_clip_g", "audio": "beats",
            "3d": "ulip2_pointbert"}
VICUNA_BY_WIDTH = {4096: "lmsys/vicuna-7b-v1.1", 5120: "lmsys/vicuna-13b-v1.1"}
_LAYER = re.compile(r"encoder\.layer\.(\d+)\.")


@dataclass
class ConvertedProjector:
    """One modality written by :func:`convert_lavis`."""

    lavis_modality: str
    modality: str
    directory: Path
    config: ProjectorConfig
    num_tensors: int
    num_parameters: int


def load_lavis_state(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors of a LAVIS ``.pth`` checkpoint (``module.`` prefixes removed)."""
    state = unwrap_state_dict(load_torch_pickle(path), path)
    return {k.removeprefix("module."): v for k, v in state.items()}


def lavis_modalities(state: Mapping[str, torch.Tensor]) -> list[str]:
    """LAVIS modality names that have a Q-Former in ``state`` (``{m}_query_tokens``)."""
    return sorted(k[: -len("_query_tokens")] for k in state if k.endswith("_query_tokens")
                  and "." not in k)


def _need(state: Mapping[str, torch.Tensor], key: str, source: str) -> torch.Tensor:
    if key not in state:
        raise CheckpointError(f"{source}: key {key} is missing")
    return state[key]


def _geometry(state: Mapping[str, torch.Tensor], m: str, source: str) -> dict[str, object]:
    """Shapes that define the projector, read from the checkpoint."""
    q = f"{m}_Qformer.bert."
    if f"{m}_projection.weight" in state:
        raise CheckpointError(f"{source}: {m} is a projection-only (X-LLaVA) checkpoint; "
                              "only Q-Former checkpoints can be converted")
    query = _need(state, f"{m}_query_tokens", source)
    if query.ndim != 3 or query.shape[0] != 1:
        raise CheckpointError(f"{source}: key {m}_query_tokens has shape {tuple(query.shape)}, "
                              "expected [1, K, hidden]")
    words = state.get(q + "embeddings.word_embeddings.weight")
    if words is None:
        raise CheckpointError(
            f"{source}: key {q}embeddings.word_embeddings.weight is missing: this Q-Former was "
            "trained without instruction input (qformer_text_input=False), which xalign's "
            "instruction-aware Q-Former needs")
    layers = sorted({int(x.group(1)) for k in state if k.startswith(q)
                     for x in [_LAYER.search(k[len(q):])] if x})
    cross = sorted({int(x.group(1)) for k in state if k.startswith(q) and ".crossattention." in k
                    for x in [_LAYER.search(k[len(q):])] if x})
    if not layers or layers != list(range(len(layers))):
        raise CheckpointError(f"{source}: {m} Q-Former layers are not numbered 0..n-1: {layers}")
    freq = cross[1] - cross[0] if len(cross) > 1 else len(layers)
    if not cross or cross != list(range(0, len(layers), freq)):
        raise CheckpointError(f"{source}: {m} Q-Former has cross-attention in layers {cross}, "
                              "not every n-th layer from 0")
    return {
        "hidden_size": int(query.shape[2]),
        "num_tokens": int(query.shape[1]),
        "num_hidden_layers": len(layers),
        "cross_attention_frequency": freq,
        "intermediate_size": int(_need(
            state, q + "encoder.layer.0.intermediate_query.dense.weight", source).shape[0]),
        "max_position_embeddings": int(_need(
            state, q + "embeddings.position_embeddings.weight", source).shape[0]),
        "vocab_size": int(words.shape[0]),
        "feature_dim": int(_need(state, f"{m}_ln.weight", source).shape[0]),
        "llm_dim": int(_need(state, f"{m}_llm_proj.weight", source).shape[0]),
        "layers": len(layers),
        "cross": cross,
    }


def _preset_for(geo: Mapping[str, object], m: str, source: str) -> str:
    fields = ("hidden_size", "num_hidden_layers", "intermediate_size",
              "cross_attention_frequency", "max_position_embeddings")
    for name, preset in QFORMER_PRESETS.items():
        if all(getattr(preset, f) == geo[f] for f in fields):
            return name
    found = ", ".join(f"{f}={geo[f]}" for f in fields)
    raise CheckpointError(f"{source}: the {m} Q-Former ({found}) matches no xalign preset "
                          f"({', '.join(QFORMER_PRESETS)})")


def map_lavis_projector(state: Mapping[str, torch.Tensor], lavis_modality: str,
                        expected: Mapping[str, torch.Tensor], layers: int,
                        cross: Iterable[int], source: str) -> dict[str, torch.Tensor]:
    """Rename one modality's tensors through the table, checking every shape."""
    out: dict[str, torch.Tensor] = {}
    table = projector_table(lavis_modality, layers, cross)
    for src, dst in table:
        value = _need(state, src, source)
        want = tuple(expected[dst].shape)
        if tuple(value.shape) != want:
            raise CheckpointError(f"{source}: key {src} has shape {tuple(value.shape)}, "
                                  f"expected {want} (xalign {dst})")
        out[dst] = value
    known = {src for src, _ in table}
    extra = sorted(k for k in state if k.startswith(projector_prefixes(lavis_modality))
                   and k not in known and not ignorable(k, lavis_modality))
    if extra:
        raise CheckpointError(f"{source}: unexpected key {extra[0]}"
                              + (f" (+{len(extra) - 1} more)" if len(extra) > 1 else "")
                              + f" in the {lavis_modality} Q-Former projector")
    return out


def convert_lavis(
    checkpoint: str | Path,
    out_dir: str | Path,
    *,
    modalities: Iterable[str] | None = None,
    llm_dim: int | None = None,
    llm_id: str | None = None,
    encoder_ids: Mapping[str, str] | None = None,
    instruction_tokenizer: str = "bert-base-uncased",
) -> list[ConvertedProjector]:
    """Write one projector directory per modality under ``out_dir`` (named by xalign modality).

    ``modalities`` accepts LAVIS or xalign names (``pc`` or ``3d``); ``llm_dim``, when
    given, must equal the checkpoint's LLM width. ``llm_id`` defaults to the Vicuna
    v1.1 model of that width.
    """
    source = str(checkpoint)
    state = load_lavis_state(checkpoint)
    present = lavis_modalities(state)
    if not present:
        raise CheckpointError(f"{source}: no X-InstructBLIP Q-Former found "
                              "(no '<modality>_query_tokens' key)")
    wanted = present
    if modalities is not None:
        by_name = {LAVIS_MODALITIES.get(m, m): m for m in present} | {m: m for m in present}
        wanted = []
        for name in modalities:
            if name not in by_name:
                raise UnknownNameError("modality in this checkpoint", name, by_name)
            wanted.append(by_name[name])
    results = []
    for m in dict.fromkeys(wanted):
        results.append(_convert_one(state, m, Path(out_dir), source, llm_dim=llm_dim,
                                    llm_id=llm_id, encoder_ids=encoder_ids or {},
                                    instruction_tokenizer=instruction_tokenizer))
    return results


def _convert_one(state: Mapping[str, torch.Tensor], m: str, out_dir: Path, source: str, *,
                 llm_dim: int | None, llm_id: str | None, encoder_ids: Mapping[str, str],
                 instruction_tokenizer: str) -> ConvertedProjector:
    geo = _geometry(state, m, source)
    if llm_dim is not None and llm_dim != geo["llm_dim"]:
        raise CheckpointError(f"{source}: key {m}_llm_proj.weight projects to an LLM of width "
                              f"{geo['llm_dim']}, not the requested --llm-dim {llm_dim}")
    modality = LAVIS_MODALITIES.get(m, m)
    config = ProjectorConfig(
        kind="qformer", modality=modality, feature_dim=geo["feature_dim"],
        llm_dim=geo["llm_dim"], num_tokens=geo["num_tokens"],
        preset=_preset_for(geo, m, source),
        encoder_id=encoder_ids.get(modality, ENCODERS.get(modality, "")),
        llm_id=llm_id if llm_id is not None else VICUNA_BY_WIDTH.get(geo["llm_dim"], ""),
        cue=CUES.get(modality, f" {modality}: "), frames=FRAMES.get(modality, 1),
        instruction_tokenizer=instruction_tokenizer, instruction_vocab_size=geo["vocab_size"],
    )
    projector = QFormerProjector(config)
    mapped = map_lavis_projector(state, m, projector.state_dict(), geo["layers"], geo["cross"],
                                 source)
    projector.load_state_dict({k: v.float() for k, v in mapped.items()}, strict=True)
    directory = projector.save_pretrained(out_dir / modality)
    log.info("converted %s Q-Former of %s -> %s", m, source, directory)
    return ConvertedProjector(m, modality, directory, config, len(mapped),
                              projector.num_parameters())
