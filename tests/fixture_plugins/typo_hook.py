"""A plugin with a misspelt hook name (pluggy's check_pending finds it)."""

from xalign import hookimpl


@hookimpl
def register_modality(register):  # missing final 's'
    pass
