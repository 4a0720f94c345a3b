"""In-process fake plugins for registry tests (no installation needed)."""
