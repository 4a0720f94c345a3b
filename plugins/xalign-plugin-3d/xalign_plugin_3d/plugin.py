"""Entry point ``3d`` of the ``xalign`` group: registers the 3D modality."""

from __future__ import annotations

from collections.abc import Callable

from xalign import hookimpl
from xalign.modality import Modality
from xalign_plugin_3d.encoders import ENCODERS, TINY_DIM, build_encoder
from xalign_plugin_3d.loading import EXTENSIONS, load
from xalign_plugin_3d.preprocess import preprocess
from xalign_plugin_3d.synthetic import ATTRIBUTES, synthesize, write

MODALITY = Modality(
    name="3d",
    cue=" 3d: ",
    extensions=EXTENSIONS,
    load=load,
    preprocess=preprocess,
    build_encoder=build_encoder,
    feature_dim=TINY_DIM,
    synthesize=synthesize,
    write=write,
    attributes=ATTRIBUTES,
    frames=1,
    encoders=ENCODERS,
    description="Point clouds and meshes (ply/pcd/obj/off/npy/npz/xyz/txt), 8,192 points by "
                "farthest point sampling, centred in the unit sphere.",
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)
