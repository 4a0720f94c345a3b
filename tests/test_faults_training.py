"""Faults during training: planted bad media, a full disk while checkpointing, bad plugins."""

from __future__ import annotations

import errno
import json
from pathlib import Path

import pytest
import torch

from tests.faults.corrupt_media import all_cases
from tests.train_tiny import shared_tiny_llm, tiny_recipe_yaml
from xalign.errors import MediaError
from xalign.featurize import featurize_file
from xalign.registry import get_registry
from xalign.train import checkpoint as checkpoint_module
from xalign.train.checkpoint import list_checkpoints
from xalign.train.recipe_io import load_recipe
from xalign.train.run import train_recipe

OTHER = {"image": "audio", "video": "image", "audio": "3d", "3d": "image"}


def _manifest_with_planted_bad_files(folder: Path, name: str, good: int) -> tuple[Path, set[str]]:
    registry = get_registry()
    modality = registry.get(name)
    cases = all_cases(modality, registry.get(OTHER[name]), folder / "bad")
    lines, planted = [], set()
    for i in range(good):
        path = modality.write(modality.synthesize(100 + i).raw, folder / f"good{i}")
        lines.append({"id": f"good{i}", "media": {name: str(path)},
                      "instruction": "describe this", "answer": "a shape"})
    for i, case in enumerate(cases):
        item_id = f"case{i}"
        lines.append({"id": item_id, "media": {name: str(case.path)},
                      "instruction": "describe this", "answer": "a shape"})
        if case.bad:
            planted.add(str(case.path))
    manifest = folder / "train.jsonl"
    manifest.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return manifest, planted


@pytest.mark.parametrize("name", ["image", "video", "audio", "3d"])
def test_training_skips_and_lists_exactly_the_planted_bad_files(tmp_path: Path, name: str) -> None:
    manifest, planted = _manifest_with_planted_bad_files(tmp_path / "data", name, good=8)
    total = len(manifest.read_text().splitlines())
    recipe = load_recipe(tiny_recipe_yaml(
        tmp_path / "recipe.yaml", shared_tiny_llm(), tmp_path / "cache", modality=name,
        data={"sources": [{"kind": "manifest", "path": str(manifest)}]},
        schedule={"max_steps": 2 * total // 4 + 2, "batch_size": 4, "log_every": 1},
        checkpoint={"every": 100, "keep_last": 1}))
    recipe = recipe.model_copy(update={"max_bad_fraction": 0.9})
    result = train_recipe(recipe, tmp_path / "run", show_progress=False)
    listed = [json.loads(x) for x in (tmp_path / "run" / "skipped.jsonl").read_text().splitlines()]
    listed_paths = {row["path"] for row in listed}
    print(f"{name}: planted {len(planted)} bad files in {total} items; run skipped "
          f"{result.skipped}, listed {len(listed_paths)}")
    assert listed_paths == planted
    assert all(row["reason"] for row in listed)
    assert (tmp_path / "run" / "projector" / "model.safetensors").is_file()


def test_a_full_disk_during_a_checkpoint_keeps_the_previous_one_loadable(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recipe = load_recipe(tiny_recipe_yaml(
        tmp_path / "recipe.yaml", shared_tiny_llm(), None,
        schedule={"max_steps": 8, "batch_size": 4, "log_every": 1},
        checkpoint={"every": 2, "keep_last": 2}))
    real_write, calls = checkpoint_module.write_tensors, []

    def write_until_the_disk_fills(path: Path, tensors: dict[str, torch.Tensor]) -> None:
        calls.append(path)
        if "step-000006" in str(path):  # the checkpoints of steps 2 and 4 fit; step 6 does not
            with open(path, "wb") as handle:  # a partial file, as a real full disk leaves
                handle.write(b"\0" * 16)
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real_write(path, tensors)

    monkeypatch.setattr(checkpoint_module, "write_tensors", write_until_the_disk_fills)
    run_dir = tmp_path / "run"
    with pytest.raises(OSError, match="No space left"):
        train_recipe(recipe, run_dir, show_progress=False)
    monkeypatch.setattr(checkpoint_module, "write_tensors", real_write)

    complete = list_checkpoints(run_dir)
    assert [step for step, _ in complete] == [2, 4]
    resumed = train_recipe(recipe, resume=run_dir, show_progress=False)  # loads step 4
    assert resumed.steps == 8
    assert (run_dir / "projector" / "model.safetensors").is_file()


def test_a_plugin_that_raises_in_preprocess_fails_only_its_own_items(tmp_path: Path) -> None:
    import dataclasses

    registry = get_registry()
    audio = registry.get("audio")
    broken = registry.build_encoder("audio")
    broken.spec = dataclasses.replace(broken.spec, preprocess=lambda raw, train: 1 / 0)
    path = audio.write(audio.synthesize(1).raw, tmp_path / "clip")
    with pytest.raises(MediaError) as info:
        featurize_file(audio, broken, path)
    assert path.name in str(info.value) and "ZeroDivisionError" in str(info.value)
    assert "audio preprocessing failed" in str(info.value)
    image = registry.get("image")  # other modalities are untouched
    image_path = image.write(image.synthesize(1).raw, tmp_path / "picture")
    assert featurize_file(image, registry.build_encoder("image"), image_path).isfinite().all()
