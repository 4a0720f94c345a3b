"""Entry point of the image plugin: registers the ``image`` modality."""

from __future__ import annotations

from collections.abc import Callable

from xalign import Modality, ProjectorDefaults, hookimpl
from xalign_plugin_image.encoders import ENCODERS, TINY_DIM, build_encoder
from xalign_plugin_image.loading import EXTENSIONS, load
from xalign_plugin_image.preprocess import preprocess
from xalign_plugin_image.synthetic import ATTRIBUTES, synthesize, write

MODALITY = Modality(
    name="image",
    cue=" image: ",
    extensions=EXTENSIONS,
    load=load,
    preprocess=preprocess,
    build_encoder=build_encoder,
    feature_dim=TINY_DIM,
    synthesize=synthesize,
    write=write,
    attributes=ATTRIBUTES,
    projector=ProjectorDefaults(kind="qformer", num_query_tokens=32),
    frames=1,
    encoders=ENCODERS,
    description="Still images (jpg/png/webp/bmp/gif), 224×224 with CLIP normalisation.",
)


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)
