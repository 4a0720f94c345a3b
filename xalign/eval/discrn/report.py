"""Writing a DisCRn report: JSON, predictions with verdicts, a bar chart and a rich table.

A report is a plain dict: ``{"systems": {name: summary}, "joint": {...} | absent,
"skipped": [...], "seen": int}`` where each summary comes from
:func:`xalign.eval.discrn.score.summarize`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from xalign.eval.discrn.score import Scored
from xalign.eval.predictions import write_jsonl


def _pct(value: float | None) -> str:
    return "–" if value is None or value != value else f"{100 * value:.1f}"


def write_outputs(report: Mapping[str, Any], scored: Mapping[str, Sequence[Scored]],
                  out: str | Path) -> dict[str, Path]:
    """``report.json``, ``predictions.jsonl`` (every system's verdicts) and ``discrn.png``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"report": out / "report.json", "predictions": out / "predictions.jsonl",
             "chart": out / "discrn.png"}
    paths["report"].write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    write_jsonl(paths["predictions"],
                (s.to_row(system) for system, rows in scored.items() for s in rows))
    bar_chart(report, paths["chart"])
    return paths


def bar_chart(report: Mapping[str, Any], path: str | Path) -> Path:
    """Grouped bars: overall, per pair, per answer position and per answer modality, one bar
    per system, with the 50% chance level drawn across."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = report["systems"]
    categories: list[tuple[str, str | None, str | None]] = [("overall", None, None)]
    first = next(iter(systems.values()), {})
    for section, prefix in (("by_pair", ""), ("by_position", "answer "),
                            ("by_answer_modality", "answer is ")):
        categories += [(f"{prefix}{key}", section, key) for key in first.get(section, {})]
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(categories) * max(1, len(systems))), 4))
    width = 0.8 / max(1, len(systems))
    for j, (name, summary) in enumerate(systems.items()):
        heights = [100 * (summary["accuracy"] if section is None else
                          summary.get(section, {}).get(key, {}).get("accuracy", 0.0))
                   for _, section, key in categories]
        ax.bar([i + j * width for i in range(len(categories))], heights, width, label=name)
    ax.axhline(50, color="grey", linestyle="--", linewidth=1, label="chance")
    ax.set_xticks([i + width * (len(systems) - 1) / 2 for i in range(len(categories))])
    ax.set_xticklabels([c[0] for c in categories], rotation=20, ha="right")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title("DisCRn")
    ax.legend(fontsize="small")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return Path(path)


def print_tables(report: Mapping[str, Any], console: Console | None = None) -> None:
    """Per system: accuracy with its interval, per answer position, the share of answers
    naming the first input (order bias) and unmatched; then accuracy per modality pair,
    per answer modality and per question kind, one column per system."""
    console = console or Console()
    systems = report["systems"]
    table = Table(title="DisCRn accuracy (%)")
    for column in ("system", "n", "accuracy", "95% CI", "answer 1st", "answer 2nd",
                   "says 1st", "unmatched"):
        table.add_column(column, justify="left" if column == "system" else "right")
    for name, s in systems.items():
        pos = s.get("by_position", {})
        ci = s.get("ci95", [None, None])
        table.add_row(
            name, str(s["n"]), _pct(s["accuracy"]), f"{_pct(ci[0])}–{_pct(ci[1])}",
            _pct(pos.get("first", {}).get("accuracy")), _pct(pos.get("second", {}).get("accuracy")),
            _pct(s["named"]["first"]), _pct(s["unmatched"]))
    console.print(table)
    for section, title in (("by_pair", "modality pair"), ("by_answer_modality", "answer modality"),
                           ("by_kind", "question kind")):
        keys = sorted({k for s in systems.values() for k in s.get(section, {})})
        if not keys:
            continue
        breakdown = Table(title=f"DisCRn accuracy (%) per {title}")
        breakdown.add_column(title)
        breakdown.add_column("n", justify="right")
        for name in systems:
            breakdown.add_column(name, justify="right")
        for key in keys:
            n = max(s.get(section, {}).get(key, {}).get("n", 0) for s in systems.values())
            cells = [s.get(section, {}).get(key, {}) for s in systems.values()]
            if section == "by_pair":  # the headline per pair: with its interval
                row = [f"{_pct(c.get('accuracy'))} ({_pct(c['ci95'][0])}–{_pct(c['ci95'][1])})"
                       if c.get("ci95") else _pct(c.get("accuracy")) for c in cells]
            else:
                row = [_pct(c.get("accuracy")) for c in cells]
            breakdown.add_row(key, str(n), *row)
        console.print(breakdown)
    joint = report.get("joint")
    if joint:
        first, second = joint["modalities"]
        jt = Table(title=f"Joint reasoning: questions that need both inputs (accuracy %, "
                         f"chance {_pct(joint['chance'])})")
        for column in ("inputs", "n", "accuracy", "95% CI", f"{first} part", f"{second} part"):
            jt.add_column(column, justify="left" if column == "inputs" else "right")
        for name, s in joint["systems"].items():
            ci = s.get("ci95", [None, None])
            jt.add_row(name, str(s["n"]), _pct(s["accuracy"]), f"{_pct(ci[0])}–{_pct(ci[1])}",
                       *[_pct(p) for p in s["part_accuracy"]])
        console.print(jt)
    if report.get("skipped"):
        console.print(f"[yellow]skipped {len(report['skipped'])} of {report.get('seen')} "
                      f"records with missing or unreadable media (listed in skipped.jsonl)[/]")
    if report.get("missing_predictions"):
        missing = report.get("missing_ids") or []
        named = ", ".join(missing[:10]) + (f" and {len(missing) - 10} more"
                                            if len(missing) > 10 else "")
        console.print(f"[yellow]{report['missing_predictions']} of {report.get('seen')} records "
                      f"had no prediction and are not scored"
                      + (f": {escape(named)}" if named else "") + "[/]")
