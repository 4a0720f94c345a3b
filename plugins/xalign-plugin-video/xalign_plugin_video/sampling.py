"""How many frames a video becomes, and which ones.

DESIGN §2: 5 frames sampled uniformly (4 for the 13b model). Change the count
with ``XALIGN_VIDEO_FRAMES=4`` (read when the plugin registers, so that
``Modality.frames`` agrees) or, in-process, with :func:`set_num_frames`.
"""

from __future__ import annotations

import os

from xalign.errors import XalignError

DEFAULT_FRAMES = 5
FRAMES_ENV = "XALIGN_VIDEO_FRAMES"
_override: int | None = None


def num_frames() -> int:
    """Frames per video: :func:`set_num_frames` value, else ``$XALIGN_VIDEO_FRAMES``, else 5."""
    if _override is not None:
        return _override
    value = os.environ.get(FRAMES_ENV)
    if value is None:
        return DEFAULT_FRAMES
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count <= 0:
        raise XalignError(f"{FRAMES_ENV} must be a positive integer, got {value!r}")
    return count


def set_num_frames(count: int | None) -> None:
    """Override the frame count for this process (``None`` goes back to the environment).

    ``Modality.frames`` keeps the value it had at registration: set the
    environment variable instead when projectors are sized from it.
    """
    global _override
    if count is not None and (not isinstance(count, int) or count <= 0):
        raise XalignError(f"frame count must be a positive integer, got {count!r}")
    _override = count


def frame_indices(total: int, count: int) -> list[int]:
    """``count`` indices into ``total`` frames: the centre of each of ``count`` equal segments.

    Symmetric in time (no bias towards the first frame); a video shorter than
    ``count`` repeats frames (a 1-frame video gives that frame ``count`` times).
    """
    if total <= 0:
        raise ValueError("a video with no frames has nothing to sample")
    return [min(total - 1, int((i + 0.5) * total / count)) for i in range(count)]
