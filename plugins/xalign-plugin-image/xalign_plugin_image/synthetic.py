"""The offline synthetic world for images: coloured shapes on a plain grey background.

Attributes (closed vocabularies): shape, colour, count and position of the
group of shapes. Quantities in [0, 1]: ``size`` (side of each shape, scaled
over its range), ``brightness`` (mean pixel value of the picture) and
``height`` (vertical extent of the group over the picture height).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from xalign.errors import MediaError
from xalign.modality import SyntheticSample

CANVAS = 224
ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "shape": ("circle", "square", "triangle"),
    "colour": ("red", "green", "blue", "yellow"),
    "count": ("one", "two", "three"),
    "position": ("left", "right", "top", "bottom"),
}
COLOURS = {
    "red": (220, 40, 40),
    "green": (40, 180, 60),
    "blue": (40, 70, 220),
    "yellow": (235, 210, 40),
}
SIDE_RANGE = (28, 52)  # pixels; a column of three of the largest still fits the canvas
_SPACING = 1.25  # centre-to-centre distance in sides
_JITTER = 8
_GROUP_CENTRE = {"left": (0.25, 0.5), "right": (0.75, 0.5), "top": (0.5, 0.25),
                 "bottom": (0.5, 0.75)}
_PLACE = {"left": "on the left", "right": "on the right", "top": "at the top",
          "bottom": "at the bottom"}
_TEMPLATES = (
    "{Count} {colour} {shapes} {place} of the picture.",
    "A picture of {count} {colour} {shapes} {place}.",
    "There {verb} {count} {colour} {shapes} {place} of the image.",
)
QUESTIONS = {  # how DisCRn asks about these across two inputs (Modality.questions)
    "colour": "Which one is {value}?",
    "shape": "Which one is a {value}?",
    "size": ("Which of the two is larger?", "Which of the two is smaller?"),
    "brightness": ("Which one is brighter?", "Which one is darker?"),
    "height": ("Which one is taller?", "Which one is shorter?"),
}
EXCLUSIVE = ("colour", "shape")  # no sound is red, no video ball is a triangle


def synthesize(seed: int) -> SyntheticSample:
    """A deterministic synthetic image (224×224 RGB) with its caption and labels."""
    rng = np.random.default_rng(seed)
    labels = {name: str(rng.choice(values)) for name, values in ATTRIBUTES.items()}
    count = ATTRIBUTES["count"].index(labels["count"]) + 1
    side = float(rng.uniform(*SIDE_RANGE))
    grey = int(rng.integers(20, 236))
    image = Image.new("RGB", (CANVAS, CANVAS), (grey, grey, grey))
    draw = ImageDraw.Draw(image)
    centres = _centres(labels["position"], count, side, rng)
    for cx, cy in centres:
        _draw_shape(draw, labels["shape"], cx, cy, side, COLOURS[labels["colour"]])
    ys = [cy for _, cy in centres]
    extent = max(ys) - min(ys) + side
    quantities = {
        "size": (side - SIDE_RANGE[0]) / (SIDE_RANGE[1] - SIDE_RANGE[0]),
        "brightness": float(np.asarray(image, dtype=np.float64).mean() / 255.0),
        "height": min(1.0, extent / CANVAS),
    }
    template = _TEMPLATES[int(rng.integers(len(_TEMPLATES)))]
    shape = labels["shape"]
    caption = template.format(
        Count=labels["count"].capitalize(), count=labels["count"], colour=labels["colour"],
        shapes=shape if count == 1 else shape + "s", place=_PLACE[labels["position"]],
        verb="is" if count == 1 else "are",
    )
    return SyntheticSample(raw=image, caption=caption, attributes=labels, quantities=quantities)


def _centres(position: str, count: int, side: float,
             rng: np.random.Generator) -> list[tuple[float, float]]:
    fx, fy = _GROUP_CENTRE[position]
    gx = fx * CANVAS + rng.uniform(-_JITTER, _JITTER)
    gy = fy * CANVAS + rng.uniform(-_JITTER, _JITTER)
    offsets = [(i - (count - 1) / 2) * _SPACING * side for i in range(count)]
    if position in ("left", "right"):  # a column in its half, so "left" stays left
        return [(gx, gy + o) for o in offsets]
    return [(gx + o, gy) for o in offsets]


def _draw_shape(draw: ImageDraw.ImageDraw, shape: str, cx: float, cy: float, side: float,
                colour: tuple[int, int, int]) -> None:
    h = side / 2
    if shape == "circle":
        draw.ellipse((cx - h, cy - h, cx + h, cy + h), fill=colour)
    elif shape == "square":
        draw.rectangle((cx - h, cy - h, cx + h, cy + h), fill=colour)
    else:
        draw.polygon([(cx, cy - h), (cx + h, cy + h), (cx - h, cy + h)], fill=colour)


def write(raw: Image.Image, path: str | Path) -> Path:
    """Save ``raw`` as a PNG (lossless, so ``load`` gives back the same pixels)."""
    path = Path(path).with_suffix(".png")
    if not isinstance(raw, Image.Image):
        raise MediaError(path, f"expected a PIL image to write, got {type(raw).__name__}")
    path.parent.mkdir(parents=True, exist_ok=True)
    raw.save(path, format="PNG")
    return path
