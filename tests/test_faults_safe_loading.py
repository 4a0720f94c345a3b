"""Safe loading: no pickle by default, anywhere in the shipped code."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHIPPED = [REPO / "xalign", *sorted((REPO / "plugins").glob("xalign-plugin-*"))]

# pattern -> why it is unsafe
FORBIDDEN = {
    r"torch\.load\((?![^)]*weights_only\s*=\s*True)": "torch.load without weights_only=True",
    r"\bpickle\.loads?\(": "pickle.load",
    r"\bdill\.|\bcloudpickle\.|\bjoblib\.load": "pickle-based loader",
    r"trust_remote_code\s*=\s*True": "trust_remote_code=True as a default",
    r"allow_pickle\s*=\s*True": "numpy allow_pickle=True",
}


def shipped_sources() -> list[Path]:
    return [p for root in SHIPPED for p in root.rglob("*.py") if "tests" not in p.parts]


def find_violations(text: str) -> list[str]:
    # collapse calls spread over several lines so the lookahead sees all arguments
    flat = re.sub(r"\s+", " ", text)
    return [why for pattern, why in FORBIDDEN.items() if re.search(pattern, flat)]


def test_scanner_catches_each_unsafe_pattern() -> None:
    assert find_violations("x = torch.load(path)") == ["torch.load without weights_only=True"]
    assert find_violations("x = torch.load(\n  path,\n  weights_only=True)") == []
    assert find_violations("pickle.loads(blob)") == ["pickle.load"]
    assert find_violations("AutoModel.from_pretrained(p, trust_remote_code=True)")
    assert find_violations("np.load(p, allow_pickle=True)")


def test_shipped_code_never_unpickles_by_default() -> None:
    sources = shipped_sources()
    assert len(sources) > 20, "scanner found too few files: paths changed?"
    problems = [f"{p.relative_to(REPO)}: {why}" for p in sources
                for why in find_violations(p.read_text(encoding="utf-8"))]
    assert problems == []
