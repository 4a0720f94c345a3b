"""Frame decoders: decord (fast random access) and PyAV (the fallback, reads anything FFmpeg does).

Both return ``uint8`` RGB frames ``[count, H, W, 3]`` at the indices of
:func:`~xalign_plugin_video.sampling.frame_indices`, and raise
:class:`NoFrames` for a video without a video stream or without frames. Any
other exception means "this backend could not read it".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xalign_plugin_video.sampling import frame_indices


class NoFrames(Exception):
    """The file is a readable container but holds no video frames."""


def read_decord(path: Path, count: int) -> np.ndarray:
    """Sample ``count`` frames with decord (``ImportError`` when it is not installed)."""
    import decord

    reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=1)
    total = len(reader)
    if total == 0:
        raise NoFrames("the video stream has 0 frames")
    batch = reader.get_batch(frame_indices(total, count))
    # decord returns its own NDArray, or a torch tensor if a caller set a global bridge
    return np.asarray(batch.asnumpy() if hasattr(batch, "asnumpy") else batch)


def read_av(path: Path, count: int) -> np.ndarray:
    """Sample ``count`` frames with PyAV, decoding forward from the start."""
    import av

    with av.open(str(path)) as container:
        if not container.streams.video:
            raise NoFrames("the file has no video stream (or its index was cut off)")
        declared = container.streams.video[0].frames  # 0 when the container does not say
    total = declared if declared > 0 else _count_frames(path)
    if total == 0:
        raise NoFrames("the video stream has 0 frames")
    frames, decoded = _decode_at(path, frame_indices(total, count))
    if frames is None:  # fewer frames than the header declares: sample what is there
        if decoded == 0:
            raise NoFrames("no frame of the video stream could be decoded")
        frames, _ = _decode_at(path, frame_indices(decoded, count))
    assert frames is not None
    return frames


def _count_frames(path: Path) -> int:
    import av

    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        return sum(1 for _ in container.decode(stream))


def _decode_at(path: Path, indices: list[int]) -> tuple[np.ndarray | None, int]:
    """Frames at ``indices`` (repeats allowed), or ``None`` and the number of frames decoded
    when the stream ends first."""
    import av

    wanted, last = set(indices), max(indices)
    found: dict[int, np.ndarray] = {}
    decoded = 0
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for index, frame in enumerate(container.decode(stream)):
            decoded = index + 1
            if index in wanted:
                found[index] = frame.to_ndarray(format="rgb24")
            if index == last:
                return np.stack([found[i] for i in indices]), decoded
    return None, decoded
