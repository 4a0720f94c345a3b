"""The 3D part of the offline synthetic world: simple solids on a square base.

Each sample is a sphere, cube, cylinder, cone or torus (y is up), small or
large, flat, regular or tall, turned by a random angle about the vertical axis,
standing on a square base plate of fixed size (side 2). Points are sampled on
the surfaces (6,144 on the solid, 2,048 on the plate).

Why a base plate: preprocessing scales every cloud into the unit sphere
(DESIGN §2), which erases absolute size. The plate is a fixed-size reference,
so "small"/"large" and the ``size``/``height`` quantities stay visible to the
encoder after normalisation, as the relative size of solid and plate.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from xalign.modality import SyntheticSample

SHAPES = ("sphere", "cube", "cylinder", "cone", "torus")
SIZES = ("small", "large")
ASPECTS = ("flat", "regular", "tall")
ATTRIBUTES = {"shape": SHAPES, "size": SIZES, "aspect": ASPECTS}
QUESTIONS = {  # how DisCRn asks about these across two inputs (Modality.questions)
    "shape": "Which one is a {value}?",
    "size": ("Which of the two is larger?", "Which of the two is smaller?"),
    "height": ("Which one is taller?", "Which one is shorter?"),
}
EXCLUSIVE = ("shape",)  # no sound is a torus

OBJECT_POINTS, PLATE_POINTS = 6144, 2048
PLATE_SIDE = 2.0
WIDTH_RANGE = {"small": (0.4, 0.65), "large": (1.0, 1.5)}  # horizontal extent
ASPECT_RATIO = {"flat": 0.4, "regular": 1.0, "tall": 2.2}  # height / width, +-10 %
_W_MIN, _W_MAX = 0.4, 1.5
_TORUS_R, _TORUS_TUBE = 0.35, 0.15
_UNIT_HEIGHT = {s: (2 * _TORUS_TUBE if s == "torus" else 1.0) for s in SHAPES}
_H_MAX = _W_MAX * ASPECT_RATIO["tall"] * 1.1

_CAPTIONS = (
    "a {size} {aspect} {shape} standing on a square base",
    "a point cloud of a {size} {shape} with a {aspect} profile, resting on a square plate",
    "a {aspect}, {size} {shape} placed on a square platform",
)


def synthesize(seed: int) -> SyntheticSample:
    """One deterministic sample: points ``[8192, 3]`` float32, caption, attributes, quantities."""
    rng = np.random.default_rng(seed)
    shape, size, aspect = (str(rng.choice(v)) for v in (SHAPES, SIZES, ASPECTS))
    width = rng.uniform(*WIDTH_RANGE[size])
    ratio = ASPECT_RATIO[aspect] * rng.uniform(0.9, 1.1)
    unit = _SAMPLERS[shape](rng, OBJECT_POINTS)  # in the box [-0.5, 0.5]^3
    solid = unit * np.array([width, width * ratio, width])
    solid[:, 1] -= solid[:, 1].min()  # stand on the plate (y = 0)
    yaw = rng.uniform(0, 2 * np.pi)
    c, s = np.cos(yaw), np.sin(yaw)
    solid = solid @ np.array([[c, 0, -s], [0, 1, 0], [s, 0, c]])
    plate = np.zeros((PLATE_POINTS, 3))
    plate[:, [0, 2]] = rng.uniform(-PLATE_SIDE / 2, PLATE_SIDE / 2, size=(PLATE_POINTS, 2))
    points = np.concatenate([solid, plate]).astype(np.float32)
    height = width * ratio * _UNIT_HEIGHT[shape]
    caption = str(rng.choice(_CAPTIONS)).format(size=size, aspect=aspect, shape=shape)
    return SyntheticSample(
        raw=points,
        caption=caption,
        attributes={"shape": shape, "size": size, "aspect": aspect},
        quantities={
            "size": float(np.clip((width - _W_MIN) / (_W_MAX - _W_MIN), 0, 1)),
            "height": float(np.clip(height / _H_MAX, 0, 1)),
        },
    )


def write(raw: np.ndarray, path: str | Path) -> Path:
    """Save points as ``.npy`` (the suffix is replaced); ``load`` reads it back unchanged."""
    path = Path(path).with_suffix(".npy")
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, np.asarray(raw, dtype=np.float32))
    return path


# -- unit solids: surface samples inside [-0.5, 0.5]^3 ---------------------------------------
def _sphere(rng: np.random.Generator, n: int) -> np.ndarray:
    v = rng.normal(size=(n, 3))
    return 0.5 * v / np.linalg.norm(v, axis=1, keepdims=True)


def _cube(rng: np.random.Generator, n: int) -> np.ndarray:
    pts = rng.uniform(-0.5, 0.5, size=(n, 3))
    axis = rng.integers(0, 3, size=n)
    pts[np.arange(n), axis] = rng.choice([-0.5, 0.5], size=n)  # push onto a face
    return pts


def _disc(rng: np.random.Generator, n: int, radius: float) -> tuple[np.ndarray, np.ndarray]:
    r, t = radius * np.sqrt(rng.random(n)), rng.uniform(0, 2 * np.pi, n)
    return r * np.cos(t), r * np.sin(t)


def _cylinder(rng: np.random.Generator, n: int) -> np.ndarray:
    side = rng.random(n) < 2 / 3  # lateral area pi, caps pi / 2
    t = rng.uniform(0, 2 * np.pi, n)
    x, z = 0.5 * np.cos(t), 0.5 * np.sin(t)
    y = rng.uniform(-0.5, 0.5, n)
    dx, dz = _disc(rng, n, 0.5)
    cap_y = rng.choice([-0.5, 0.5], size=n)
    return np.stack([np.where(side, x, dx), np.where(side, y, cap_y),
                     np.where(side, z, dz)], axis=1)


def _cone(rng: np.random.Generator, n: int) -> np.ndarray:
    lateral, base = np.pi * 0.5 * np.hypot(0.5, 1.0), np.pi * 0.25
    side = rng.random(n) < lateral / (lateral + base)
    depth = np.sqrt(rng.random(n))  # from the apex: area grows with depth
    t = rng.uniform(0, 2 * np.pi, n)
    x, z, y = 0.5 * depth * np.cos(t), 0.5 * depth * np.sin(t), 0.5 - depth
    dx, dz = _disc(rng, n, 0.5)
    return np.stack([np.where(side, x, dx), np.where(side, y, -0.5),
                     np.where(side, z, dz)], axis=1)


def _torus(rng: np.random.Generator, n: int) -> np.ndarray:
    big, tube = _TORUS_R, _TORUS_TUBE
    angles = np.empty(0)
    while len(angles) < n:  # tube angle with density proportional to the local radius
        v = rng.uniform(0, 2 * np.pi, 2 * n)
        keep = rng.random(2 * n) < (big + tube * np.cos(v)) / (big + tube)
        angles = np.concatenate([angles, v[keep]])
    v, u = angles[:n], rng.uniform(0, 2 * np.pi, n)
    ring = big + tube * np.cos(v)
    return np.stack([ring * np.cos(u), tube * np.sin(v), ring * np.sin(u)], axis=1)


_SAMPLERS: dict[str, Callable[[np.random.Generator, int], np.ndarray]] = {
    "sphere": _sphere, "cube": _cube, "cylinder": _cylinder, "cone": _cone, "torus": _torus,
}
