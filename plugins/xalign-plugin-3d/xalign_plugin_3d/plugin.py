"""Entry point ``3d`` of the ``xalign`` group: registers the 3D modality and its encoders.

Both encoders read the same input, ULIP-2's: 8,192 points by farthest point sampling,
centred in the unit sphere, colour dropped (:mod:`.preprocess`). Heavy modules import on
first call (:func:`xalign.lazy`).
"""

from __future__ import annotations

from collections.abc import Callable

from xalign import Encoder, Modality, hookimpl, lazy
from xalign_plugin_3d.encoders import is_pointbert_checkpoint
from xalign_plugin_3d.loading import EXTENSIONS
from xalign_plugin_3d.synthetic import ATTRIBUTES, EXCLUSIVE, QUESTIONS

POINTS = lazy("xalign_plugin_3d.preprocess:preprocess")

MODALITY = Modality(
    name="3d",
    cue=" 3d: ",
    extensions=EXTENSIONS,
    load=lazy("xalign_plugin_3d.loading:load"),
    write=lazy("xalign_plugin_3d.synthetic:write"),
    synthesize=lazy("xalign_plugin_3d.synthetic:synthesize"),
    attributes=ATTRIBUTES,
    questions=QUESTIONS,
    exclusive=EXCLUSIVE,
    frames=1,
    encoder="tiny",
    description="Point clouds and meshes (ply/pcd/obj/off/npy/npz/xyz/txt), 8,192 points by "
                "farthest point sampling, centred in the unit sphere.",
)

ENCODERS = (
    Encoder(id="tiny", modality="3d", family="tiny",
            build=lazy("xalign_plugin_3d.encoders.tiny_pretrained:"
                       "build_pretrained_tiny_encoder"),
            preprocess=POINTS, feature_dim=256, tokens_per_frame=8, stand_in=True,
            aliases=("xalign-3d-tiny-pretrained-1",),
            description="pretrained on the synthetic world (media-caption contrastive, "
                        "one objective for every modality): the default"),
    Encoder(id="tiny-designed", modality="3d", family="tiny",
            build=lazy("xalign_plugin_3d.encoders.tiny:build_tiny_encoder"),
            preprocess=POINTS, feature_dim=256, tokens_per_frame=2, stand_in=True,
            aliases=("xalign-3d-tiny-3",),
            description="opt-in baseline, designed for the synthetic attributes: "
                        "seeded voxel-cell transformer, pooled, plus a local-geometry token"),
    Encoder(id="ulip2-pointbert", modality="3d", family="ulip2-pointbert",
            build=lazy("xalign_plugin_3d.encoders:build_pointbert_encoder"),
            preprocess=POINTS, feature_dim=512, tokens_per_frame=None,
            matches=is_pointbert_checkpoint, aliases=("ulip2-pointbert:",),
            description="ULIP-2 PointBERT (local checkpoint), no colour"),
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    for encoder in ENCODERS:
        register(encoder)
