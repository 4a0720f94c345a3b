"""Pretrained vision towers from transformers: CLIP, SigLIP, EVA-CLIP-g (BLIP-2 / InstructBLIP).

``source`` is a local directory or a hub id whose ``config.json`` names either
a vision-only model (``clip_vision_model``…) or a full checkpoint (``clip``,
``siglip``, ``blip-2``, ``instructblip``…) whose vision tower is taken out by
the ``vision_model.`` key prefix. For a full checkpoint only the weight shards
that hold that prefix are read (on the hub: downloaded), so taking the
EVA-CLIP-g tower of an InstructBLIP checkpoint does not fetch the LLM. Every
tower weight must be found with the right shape, else :class:`CheckpointError`:
a tower is never silently left at random initialisation. Remote code is never
run.

The input is exactly what the tower's own image processor makes
(:mod:`xalign_plugin_image.transforms`, one :class:`~.towers.Tower` per registered id). It
returns
``last_hidden_state`` ``[N, T, hidden_size]`` (SigLIP applies its final
LayerNorm to it; CLIP's does not). BLIP-2 / InstructBLIP towers (EVA-CLIP-g)
return the features *before* ``post_layernorm``: that norm is LAVIS's
``ln_vision``, which X-InstructBLIP keeps per modality inside the projector
(``{m}_ln`` → the Q-Former projector's ``ln``), so applying it here would
normalise twice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import transformers
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import EntryNotFoundError, LocalEntryNotFoundError
from safetensors import safe_open
from torch import nn

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import CheckpointError, UnknownNameError
from xalign_plugin_image.towers import TOWERS

# vision-only model_type -> transformers class
VISION_CLASSES = {
    "clip_vision_model": "CLIPVisionModel",
    "siglip_vision_model": "SiglipVisionModel",
    "blip_2_vision_model": "Blip2VisionModel",
    "instructblip_vision_model": "InstructBlipVisionModel",
    "instructblipvideo_vision_model": "InstructBlipVideoVisionModel",
}
# full-checkpoint model_type -> the model_type of its vision tower (under "vision_model.")
COMPOSITES = {
    "clip": "clip_vision_model",
    "siglip": "siglip_vision_model",
    "blip-2": "blip_2_vision_model",
    "instructblip": "instructblip_vision_model",
    "instructblipvideo": "instructblipvideo_vision_model",
}
PREFIX = "vision_model."


class VisionTower(nn.Module):
    """The tower's processor output ``[N, 3, S, S]`` -> ``last_hidden_state``."""

    def __init__(self, model: nn.Module, pre_norm: bool = False) -> None:
        super().__init__()
        self.model = model
        self.pre_norm = pre_norm

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if self.pre_norm:  # last encoder layer's output, before post_layernorm
            return self.model(pixel_values=images, output_hidden_states=True).hidden_states[-1]
        return self.model(pixel_values=images).last_hidden_state


def build_tower(tower_id: str, source: str | None = None) -> FrozenEncoder:
    """The registered tower ``tower_id``: its default weights, or ``source`` (a local
    directory or hub id of a checkpoint with the same input size)."""
    tower = TOWERS[tower_id]
    encoder = build_hf_encoder(source or tower.weights)
    size = encoder.backbone.model.config.image_size
    if size != tower.transform.crop:
        raise CheckpointError(f"{source}: a {size}-px tower; encoder {tower_id!r} feeds "
                              f"{tower.transform.crop}-px images (pick the tower id of that size)")
    return encoder


def build_hf_encoder(source: str) -> FrozenEncoder:
    """Load the vision tower named by ``source`` (local directory or hub id), frozen."""
    config = _read_json(source, "config.json", required=True)
    model_type = config.get("model_type")
    if model_type in COMPOSITES:
        model = _tower_from_full_checkpoint(source, model_type)
    elif model_type in VISION_CLASSES:
        model = _tower_from_vision_checkpoint(source, model_type)
    else:
        raise UnknownNameError(
            "image encoder model_type", str(model_type), [*VISION_CLASSES, *COMPOSITES],
            hint=f"read from {source}/config.json; 'tiny' is the built-in encoder",
        )
    model = model.float()
    pre_norm = "blip" in str(model.config.model_type)
    return FrozenEncoder(VisionTower(model, pre_norm=pre_norm), model.config.hidden_size,
                         encoder_id=str(source))


def _tower_from_vision_checkpoint(source: str, model_type: str) -> nn.Module:
    cls = getattr(transformers, VISION_CLASSES[model_type])
    try:
        model, info = cls.from_pretrained(source, output_loading_info=True)
    except Exception as exc:
        raise CheckpointError(f"could not load {cls.__name__} from {source}: {exc}") from exc
    missing = info.get("missing_keys") or []
    if missing:
        raise CheckpointError(f"{source}: the checkpoint lacks {len(missing)} weights of the "
                              f"{cls.__name__}, e.g. {sorted(missing)[:3]}")
    return model


def _tower_from_full_checkpoint(source: str, model_type: str) -> nn.Module:
    tower_type = COMPOSITES[model_type]
    cls = getattr(transformers, VISION_CLASSES[tower_type])
    try:
        vision_config = transformers.AutoConfig.from_pretrained(source).vision_config
    except Exception as exc:
        raise CheckpointError(f"could not read the vision config of {source}: {exc}") from exc
    model = cls(vision_config)
    expected = model.state_dict()
    state: dict[str, torch.Tensor] = {}
    for key, tensor in _prefixed_weights(source, PREFIX).items():
        # the tower class may or may not keep its own "vision_model." wrapper
        name = key if key in expected else key[len(PREFIX):]
        if name not in expected:
            continue
        if tuple(tensor.shape) != tuple(expected[name].shape):
            raise CheckpointError(f"{source}: weight {key} has shape {tuple(tensor.shape)}, "
                                  f"the {cls.__name__} expects {tuple(expected[name].shape)}")
        state[name] = tensor
    missing = sorted(set(expected) - set(state))
    if missing:
        raise CheckpointError(f"{source}: no {PREFIX}* weights for {len(missing)} parameters of "
                              f"the {cls.__name__}, e.g. {missing[:3]}")
    model.load_state_dict(state, strict=True)
    return model


def _prefixed_weights(source: str, prefix: str) -> dict[str, torch.Tensor]:
    """Tensors whose key starts with ``prefix``, reading only the shards that hold them."""
    for index_name, single in (("model.safetensors.index.json", "model.safetensors"),
                               ("pytorch_model.bin.index.json", "pytorch_model.bin")):
        index = _read_json(source, index_name, required=False)
        if index is not None:
            shards = sorted({f for k, f in index["weight_map"].items() if k.startswith(prefix)})
        elif _resolve(source, single, required=False) is not None:
            shards = [single]
        else:
            continue
        weights: dict[str, torch.Tensor] = {}
        for shard in shards:
            weights.update(_read_shard(_resolve(source, shard, required=True), prefix))
        return weights
    raise CheckpointError(f"{source}: no model.safetensors or pytorch_model.bin "
                          "(nor their sharded index) found")


def _read_shard(path: Path, prefix: str) -> dict[str, torch.Tensor]:
    if path.suffix == ".safetensors":
        with safe_open(str(path), framework="pt") as handle:
            names = [k for k in handle.keys() if k.startswith(prefix)]  # noqa: SIM118
            return {k: handle.get_tensor(k) for k in names}
    state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    return {k: v for k, v in state.items() if k.startswith(prefix)}


def _resolve(source: str, filename: str, required: bool) -> Path | None:
    """``filename`` of a local directory or a hub repository; ``None`` when absent."""
    local = Path(source).expanduser()
    if local.is_dir():
        path = local / filename
        if path.is_file():
            return path
        if required:
            raise CheckpointError(f"{local} has no {filename}")
        return None
    try:
        return Path(hf_hub_download(str(source), filename))
    except LocalEntryNotFoundError as exc:  # offline and not cached: say so, never guess
        if not required:
            return None
        raise CheckpointError(f"{source!r} is not a local directory and {filename} is not in "
                              f"the hub cache (offline?): {exc}") from exc
    except EntryNotFoundError:
        if required:
            raise CheckpointError(f"hub repository {source!r} has no {filename}") from None
        return None
    except Exception as exc:
        if not required:
            return None
        raise CheckpointError(f"{source!r} is neither a local directory nor a reachable hub "
                              f"model id: {type(exc).__name__}: {exc}") from exc


def _read_json(source: str, filename: str, required: bool) -> dict[str, Any] | None:
    path = _resolve(source, filename, required)
    if path is None:
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: unreadable JSON: {exc}") from exc
