"""A plugin with a valid modality whose encoder registration is not an Encoder."""

from dataclasses import replace

from tests.fixture_plugins.good import TOY
from xalign import hookimpl


@hookimpl
def register_modalities(register):
    register(replace(TOY, name="bad_encoder"))


@hookimpl
def register_encoders(register):
    register({"id": "tiny", "modality": "bad_encoder"})
