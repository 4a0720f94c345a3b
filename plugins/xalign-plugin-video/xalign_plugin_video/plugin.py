"""Entry point of the video plugin: registers the ``video`` modality and its encoders.

The encoders are the image plugin's, applied per frame: the tiny one (plus a motion
token) and every pretrained tower the image plugin publishes (:data:`TOWERS`), under the
same ids. Heavy modules import on first call (:func:`xalign.lazy`).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from xalign_plugin_image.towers import TOWERS

from xalign import Encoder, Modality, hookimpl, lazy
from xalign_plugin_video.loading import EXTENSIONS
from xalign_plugin_video.sampling import num_frames
from xalign_plugin_video.synthetic import ATTRIBUTES, EXCLUSIVE, QUESTIONS

TINY_ALIASES = ("xalign-video-tiny-2",)  # what projectors saved before this layout record


def make_modality() -> Modality:
    """The video modality, with ``frames`` as configured now (see ``sampling``)."""
    return Modality(
        name="video",
        cue=" video: ",
        extensions=EXTENSIONS,
        load=lazy("xalign_plugin_video.loading:load"),
        write=lazy("xalign_plugin_video.synthetic:write"),
        synthesize=lazy("xalign_plugin_video.synthetic:synthesize"),
        attributes=ATTRIBUTES,
        questions=QUESTIONS,
        exclusive=EXCLUSIVE,
        frames=num_frames(),
        encoder="tiny",
        description="Videos as uniformly sampled frames (5 by default), each encoded as an image.",
    )


def encoders() -> list[Encoder]:
    """The tiny video encoder and one per-frame encoder per image tower."""
    preprocess = lazy("xalign_plugin_video.preprocess:preprocess_for")
    found = [Encoder(
        id="tiny", modality="video", family="tiny",
        build=lazy("xalign_plugin_video.encoders:build_tiny_encoder"),
        preprocess=partial(preprocess, "tiny"),
        feature_dim=256, tokens_per_frame=2, stand_in=True, aliases=TINY_ALIASES,
        description="tiny image network per frame + a motion token",
    ), Encoder(
        id="tiny-pretrained", modality="video", family="tiny",
        build=lazy("xalign_plugin_video.tiny_pretrained:build_pretrained_tiny_encoder"),
        preprocess=partial(preprocess, "tiny"),
        feature_dim=256, tokens_per_frame=8, stand_in=True,
        aliases=("xalign-video-tiny-pretrained-1",),
        description="pretrained on the synthetic world's clips (media-caption contrastive, "
                    "from the image encoder's weights); opt-in: its projector reads 88% "
                    "alone but composes worse than the default's (README)",
    )]
    for tower in TOWERS.values():
        found.append(Encoder(
            id=tower.id, modality="video", family=tower.family,
            build=partial(lazy("xalign_plugin_image:build_tower"), tower.id),
            preprocess=partial(preprocess, tower.id),
            feature_dim=tower.feature_dim, tokens_per_frame=tower.tokens,
            weights=tower.weights, description=f"{tower.description}, per frame",
        ))
    return found


@hookimpl
def register_modalities(register: Callable[[Modality], None]) -> None:
    register(make_modality())


@hookimpl
def register_encoders(register: Callable[[Encoder], None]) -> None:
    for encoder in encoders():
        register(encoder)
