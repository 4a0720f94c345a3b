"""Pretends to be the catalogued 'audio' plugin but raises while registering."""

from xalign import hookimpl


@hookimpl
def register_modalities(register):
    raise ValueError("encoder weights missing")
