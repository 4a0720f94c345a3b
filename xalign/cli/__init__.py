"""The ``xalign`` command line."""
