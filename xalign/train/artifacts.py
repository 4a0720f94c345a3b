"""The run folder: what is written where, by the main process only.

```
runs/audio-20250101-120000/
  recipe.yaml        the resolved recipe (every default filled in)
  metrics.jsonl      one line per logged step (loss, lr, samples/s) and per evaluation
  skipped.jsonl      items skipped for bad media: item_id, path, reason
  checkpoints/       step-000500/ … (atomic; the last `checkpoint.keep_last` kept)
  best/              projector with the best validation accuracy (+ best.json)
  projector/         the final projector (save_pretrained: config.json + model.safetensors)
  training.png       loss and learning-rate curves (and validation accuracy)
  summary.json       final metrics
  README.md          model card
```
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from xalign.errors import XalignError
from xalign.train.checkpoint import list_checkpoints, write_json
from xalign.train.recipe import Recipe
from xalign.train.recipe_io import dump_recipe
from xalign.train.report import MetricsLog, model_card, plot_metrics


class RunFiles:
    """Writes the run folder's files; every method is a no-op on non-main processes."""

    def __init__(self, run_dir: Path, recipe: Recipe, acc: Any) -> None:
        self.run_dir, self.recipe, self.acc = Path(run_dir), recipe, acc
        self.main = acc.is_main_process
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.metrics = MetricsLog(self.run_dir / "metrics.jsonl")
        self.trackers = bool(recipe.report_to)
        self._trackers_open = False

    def skip_path(self, rank: int) -> Path:
        return self.run_dir / ("skipped.jsonl" if rank == 0 else f"skipped-rank{rank}.jsonl")

    def start(self) -> None:
        """A fresh run: refuse to overwrite another run's checkpoints, write recipe.yaml."""
        if list_checkpoints(self.run_dir):
            raise XalignError(f"{self.run_dir} already holds checkpoints of a run; continue it "
                              "with --resume or choose another output folder")
        if self.main:
            (self.run_dir / "recipe.yaml").write_text(dump_recipe(self.recipe), encoding="utf-8")
            for name in ("metrics.jsonl", "skipped.jsonl"):
                (self.run_dir / name).unlink(missing_ok=True)
        self.skip_path(self.acc.process_index).unlink(missing_ok=True)
        if self.trackers:
            self.acc.init_trackers(self.recipe.name or self.recipe.modality,
                                   config=_flat(self.recipe.model_dump(mode="json")))
            self._trackers_open = True
        self.acc.wait_for_everyone()

    def resume(self, step: int) -> None:
        """A resumed run: forget metrics logged after the checkpoint (they are redone)."""
        if self.main:
            self.metrics.truncate_after(step)
        if self.trackers:
            self.acc.init_trackers(self.recipe.name or self.recipe.modality)
            self._trackers_open = True

    def log(self, record: dict[str, Any]) -> None:
        if self.main:
            self.metrics.write(record)
        if self._trackers_open:
            scalars = {k: v for k, v in record.items()
                       if isinstance(v, (int, float)) and not isinstance(v, bool)
                       and k != "step"}
            self.acc.log(scalars, step=record["step"])

    def close_trackers(self) -> None:
        """Flush and close the experiment trackers (at the end, or when interrupted)."""
        if self._trackers_open:
            self.acc.end_training()
            self._trackers_open = False

    def has_checkpoint(self, step: int) -> bool:
        return any(s == step for s, _ in list_checkpoints(self.run_dir))

    def latest_checkpoint(self) -> Path | None:
        found = list_checkpoints(self.run_dir)
        return found[-1][1] if found else None

    def save_best(self, projector: Any, step: int, result: Any) -> None:
        if self.main:
            projector.save_pretrained(self.run_dir / "best")
            write_json(self.run_dir / "best" / "best.json", {"step": step, **result.as_dict()})

    def merge_skips(self) -> None:
        """Fold the other processes' skip lists into ``skipped.jsonl`` (deduplicated)."""
        if not self.main:
            return
        seen, lines = set(), []
        for path in sorted(self.run_dir.glob("skipped*.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    record = json.loads(line)
                except ValueError:
                    continue
                if record.get("item_id") not in seen:
                    seen.add(record.get("item_id"))
                    lines.append(json.dumps(record, ensure_ascii=False))
            if path.name != "skipped.jsonl":
                path.unlink()
        if lines or (self.run_dir / "skipped.jsonl").exists():
            (self.run_dir / "skipped.jsonl").write_text("".join(x + "\n" for x in lines),
                                                        encoding="utf-8")

    def finish(self, projector: Any, result: Any, llm: Any = None) -> None:
        """Final projector (and tuned LLM), summary, plot and model card."""
        self.acc.wait_for_everyone()
        self.close_trackers()
        if not self.main:
            return
        self.merge_skips()
        projector.save_pretrained(self.run_dir / "projector")
        if llm is not None:  # a recipe that tunes the LLM: its adapters (LoRA) or weights
            llm.model.save_pretrained(self.run_dir / "llm")
            llm.tokenizer.save_pretrained(self.run_dir / "llm")
        summary = {k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(result).items()}
        summary.update(summary.pop("extra"))
        write_json(self.run_dir / "summary.json", summary)
        title = f"{self.recipe.name or self.recipe.modality} ({self.recipe.modality})"
        plot_metrics(self.metrics.read(), self.run_dir / "training.png", title)
        (self.run_dir / "README.md").write_text(model_card(self.recipe, summary),
                                                encoding="utf-8")


def _flat(data: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Nested recipe -> ``{"optim.lr": 1e-5, …}`` for experiment trackers."""
    out: dict[str, Any] = {}
    for key, value in data.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value if isinstance(value, (int, float, str, bool)) \
                else str(value)
    return out
