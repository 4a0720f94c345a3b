"""Read and write BEATs checkpoints in the official layout (e.g. ``BEATs_iter3_plus_AS2M.pt``).

An official checkpoint is a torch file holding ``{"cfg": dict, "model": state_dict}``.
Its parameter names are mapped onto :class:`~.beats_model.BEATs` through the
explicit table of :func:`key_table`; every key is shape-checked and a missing,
mis-shaped or unexpected key fails with its name. Loading uses
``torch.load(weights_only=True)``, which only accepts tensors and plain data.
"""

from __future__ import annotations

from pathlib import Path

import torch

from xalign.errors import CheckpointError
from xalign_plugin_audio.encoders.beats_model import BEATs, BEATsConfig

# The positional convolution is stored weight-normalised (norm over every dim but the kernel).
POS_CONV_G = "encoder.pos_conv.0.weight_g"
POS_CONV_V = "encoder.pos_conv.0.weight_v"
# the same two tensors as saved by torch's newer parametrize-based weight_norm
POS_CONV_ALIASES = {POS_CONV_G: "encoder.pos_conv.0.parametrizations.weight.original0",
                    POS_CONV_V: "encoder.pos_conv.0.parametrizations.weight.original1"}
IGNORED_PREFIXES = ("predictor.",)  # the AudioSet classifier of fine-tuned checkpoints
LAYER_KEYS = {  # official name inside encoder.layers.N -> ours inside blocks.N
    "self_attn.q_proj": "attn.q", "self_attn.k_proj": "attn.k", "self_attn.v_proj": "attn.v",
    "self_attn.out_proj": "attn.out", "self_attn_layer_norm": "attn_norm",
    "fc1": "ffn_in", "fc2": "ffn_out", "final_layer_norm": "ffn_norm",
}


def key_table(cfg: BEATsConfig) -> dict[str, str]:
    """Official key -> our parameter name, for every tensor copied one-to-one."""
    table = {"patch_embedding.weight": "patch_embed.weight",
             "layer_norm.weight": "patch_norm.weight", "layer_norm.bias": "patch_norm.bias",
             "encoder.pos_conv.0.bias": "pos_conv.bias",
             "encoder.layer_norm.weight": "encoder_norm.weight",
             "encoder.layer_norm.bias": "encoder_norm.bias"}
    if cfg.conv_bias:
        table["patch_embedding.bias"] = "patch_embed.bias"
    if cfg.embed_dim != cfg.encoder_embed_dim:
        table |= {"post_extract_proj.weight": "proj.weight", "post_extract_proj.bias": "proj.bias"}
    if cfg.relative_position_embedding:  # one table, shared by all layers, stored under layer 0
        table["encoder.layers.0.self_attn.relative_attention_bias.weight"] = "rel_bias.weight"
    for i in range(cfg.encoder_layers):
        official, ours = f"encoder.layers.{i}.", f"blocks.{i}."
        for name, target in LAYER_KEYS.items():
            for kind in ("weight", "bias"):
                table[f"{official}{name}.{kind}"] = f"{ours}{target}.{kind}"
        if cfg.gru_rel_pos:
            table[f"{official}self_attn.grep_linear.weight"] = f"{ours}attn.gate.weight"
            table[f"{official}self_attn.grep_linear.bias"] = f"{ours}attn.gate.bias"
            table[f"{official}self_attn.grep_a"] = f"{ours}attn.gate_scale"
    return table


def shared_copies(cfg: BEATsConfig) -> list[str]:
    """Keys of the layer-0 bias table repeated under later layers (saved by the official code)."""
    if not cfg.relative_position_embedding:
        return []
    return [f"encoder.layers.{i}.self_attn.relative_attention_bias.weight"
            for i in range(1, cfg.encoder_layers)]


def _take(state: dict, key: str, shape: torch.Size, path: Path) -> torch.Tensor:
    if key not in state:
        alias = POS_CONV_ALIASES.get(key)
        if alias is None or alias not in state:
            raise CheckpointError(f"{path}: BEATs checkpoint is missing key {key!r}")
        key = alias
    tensor = state[key]
    if not isinstance(tensor, torch.Tensor) or tensor.shape != shape:
        got = tuple(tensor.shape) if isinstance(tensor, torch.Tensor) else type(tensor).__name__
        raise CheckpointError(f"{path}: key {key!r} has shape {got}, expected {tuple(shape)} "
                              "for this checkpoint's cfg")
    return tensor


def _read(path: Path) -> tuple[BEATsConfig, dict]:
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"{path}: not a readable torch checkpoint "
                              f"({type(exc).__name__}: {exc})") from exc
    if not isinstance(checkpoint, dict) or not {"cfg", "model"} <= set(checkpoint):
        found = (sorted(map(str, checkpoint))[:8] if isinstance(checkpoint, dict)
                 else type(checkpoint).__name__)
        raise CheckpointError(f"{path}: not a BEATs checkpoint: expected keys 'cfg' and 'model', "
                              f"found {found}")
    cfg = BEATsConfig.from_dict(dict(checkpoint["cfg"]))
    if cfg.input_patch_size <= 0:
        raise CheckpointError(f"{path}: cfg.input_patch_size must be positive, "
                              f"got {cfg.input_patch_size}")
    return cfg, checkpoint["model"]


def load_beats(path: str | Path) -> BEATs:
    """Build :class:`BEATs` from an official-layout checkpoint file (eval mode)."""
    path = Path(path)
    cfg, state = _read(path)
    try:
        model = BEATs(cfg)
    except ValueError as exc:
        raise CheckpointError(f"{path}: unsupported BEATs cfg: {exc}") from exc
    own = model.state_dict()
    weights = {ours: _take(state, key, own[ours].shape, path)
               for key, ours in key_table(cfg).items()}
    g = _take(state, POS_CONV_G, torch.Size([1, 1, cfg.conv_pos]), path)
    v = _take(state, POS_CONV_V, own["pos_conv.weight"].shape, path)
    weights["pos_conv.weight"] = g * v / v.norm(dim=(0, 1), keepdim=True)
    for key in shared_copies(cfg):
        if key in state:
            _take(state, key, own["rel_bias.weight"].shape, path)
    used = set(key_table(cfg)) | {POS_CONV_G, POS_CONV_V} | set(POS_CONV_ALIASES.values())
    unexpected = sorted(k for k in state if k not in used and k not in shared_copies(cfg)
                        and not k.startswith(IGNORED_PREFIXES))
    if unexpected:
        more = " …" if len(unexpected) > 6 else ""
        raise CheckpointError(f"{path}: unexpected keys for this BEATs cfg: "
                              f"{', '.join(unexpected[:6])}{more}")
    model.load_state_dict(weights, strict=True)
    return model.eval()


def official_state_dict(model: BEATs) -> dict[str, torch.Tensor]:
    """``model``'s weights under the official key names (the inverse of :func:`load_beats`)."""
    own = model.state_dict()
    state = {key: own[ours].clone() for key, ours in key_table(model.cfg).items()}
    weight = own["pos_conv.weight"]
    state[POS_CONV_G] = weight.norm(dim=(0, 1), keepdim=True)
    state[POS_CONV_V] = weight.clone()
    for key in shared_copies(model.cfg):
        state[key] = own["rel_bias.weight"].clone()
    return state


def save_beats(model: BEATs, path: str | Path) -> Path:
    """Write ``{"cfg": ..., "model": ...}`` in the official layout; returns the path."""
    path = Path(path)
    torch.save({"cfg": model.cfg.to_dict(), "model": official_state_dict(model)}, path)
    return path
