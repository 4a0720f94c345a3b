"""xalign.lazy: plugin functions named by reference import on first call."""

from __future__ import annotations

import sys

import pytest

from xalign.lazy import lazy, lazy_exports


def test_lazy_imports_on_first_call_and_looks_like_the_function(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "json.decoder", raising=False)
    scanner = lazy("json.decoder:py_scanstring")
    assert (scanner.__module__, scanner.__name__) == ("json.decoder", "py_scanstring")
    assert "json.decoder" not in sys.modules  # nothing imported yet
    assert scanner('"abc"', 1) == ("abc", 5)
    assert "json.decoder" in sys.modules


def test_bad_targets_and_unknown_exports_fail_clearly() -> None:
    with pytest.raises(ValueError, match=r"expected 'package\.module:name'"):
        lazy("json.decoder.py_scanstring")
    getter = lazy_exports("pkg", {"dumps": "json"})
    assert getter("dumps")({"a": 1}) == '{"a": 1}'
    with pytest.raises(AttributeError, match="module 'pkg' has no attribute 'loads'"):
        getter("loads")
