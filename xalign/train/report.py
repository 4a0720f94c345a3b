"""What a run leaves in its folder besides checkpoints: metrics, a plot and a model card."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from xalign.train.recipe import Recipe


class MetricsLog:
    """``metrics.jsonl``: one JSON object per line, each with a ``step``.

    Lines are flushed as they are written, so a killed run keeps its history; a resumed
    run first drops the lines after its checkpoint's step (they will be written again).
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def truncate_after(self, step: int) -> None:
        if not self.path.is_file():
            return
        kept = [line for line in self.read() if line.get("step", 0) <= step]
        self.path.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")

    def write(self, record: dict[str, Any]) -> None:
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        out = []
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                out.append(json.loads(line))
            except ValueError:  # a line cut short by a kill
                continue
        return out


def plot_metrics(records: list[dict[str, Any]], path: Path, title: str = "") -> Path | None:
    """Loss and learning rate against step (and validation accuracy when present) as a PNG."""
    fig = metrics_figure(records, title)
    if fig is None:
        return None
    import matplotlib.pyplot as plt

    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def metrics_figure(records: list[dict[str, Any]], title: str = "") -> Any:
    """The figure :func:`plot_metrics` saves (``None`` without any training record)."""
    train = [r for r in records if "loss" in r and math.isfinite(r["loss"])]
    if not train:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    val = [r for r in records if "val_accuracy" in r]
    fig, axes = plt.subplots(1, 3 if val else 2, figsize=(13 if val else 9, 3.4))
    steps = [r["step"] for r in train]
    axes[0].plot(steps, [r["loss"] for r in train], lw=1)
    axes[0].set(xlabel="step", ylabel="loss", title="training loss")
    axes[1].plot(steps, [r["lr"] for r in train], lw=1, color="tab:orange")
    axes[1].set(xlabel="step", ylabel="learning rate", title="learning rate")
    axes[1].ticklabel_format(axis="y", style="sci", scilimits=(0, 0))
    if val:
        axes[2].plot([r["step"] for r in val], [r["val_accuracy"] for r in val], "o-")
        # chance depends on the questions only: one level across the whole run (a single
        # end-of-run validation would otherwise be one point, which a dashed line never draws)
        axes[2].axhline(val[-1]["val_chance"], ls="--", color="grey", label="chance")
        axes[2].set(xlabel="step", ylabel="accuracy", ylim=(0, 1), title="validation",
                    xlim=(0, max(steps[-1], val[-1]["step"]) * 1.02 or 1))
        axes[2].legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def _times(summary: dict[str, Any]) -> str:
    """``"312 s from start to finish (set-up 20 s, featurise 15 s, train 250 s, …)"``."""
    text = f"{summary.get('seconds', 0):.0f} s from start to finish"
    stages = summary.get("stage_seconds") or {}
    if stages:
        text += " (" + ", ".join(f"{k} {v:.0f} s" for k, v in stages.items()) + ")"
    if summary.get("resumed_at_step") is not None:
        text += f", this session only: resumed at step {summary['resumed_at_step']}"
    return text


def model_card(recipe: Recipe, summary: dict[str, Any]) -> str:
    """A short ``README.md`` for the run: recipe, data, steps, final metrics, caveats."""
    sources = ", ".join(
        f"{s.kind}" + (f" ({s.size} items, tasks {', '.join(s.tasks)})" if s.kind == "synthetic"
                       else f" ({getattr(s, 'path', None) or getattr(s, 'name', '')})")
        for s in recipe.data.sources)
    lines = [
        f"# {recipe.modality} projector: {recipe.name or 'custom recipe'}",
        "",
        recipe.description or "",
        "",
        f"- LLM: `{recipe.llm.source}` ({recipe.llm.tune})",
        f"- encoder: `{recipe.encoder.source or 'built-in tiny seeded encoder'}`",
        f"- projector: {recipe.projector.kind} (preset {recipe.projector.preset}, "
        f"{summary.get('num_tokens', '?')} tokens per frame, "
        f"{summary.get('trainable_parameters', 0):,} trainable parameters)",
        f"- cue prefix: {'on' if recipe.use_cue else 'off (no-prefix ablation)'}",
        f"- data: {sources}",
        f"- steps: {summary.get('steps')} × batch {recipe.schedule.batch_size} × accumulation "
        f"{recipe.schedule.grad_accum} × {summary.get('world_size', 1)} process(es); "
        f"peak lr {recipe.optim.lr:g}, warm-up {summary.get('warmup')} steps, cosine to "
        f"{recipe.optim.min_lr:g}",
        f"- precision: {summary.get('precision', '?')} ({summary.get('precision_reason', '')})",
        f"- final training loss: {summary.get('final_loss', float('nan')):.4f}",
        f"- skipped items (bad media): {summary.get('skipped', 0)}",
        f"- wall time: {_times(summary)}",
    ]
    for split in ("val", "test"):
        result = summary.get(split)
        if result:
            lines.append(f"- {split} ranking accuracy: {result['accuracy']:.1%} on "
                         f"{result['n']} attribute questions (chance {result['chance']:.1%})")
    if summary.get("best_step") is not None:
        lines.append(f"- best validation checkpoint: step {summary['best_step']} (`best/`)")
    if recipe.encoder.source is None:
        lines += ["", "Note: the built-in tiny encoders are stand-ins, pretrained on the "
                  "synthetic world only; this projector only knows the synthetic world."]
    lines += ["", "Load it with `xalign.projectors.load_projector('projector')`; the full "
              "resolved recipe is in `recipe.yaml`, per-step metrics in `metrics.jsonl`.", ""]
    return "\n".join(lines)
