"""A plugin that raises at import."""

raise RuntimeError("boom at import")
