"""Shared plumbing of the single-modality evaluations: data, features, batched answers."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from xalign.data.skips import SkipReport


def load_source(task: str, data: str | Path | None = None, modality: str | None = None,
                size: int = 100, seed: int = 0) -> Any:
    """Items of ``task`` ("classify", "caption", "qa"): from a JSONL manifest when given,
    else the held-out ``test`` split of the synthetic world of ``modality``."""
    from xalign.data import ManifestSource, SyntheticSource
    from xalign.errors import XalignError

    if data is not None:
        return ManifestSource(data, tasks=(task,))
    if not modality:
        raise XalignError("pass --data MANIFEST or --modality NAME (the synthetic test split)")
    return SyntheticSource(modality, split="test", size=size, seed=seed, tasks=(task,))


def examples_of(dataset: Any, limit: int | None = None, skips: SkipReport | None = None,
                ) -> Iterator[tuple[Any, Any]]:
    """``(item, example)`` pairs; items whose media fail are skipped and listed."""
    from xalign.errors import MediaError

    total = len(dataset) if limit is None else min(limit, len(dataset))
    for i in range(total):
        item = dataset.item(i)
        if skips is not None:
            skips.mark_seen()
        try:
            example = dataset[i]
        except MediaError as exc:
            if skips is not None:
                skips.add_error(item.id, exc)
            continue
        yield item, example


def batched(pairs: Iterator[tuple[Any, Any]], size: int) -> Iterator[list[tuple[Any, Any]]]:
    chunk: list[tuple[Any, Any]] = []
    for pair in pairs:
        chunk.append(pair)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def answer_all(model: Any, pairs: Sequence[tuple[Any, Any]], batch_size: int, preset: str,
               **overrides: Any) -> list[str]:
    """Generated answers for the examples of ``pairs``, ``batch_size`` per call."""
    from dataclasses import replace

    out: list[str] = []
    for start in range(0, len(pairs), batch_size):
        chunk = [replace(ex, target=None) for _, ex in pairs[start:start + batch_size]]
        out += model.generate(chunk, preset=preset, **overrides)
    return out


def accuracy_table(rows: Sequence[tuple[str, bool]]) -> dict[str, dict[str, float]]:
    """``[(group, correct)]`` -> ``{group: {"n", "accuracy"}}``."""
    groups: dict[str, list[bool]] = {}
    for group, ok in rows:
        groups.setdefault(group, []).append(ok)
    return {g: {"n": len(v), "accuracy": sum(v) / len(v)} for g, v in sorted(groups.items())}


def setup(task: str, projectors: Sequence[Path], data: Path | None, modality: str | None,
          size: int, seed: int, llm: str | None, gguf_file: str | None,
          ) -> tuple[Any, Any, SkipReport]:
    """Model, ``FeatureDataset`` and skip report of a single-modality evaluation command."""
    from xalign.data import FeatureDataset
    from xalign.eval.loading import load_model
    from xalign.projectors import read_config

    if data is None and modality is None and projectors:  # the projector's, read before loading
        modality = read_config(projectors[0]).modality
    source = load_source(task, data, modality, size, seed)  # a bad manifest fails before the LLM
    model, encoders = load_model(projectors, llm, gguf_file)
    return model, FeatureDataset(source, encoders), SkipReport()


def print_report(title: str, rows: Sequence[tuple[str, str]]) -> None:
    """A two-column rich table (metric, value)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    table.add_column("metric")
    table.add_column("value", justify="right")
    for name, value in rows:
        table.add_row(name, value)
    Console().print(table)
