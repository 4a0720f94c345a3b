"""Load a ULIP-2 PointBERT checkpoint into :class:`PointBert`.

ULIP-2 checkpoints are torch files ``{"state_dict": {"module.point_encoder.…": …,
"module.pc_projection": …, <text/image towers>}, "args": Namespace, …}``. They
are read with ``torch.load(weights_only=True)`` (``argparse.Namespace`` is the
one extra type allowed, since ULIP stores its command line there); a bare state
dict and ``.safetensors`` files work too. Keys go through the explicit table
below with a shape check per key; a mismatch names the key.

Hyper-parameters come from the tensor shapes (width, depth, group-encoder
sizes, projection width, qkv bias). What shapes cannot tell (heads, number and
size of groups, what to return) defaults to ULIP-2's values and may be set in a
``pointbert.json`` next to the checkpoint, e.g. ``{"num_heads": 6, "output": "global"}``.
"""

from __future__ import annotations

import argparse
import json
import logging
import pickle
from pathlib import Path

import torch

from xalign.errors import CheckpointError, UnknownNameError
from xalign_plugin_3d.encoders.pointbert import OUTPUTS, PointBert, PointBertConfig

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIXES = (".pt", ".pth", ".safetensors")
CONFIG_NAME = "pointbert.json"
CONFIG_KEYS = ("num_heads", "num_group", "group_size", "output")
ENCODER_PREFIX, PROJECTION_KEY = "point_encoder.", "pc_projection"

# ULIP key (below point_encoder.) -> our parameter, and whether ULIP stores it as a
# Conv1d weight [out, in, 1] where we hold a Linear weight [out, in].
STEM_TABLE: tuple[tuple[str, str, bool], ...] = (
    ("encoder.first_conv.0.weight", "group_encoder.lin1.weight", True),
    ("encoder.first_conv.0.bias", "group_encoder.lin1.bias", False),
    ("encoder.first_conv.1.weight", "group_encoder.bn1.weight", False),
    ("encoder.first_conv.1.bias", "group_encoder.bn1.bias", False),
    ("encoder.first_conv.1.running_mean", "group_encoder.bn1.running_mean", False),
    ("encoder.first_conv.1.running_var", "group_encoder.bn1.running_var", False),
    ("encoder.first_conv.3.weight", "group_encoder.lin2.weight", True),
    ("encoder.first_conv.3.bias", "group_encoder.lin2.bias", False),
    ("encoder.second_conv.0.weight", "group_encoder.lin3.weight", True),
    ("encoder.second_conv.0.bias", "group_encoder.lin3.bias", False),
    ("encoder.second_conv.1.weight", "group_encoder.bn2.weight", False),
    ("encoder.second_conv.1.bias", "group_encoder.bn2.bias", False),
    ("encoder.second_conv.1.running_mean", "group_encoder.bn2.running_mean", False),
    ("encoder.second_conv.1.running_var", "group_encoder.bn2.running_var", False),
    ("encoder.second_conv.3.weight", "group_encoder.lin4.weight", True),
    ("encoder.second_conv.3.bias", "group_encoder.lin4.bias", False),
    ("reduce_dim.weight", "reduce.weight", False),
    ("reduce_dim.bias", "reduce.bias", False),
    ("cls_token", "cls_token", False),
    ("cls_pos", "cls_pos", False),
    ("pos_embed.0.weight", "pos_mlp.0.weight", False),
    ("pos_embed.0.bias", "pos_mlp.0.bias", False),
    ("pos_embed.2.weight", "pos_mlp.2.weight", False),
    ("pos_embed.2.bias", "pos_mlp.2.bias", False),
    ("norm.weight", "norm.weight", False),
    ("norm.bias", "norm.bias", False),
)
# per block N: blocks.blocks.N.<ULIP> -> blocks.N.<ours>
BLOCK_TABLE: tuple[tuple[str, str], ...] = (
    ("norm1.weight", "ln1.weight"), ("norm1.bias", "ln1.bias"),
    ("attn.qkv.weight", "qkv.weight"),
    ("attn.proj.weight", "out.weight"), ("attn.proj.bias", "out.bias"),
    ("norm2.weight", "ln2.weight"), ("norm2.bias", "ln2.bias"),
    ("mlp.fc1.weight", "fc1.weight"), ("mlp.fc1.bias", "fc1.bias"),
    ("mlp.fc2.weight", "fc2.weight"), ("mlp.fc2.bias", "fc2.bias"),
)


def key_table(cfg: PointBertConfig) -> list[tuple[str, str, bool]]:
    """The full (ULIP key, our key, is_conv) table for a model of this config."""
    table = [(ENCODER_PREFIX + u, ours, conv) for u, ours, conv in STEM_TABLE]
    block_rows = list(BLOCK_TABLE) + ([("attn.qkv.bias", "qkv.bias")] if cfg.qkv_bias else [])
    for n in range(cfg.depth):
        table += [(f"{ENCODER_PREFIX}blocks.blocks.{n}.{u}", f"blocks.{n}.{ours}", False)
                  for u, ours in block_rows]
    if cfg.embed_dim is not None:
        table.append((PROJECTION_KEY, "projection", False))
    return table


def load_ulip_pointbert(source: str | Path) -> PointBert:
    """Build a :class:`PointBert` from a checkpoint file (or a folder holding one)."""
    file = _checkpoint_file(Path(source))
    state, original = _normalised_state(_read(file), file)
    cfg = infer_config(state, _overrides(file.parent / CONFIG_NAME), file)
    model = PointBert(cfg)
    ours = model.state_dict()
    loaded, missing = {}, []
    for ulip_key, our_key, conv in key_table(cfg):
        if ulip_key not in state:
            missing.append(original.get(ulip_key, ulip_key))
            continue
        tensor = state[ulip_key]
        want = tuple(ours[our_key].shape) + ((1,) if conv else ())
        if tuple(tensor.shape) != want:
            raise CheckpointError(
                f"{file}: checkpoint key {original[ulip_key]!r} has shape {tuple(tensor.shape)}, "
                f"expected {want} for a PointBERT with trans_dim={cfg.trans_dim}, "
                f"depth={cfg.depth}, encoder_dims={cfg.encoder_dims}"
            )
        loaded[our_key] = tensor.reshape(ours[our_key].shape).to(ours[our_key].dtype)
    if missing:
        raise CheckpointError(f"{file}: not a complete ULIP PointBERT checkpoint; missing "
                              f"{len(missing)} key(s): {', '.join(missing[:5])}")
    used = {u for u, _, _ in key_table(cfg)}
    extra = [k for k in state if k.startswith(ENCODER_PREFIX) and k not in used
             and not k.endswith("num_batches_tracked")]
    if extra:
        log.warning("%s: ignoring %d unknown point-encoder key(s): %s", file, len(extra),
                    ", ".join(extra[:5]))
    result = model.load_state_dict(loaded, strict=False)
    assert all(k.endswith("num_batches_tracked") for k in result.missing_keys), result
    return model


def infer_config(state: dict[str, torch.Tensor], overrides: dict, file: Path) -> PointBertConfig:
    """Hyper-parameters from tensor shapes, plus the ``pointbert.json`` overrides."""

    def shape(key: str) -> tuple[int, ...]:
        if ENCODER_PREFIX + key not in state:
            raise CheckpointError(f"{file}: not a ULIP PointBERT checkpoint: key "
                                  f"'{ENCODER_PREFIX}{key}' is missing")
        return tuple(state[ENCODER_PREFIX + key].shape)

    trans_dim = shape("cls_token")[-1]
    depth = 1 + max((int(k.split(".")[3]) for k in state
                     if k.startswith(ENCODER_PREFIX + "blocks.blocks.")), default=-1)
    in_dims = shape("encoder.first_conv.0.weight")[1]
    if in_dims != 3:
        raise CheckpointError(
            f"{file}: this PointBERT reads {in_dims} channels per point (xyz + colour, the "
            "coloured ULIP-2 variant); xalign's 3D preprocessing gives xyz only (DESIGN §2). "
            "Use the xyz ULIP-2 PointBERT checkpoint."
        )
    projection = state.get(PROJECTION_KEY)
    cfg = PointBertConfig(
        trans_dim=trans_dim,
        depth=depth,
        num_heads=max(1, trans_dim // 64),  # ULIP-2: 384 wide, 6 heads of 64
        encoder_dims=shape("reduce_dim.weight")[1],
        in_dims=in_dims,
        first_hidden=shape("encoder.first_conv.0.weight")[0],
        first_out=shape("encoder.first_conv.3.weight")[0],
        second_hidden=shape("encoder.second_conv.0.weight")[0],
        pos_hidden=shape("pos_embed.0.weight")[0],
        mlp_hidden=shape("blocks.blocks.0.mlp.fc1.weight")[0] if depth else 4 * trans_dim,
        qkv_bias=ENCODER_PREFIX + "blocks.blocks.0.attn.qkv.bias" in state,
        embed_dim=None if projection is None or projection.ndim != 2 else projection.shape[1],
        output="tokens" if projection is not None else "hidden",
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    if cfg.output != "hidden" and cfg.embed_dim is None:
        raise CheckpointError(f"{file}: output {cfg.output!r} needs 'pc_projection', which the "
                              "checkpoint lacks; set \"output\": \"hidden\" in " + CONFIG_NAME)
    return cfg


def _checkpoint_file(path: Path) -> Path:
    if path.is_dir():
        found = sorted(p for p in path.iterdir() if p.suffix in CHECKPOINT_SUFFIXES)
        if len(found) != 1:
            raise CheckpointError(f"{path}: expected exactly one checkpoint "
                                  f"({', '.join(CHECKPOINT_SUFFIXES)}), found {len(found)}")
        return found[0]
    if not path.is_file():
        raise CheckpointError(f"{path}: checkpoint not found")
    return path


def _read(file: Path) -> dict:
    try:
        if file.suffix == ".safetensors":
            from safetensors.torch import load_file

            return load_file(file)
        with torch.serialization.safe_globals([argparse.Namespace]):
            return torch.load(file, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, OSError, EOFError, ValueError) as exc:
        raise CheckpointError(f"{file}: cannot read checkpoint: {exc}") from exc


def _normalised_state(blob: object, file: Path) -> tuple[dict, dict]:
    """Tensors keyed without ``module.``; bare PointTransformer dicts get ``point_encoder.``."""
    state = blob.get("state_dict", blob) if isinstance(blob, dict) else None
    if not isinstance(state, dict):
        raise CheckpointError(f"{file}: expected a state dict, got {type(blob).__name__}")
    original = {}
    for key, value in state.items():
        if isinstance(value, torch.Tensor):
            original[key.removeprefix("module.")] = key
    if not any(k.startswith(ENCODER_PREFIX) for k in original):
        original = {(k if k == PROJECTION_KEY else ENCODER_PREFIX + k): v
                    for k, v in original.items()}
    return {k: state[v] for k, v in original.items()}, original


def _overrides(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        values = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise CheckpointError(f"{path}: cannot read: {exc}") from exc
    for key in values:
        if key not in CONFIG_KEYS:
            raise UnknownNameError(f"{CONFIG_NAME} key", key, CONFIG_KEYS)
    for key in ("num_heads", "num_group", "group_size"):
        if key in values and not (isinstance(values[key], int) and values[key] > 0):
            raise CheckpointError(f"{path}: {key} must be a positive integer, "
                                  f"got {values[key]!r}")
    if values.get("output", "tokens") not in OUTPUTS:
        raise UnknownNameError("PointBERT output", values["output"], OUTPUTS)
    return values
