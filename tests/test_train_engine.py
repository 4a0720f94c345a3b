"""The training engine end to end on a tiny random LLM: artifacts, frozen parts, bad data, NaN."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from tests.train_tiny import losses, shared_tiny_llm, tiny_recipe_yaml
from xalign.registry import get_modality
from xalign.train.build import build_components
from xalign.train.engine import Trainer, TrainError
from xalign.train.recipe_io import load_recipe
from xalign.train.run import evaluate_run, train_recipe


@pytest.fixture(scope="module")
def tiny_llm() -> Path:
    return shared_tiny_llm()


def _recipe(tmp_path: Path, tiny_llm: Path, **sections):
    return load_recipe(tiny_recipe_yaml(tmp_path / "recipe.yaml", tiny_llm, tmp_path / "cache",
                                        **sections))


def test_run_writes_artifacts_and_trains_only_the_projector(tmp_path, tiny_llm):
    recipe = _recipe(tmp_path, tiny_llm, eval={"every": 4, "val_size": 8, "test_size": 8},
                     schedule={"max_steps": 8, "batch_size": 4, "grad_accum": 2,
                               "log_every": 1})
    torch.manual_seed(recipe.seed)
    parts = build_components(recipe)
    llm_before = {k: v.clone() for k, v in parts.llm.model.state_dict().items()}
    proj_before = {k: v.clone() for k, v in parts.projector.state_dict().items()}
    run_dir = tmp_path / "run"
    result = Trainer(recipe, parts.model, parts.train_set, run_dir, val_set=parts.val_set,
                     test_set=parts.test_set, show_progress=False).fit()

    assert result.steps == 8 and torch.isfinite(torch.tensor(result.final_loss))
    for name, value in parts.llm.model.state_dict().items():
        assert torch.equal(value, llm_before[name]), f"frozen LLM tensor {name} changed"
    changed = [k for k, v in parts.projector.state_dict().items()
               if not torch.equal(v, proj_before[k])]
    assert changed, "no projector tensor changed"

    for name in ("recipe.yaml", "metrics.jsonl", "training.png", "README.md", "summary.json",
                 "projector/config.json", "projector/model.safetensors",
                 "best/config.json", "best/best.json"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "training.png").read_bytes()[:4] == b"\x89PNG"
    assert [s for s, _ in losses(run_dir)] == list(range(1, 9))
    records = [json.loads(x) for x in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in records if "val_accuracy" in r] == [4, 8]
    assert any("test_accuracy" in r for r in records)
    assert load_recipe(run_dir / "recipe.yaml").model_dump() == recipe.model_dump()
    card = (run_dir / "README.md").read_text()
    assert "synthetic world only" in card and "test ranking accuracy" in card
    from xalign.projectors import load_projector

    reloaded = load_projector(run_dir / "projector")
    for k, v in reloaded.state_dict().items():
        assert torch.equal(v, parts.projector.state_dict()[k])
    # --eval-only path: the saved run ranks the same test items to the same accuracy
    again = evaluate_run(run_dir, split="test")
    assert (again.accuracy, again.n) == (result.test["accuracy"], result.test["n"])


def test_eval_only_cli_prints_accuracy_table(tmp_path, tiny_llm, monkeypatch, capsys):
    import sys

    from xalign.cli.main import main

    recipe = _recipe(tmp_path, tiny_llm, schedule={"max_steps": 2, "batch_size": 2})
    train_recipe(recipe, tmp_path / "run", show_progress=False)
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["xalign", "train", "--eval-only", "--run",
                                      str(tmp_path / "run"), "--split", "val", "--size", "6"])
    try:
        main()
    except SystemExit as exc:
        assert not exc.code
    out = " ".join(capsys.readouterr().out.split())
    assert "val ranking accuracy" in out and "all" in out


def _write_manifest(folder: Path, good: int, bad: int) -> Path:
    modality = get_modality("image")
    folder.mkdir()
    lines = []
    for i in range(good):
        sample = modality.synthesize(i)
        path = modality.write(sample.raw, folder / f"good{i}")
        lines.append({"id": f"g{i}", "media": {"image": path.name}, "task": "classify:colour",
                      "answer": sample.attributes["colour"]})
    for i in range(bad):
        path = folder / f"bad{i}.png"
        path.write_bytes(b"\x89PNG not really" if i % 2 else b"")
        lines.append({"id": f"b{i}", "media": {"image": path.name}, "task": "classify:colour",
                      "answer": "red"})
    manifest = folder / "train.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    return manifest


def test_bad_media_is_skipped_listed_and_bounded(tmp_path, tiny_llm):
    manifest = _write_manifest(tmp_path / "data", good=22, bad=2)
    sources = {"sources": [{"kind": "manifest", "path": str(manifest)}]}
    recipe = _recipe(tmp_path, tiny_llm, data=sources, max_bad_fraction=0.1,
                     schedule={"max_steps": 7, "batch_size": 4, "log_every": 1})
    result = train_recipe(recipe, tmp_path / "ok", show_progress=False)
    skipped = [json.loads(x) for x in (tmp_path / "ok" / "skipped.jsonl").read_text().splitlines()]
    assert result.skipped == 2 and result.steps == 7
    assert sorted(s["item_id"] for s in skipped) == ["b0", "b1"]
    assert all(s["path"].endswith(".png") and s["reason"] for s in skipped)

    strict = recipe.model_copy(update={"max_bad_fraction": 0.05})
    with pytest.raises(TrainError, match=r"unreadable media, more than max_bad_fraction=0\.05"):
        train_recipe(strict, tmp_path / "strict", show_progress=False)
    assert (tmp_path / "strict" / "skipped.jsonl").read_text().strip()


class NaNAt:
    """The model, except that its ``at``-th loss is NaN."""

    def __init__(self, model, at: int) -> None:
        self.model, self.at, self.calls = model, at, 0

    def __getattr__(self, name):
        return getattr(self.model, name)

    def loss(self, examples):
        self.calls += 1
        value = self.model.loss(examples)
        return value * float("nan") if self.calls == self.at else value


def test_nan_loss_stops_naming_step_and_batch_and_keeps_checkpoint(tmp_path, tiny_llm):
    recipe = _recipe(tmp_path, tiny_llm, checkpoint={"every": 2, "keep_last": 2})
    parts = build_components(recipe)
    trainer = Trainer(recipe, NaNAt(parts.model, at=3), parts.train_set, tmp_path / "run",
                      show_progress=False)
    with pytest.raises(TrainError) as info:
        trainer.fit()
    message = str(info.value)
    assert "non-finite loss" in message and "at step 3" in message
    assert "synthetic-image-train-" in message  # the batch's item ids
    assert "step-000002" in message
    assert (tmp_path / "run" / "checkpoints" / "step-000002" / "state.json").is_file()
    assert not (tmp_path / "run" / "checkpoints" / "step-000003").exists()


def test_interrupted_run_resumes_bit_for_bit_in_process(tmp_path, tiny_llm, monkeypatch):
    recipe = _recipe(tmp_path, tiny_llm, schedule={"max_steps": 10, "batch_size": 4,
                                                   "log_every": 1},
                     checkpoint={"every": 3, "keep_last": 1})
    whole = train_recipe(recipe, tmp_path / "whole", show_progress=False)

    original = Trainer._record

    def crash_at_7(self, *args):
        original(self, *args)
        if self.step == 7:
            raise KeyboardInterrupt  # after step 7, whose checkpoint (6) is on disk

    monkeypatch.setattr(Trainer, "_record", crash_at_7)
    with pytest.raises(KeyboardInterrupt):
        train_recipe(recipe, tmp_path / "cut", show_progress=False)
    monkeypatch.setattr(Trainer, "_record", original)
    resumed = train_recipe(recipe, resume=tmp_path / "cut", show_progress=False)
    assert resumed.steps == whole.steps == 10
    assert losses(tmp_path / "cut") == losses(tmp_path / "whole")
    from safetensors.torch import load_file

    a = load_file(tmp_path / "whole" / "projector" / "model.safetensors")
    b = load_file(tmp_path / "cut" / "projector" / "model.safetensors")
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_a_mixed_in_qformer_prompt_leaves_the_projector_instruction_aware(tmp_path, tiny_llm):
    fixed = build_components(_recipe(tmp_path, tiny_llm, projector={
        "kind": "qformer", "qformer_prompt": "a short description"}))
    assert fixed.projector.config.qformer_prompt == "a short description"
    assert fixed.train_set[0].qformer_prompt is None  # the projector's own prompt applies
    mixed = build_components(_recipe(tmp_path, tiny_llm, projector={
        "kind": "qformer", "qformer_prompt": "a short description",
        "qformer_prompt_share": 0.5}))
    assert mixed.projector.config.qformer_prompt is None  # reads the instruction at inference
    prompts = {mixed.train_set[i].qformer_prompt for i in range(len(mixed.train_set))}
    assert prompts == {"a short description", None}
