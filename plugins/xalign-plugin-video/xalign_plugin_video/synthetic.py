"""The offline synthetic world for video: a coloured ball moving across a plain grey background.

16 frames of 112×112 (uint8 ``[16, 112, 112, 3]``, the type :func:`load`
returns). Attributes: direction, speed (slow 1–2 px/frame, fast 3.5–5) and
colour. Quantities in [0, 1]: ``speed`` (pixels per frame over 1–5),
``size`` (ball radius over its range) and ``brightness`` (mean pixel value).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from xalign.errors import MediaError
from xalign.modality import SyntheticSample

FRAMES, SIDE, FPS = 16, 112, 8
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "direction": ("left", "right", "up", "down"),
    "speed": ("slow", "fast"),
    "colour": ("red", "green", "blue", "yellow"),
}
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 70, 220),
    "yellow": (235, 210, 40),
}
SPEED_RANGES = {"slow": (1.0, 2.0), "fast": (3.5, 5.0)}  # pixels per frame
SPEED_SPAN = (1.0, 5.0)
RADIUS_RANGE = (8.0, 16.0)
_STEP = {"left": (-1, 0), "right": (1, 0), "up": (0, -1), "down": (0, 1)}
_MOTION = {"left": "to the left", "right": "to the right", "up": "upwards", "down": "downwards"}
_ADVERB = {"slow": "slowly", "fast": "quickly"}
_TEMPLATES = (
    "A {colour} ball moves {adverb} {motion}.",
    "A video of a {colour} ball travelling {motion}, {speed}.",
    "The {colour} ball rolls {motion} at a {speed} pace.",
)
QUESTIONS = {  # how DisCRn asks about these across two inputs (Modality.questions)
    "colour": "Which one is {value}?",
    "direction": "Which one is moving {value}?",
    "speed": ("Which one is faster?", "Which one is slower?"),
    "size": ("Which of the two is larger?", "Which of the two is smaller?"),
    "brightness": ("Which one is brighter?", "Which one is darker?"),
}
EXCLUSIVE = ("colour", "direction")


def synthesize(seed: int) -> SyntheticSample:
    """A deterministic clip ``uint8 [16, 112, 112, 3]`` with its caption and labels."""
    rng = np.random.default_rng(seed)
    labels = {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}
    speed = float(rng.uniform(*SPEED_RANGES[labels["speed"]]))
    radius = float(rng.uniform(*RADIUS_RANGE))
    grey = int(rng.integers(20, 236))
    dx, dy = _STEP[labels["direction"]]
    travel = speed * (FRAMES - 1)
    margin = radius + 2
    # start so that the whole path stays inside the frame
    x0 = _start(rng, margin, dx, travel)
    y0 = _start(rng, margin, dy, travel)
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    clip = np.full((FRAMES, SIDE, SIDE, 3), grey, dtype=np.uint8)
    for t in range(FRAMES):
        cx, cy = x0 + dx * speed * t, y0 + dy * speed * t
        clip[t][(xs - cx) ** 2 + (ys - cy) ** 2 <= radius ** 2] = COLOURS[labels["colour"]]
    quantities = {
        "speed": (speed - SPEED_SPAN[0]) / (SPEED_SPAN[1] - SPEED_SPAN[0]),
        "size": (radius - RADIUS_RANGE[0]) / (RADIUS_RANGE[1] - RADIUS_RANGE[0]),
        "brightness": float(clip.mean() / 255.0),
    }
    template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    caption = template.format(colour=labels["colour"], adverb=_ADVERB[labels["speed"]],
                              motion=_MOTION[labels["direction"]], speed=labels["speed"])
    return SyntheticSample(raw=clip, caption=caption, attributes=labels, quantities=quantities)


def _start(rng: np.random.Generator, margin: float, step: int, travel: float) -> float:
    if step == 0:
        return float(rng.uniform(margin, SIDE - margin))
    low, high = margin, SIDE - margin - travel
    start = float(rng.uniform(low, max(low, high)))
    return start if step > 0 else SIDE - start


def write(raw: np.ndarray, path: str | Path, fps: int = FPS) -> Path:
    """Encode frames ``uint8 [F, H, W, 3]`` as H.264 (yuv420p) in ``path`` with suffix ``.mp4``.

    yuv420p needs even sides: an odd height or width is padded by repeating the
    last row or column.
    """
    path = Path(path).with_suffix(".mp4")
    frames = np.asarray(raw)
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[-1] != 3 or not len(frames):
        raise MediaError(path, f"expected frames uint8 [F, H, W, 3] to write, got "
                               f"{frames.dtype} {frames.shape}")
    _, height, width, _ = frames.shape
    frames = np.pad(frames, ((0, 0), (0, height % 2), (0, width % 2), (0, 0)), mode="edge")
    path.parent.mkdir(parents=True, exist_ok=True)
    import av  # lazily: a missing PyAV is reported by loading.check_environment

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps, options={"crf": "17"})
        stream.height, stream.width = frames.shape[1:3]
        stream.pix_fmt = "yuv420p"
        for pixels in frames:
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(pixels), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
