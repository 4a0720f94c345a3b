"""A valid plugin with one modality, 'toy', and its one encoder."""

from pathlib import Path

import torch

from xalign import Encoder, Modality, SyntheticSample, hookimpl
from xalign.encoders import FrozenEncoder


class _Mean(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], -1, 4)


def _write(raw: torch.Tensor, path: Path) -> Path:
    path = Path(path).with_suffix(".toy")
    path.write_text(",".join(map(str, raw.tolist())))
    return path


TOY = Modality(
    name="toy",
    cue=" toy: ",
    extensions=(".toy",),
    load=lambda p: torch.tensor([float(v) for v in Path(p).read_text().split(",")]),
    synthesize=lambda seed: SyntheticSample(torch.full((8,), float(seed)), f"toy {seed}",
                                            {"parity": ("even", "odd")[seed % 2]}),
    write=_write,
    attributes={"parity": ("even", "odd")},
)

TOY_ENCODER = Encoder(
    id="tiny", modality="toy", family="tiny",
    build=lambda source: FrozenEncoder(torch.nn.Sequential(torch.nn.Identity(), _Mean()), 4,
                                       "toy"),
    preprocess=lambda raw, train: raw.reshape(1, -1),
    feature_dim=4, tokens_per_frame=2, stand_in=True, aliases=("toy-v0",),
)


@hookimpl
def register_modalities(register):
    register(TOY)


@hookimpl
def register_encoders(register):
    register(TOY_ENCODER)
