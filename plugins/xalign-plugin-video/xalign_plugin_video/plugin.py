"""Entry point of the video plugin: registers the ``video`` modality."""

from __future__ import annotations

from collections.abc import Callable

from xalign import Modality, ProjectorDefaults, hookimpl
from xalign_plugin_video.encoders import ENCODERS, TINY_DIM, build_encoder
from xalign_plugin_video.loading import EXTENSIONS, load
from xalign_plugin_video.preprocess import preprocess
from xalign_plugin_video.sampling import num_frames
from xalign_plugin_video.synthetic import ATTRIBUTES, synthesize, write


def make_modality() -> Modality:
    """The video modality, with ``frames`` as configured now (see ``sampling``)."""
    return Modality(
        name="video",
        cue=" video: ",
        extensions=EXTENSIONS,
        load=load,
        preprocess=preprocess,
        build_encoder=build_encoder,
        feature_dim=TINY_DIM,
        synthesize=synthesize,
        write=write,
        attributes=ATTRIBUTES,
        projector=ProjectorDefaults(kind="qformer", num_query_tokens=32),
        frames=num_frames(),
        encoders=ENCODERS,
        description="Videos as uniformly sampled frames (5 by default), each encoded as an image.",
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(make_modality())
