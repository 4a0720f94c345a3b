"""The spoken world's closed vocabularies (no heavy imports: the plugin module reads them)."""

from __future__ import annotations

ATTRIBUTES: dict[str, tuple[str, ...]] = {
    "action": ("move", "open", "paint", "find", "take", "drop"),
    "number": ("two", "three", "four", "five", "six", "seven"),
    "colour": ("red", "green", "blue", "yellow", "black", "white"),
    "object": ("cup", "ball", "box", "book", "chair", "lamp"),
}
