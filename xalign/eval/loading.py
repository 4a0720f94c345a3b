"""Loading what an evaluation needs: projectors composed on one LLM, and their encoders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from xalign.errors import XalignError


def load_model(projectors: Sequence[str | Path], llm: str | None = None,
               gguf_file: str | None = None, use_cue: bool = True) -> tuple[Any, dict[str, Any]]:
    """``(XAlignModel, encoders)`` for projectors trained apart, on the LLM they were trained
    on (``llm`` overrides it) with the frozen encoders they expect."""
    from xalign.model import XAlignModel
    from xalign.pipeline import build_encoders
    from xalign.projectors import read_config, trained_llm

    if not projectors:
        raise XalignError("pass --projector DIR (once per modality)")
    for p in projectors:  # a missing or bad projector fails first
        read_config(p)
    if llm is None:
        llm = trained_llm(projectors)
    source: Any = llm
    if gguf_file:
        from xalign.llm import load_llm

        source = load_llm(llm, gguf_file=gguf_file)
    model = XAlignModel.from_pretrained(list(projectors), llm=source, use_cue=use_cue)
    return model, build_encoders(model.projectors)


def write_outputs(out: str | Path, report: dict[str, Any], rows: Sequence[dict[str, Any]],
                  skips: Any = None) -> Path:
    """``report.json``, ``predictions.jsonl`` and ``skipped.jsonl`` under ``out``."""
    import json

    from xalign.eval.predictions import write_jsonl

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n",
                                     encoding="utf-8")
    write_jsonl(out / "predictions.jsonl", rows)
    if skips is not None:
        skips.write_jsonl(out / "skipped.jsonl")
    return out
