"""SkipReport: counting, fractions, the threshold check and the JSONL listing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from xalign.data import SkipReport
from xalign.errors import MediaError, XalignError


def test_skip_report(tmp_path: Path) -> None:
    report = SkipReport()
    assert report.fraction == 0.0
    report.mark_seen(8)
    report.add("a", "x/a.wav", "file not found")
    report.add_error("b", MediaError("x/b.png", "truncated PNG"))
    assert (report.count, report.seen, report.fraction) == (2, 8, 0.25)
    report.check(max_fraction=0.25)
    with pytest.raises(XalignError, match=r"2 of 8 items \(25.0%\).*x/a.wav: file not found"):
        report.check(max_fraction=0.2)
    lines = report.write_jsonl(tmp_path / "run" / "skipped.jsonl").read_text().splitlines()
    assert [json.loads(x) for x in lines] == [
        {"item_id": "a", "path": "x/a.wav", "reason": "file not found"},
        {"item_id": "b", "path": "x/b.png", "reason": "truncated PNG"}]
    assert report.summary() == "skipped 2 of 8 items (25.00%)"
