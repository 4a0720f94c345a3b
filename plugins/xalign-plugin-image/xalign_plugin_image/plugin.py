"""Entry point of the image plugin: registers the ``image`` modality and its encoders.

Everything heavy is referenced with :func:`xalign.lazy` and imports on first call, so
``xalign plugins`` reads this module without torch or transformers.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from xalign import Encoder, Modality, hookimpl, lazy
from xalign_plugin_image.loading import EXTENSIONS
from xalign_plugin_image.synthetic import ATTRIBUTES, EXCLUSIVE, QUESTIONS
from xalign_plugin_image.towers import TOWERS

MODALITY = Modality(
    name="image",
    cue=" image: ",
    extensions=EXTENSIONS,
    load=lazy("xalign_plugin_image.loading:load"),
    write=lazy("xalign_plugin_image.synthetic:write"),
    synthesize=lazy("xalign_plugin_image.synthetic:synthesize"),
    attributes=ATTRIBUTES,
    questions=QUESTIONS,
    exclusive=EXCLUSIVE,
    frames=1,
    encoder="tiny",
    description="Still images (jpg/png/webp/bmp/gif); each encoder applies its own transform.",
)

TINY = Encoder(
    id="tiny", modality="image", family="tiny",
    build=lazy("xalign_plugin_image.encoders.tiny_pretrained:build_pretrained_tiny_encoder"),
    preprocess=lazy("xalign_plugin_image.preprocess:preprocess"),
    feature_dim=256, tokens_per_frame=8, stand_in=True,
    # "tiny-pretrained": its name while it was opt-in
    aliases=("tiny-pretrained", "xalign-image-tiny-pretrained-1"),
    description="pretrained on the synthetic world (media-caption contrastive, one objective "
                "for every modality): the default",
)

DESIGNED = Encoder(
    id="tiny-designed", modality="image", family="tiny",
    build=lazy("xalign_plugin_image.encoders.tiny:build_tiny_encoder"),
    preprocess=lazy("xalign_plugin_image.preprocess:preprocess"),
    feature_dim=256, tokens_per_frame=1, stand_in=True,
    aliases=("xalign-image-tiny-2",),  # the id its projectors recorded in earlier releases
    description="opt-in baseline, the default of earlier releases: seeded random patch "
                "transformer with a contrast-normalised half per token, salient pool",
)


def tower_encoder(tower_id: str) -> Encoder:
    """The registered encoder of one pretrained tower of :data:`TOWERS`."""
    tower = TOWERS[tower_id]
    return Encoder(
        id=tower.id, modality="image", family=tower.family,
        build=partial(lazy("xalign_plugin_image.encoders.hf:build_tower"), tower.id),
        preprocess=partial(lazy("xalign_plugin_image.transforms:preprocess_for"), tower.id),
        feature_dim=tower.feature_dim, tokens_per_frame=tower.tokens,
        weights=tower.weights, description=tower.description,
    )


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(MODALITY)


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    register(TINY)
    register(DESIGNED)
    for tower_id in TOWERS:
        register(tower_encoder(tower_id))
