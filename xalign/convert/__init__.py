"""Importers of foreign checkpoints (LAVIS X-InstructBLIP) into xalign projector directories."""

from xalign.convert.lavis import (
    LAVIS_MODALITIES,
    ConvertedProjector,
    convert_lavis,
    lavis_modalities,
    load_lavis_state,
    map_lavis_projector,
)

__all__ = [
    "LAVIS_MODALITIES",
    "ConvertedProjector",
    "convert_lavis",
    "lavis_modalities",
    "load_lavis_state",
    "map_lavis_projector",
]
