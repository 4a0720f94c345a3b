"""A plugin whose hook registers something that is not a Modality."""

from xalign import hookimpl


@hookimpl
def register_modalities(register):
    register({"name": "not a modality"})
