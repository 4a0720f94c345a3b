"""Bad configuration ends with one clear line and a non-zero exit; --debug shows the traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.train_tiny import shared_tiny_llm, tiny_recipe_yaml
from xalign.projectors import ProjectorConfig, build_projector


def xalign(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "xalign", *args], capture_output=True,
                          text=True, env=env, timeout=300)


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr + result.stdout
    for needle in needles:
        assert needle in " ".join((result.stderr + result.stdout).split()), result.stderr


def _recipe(tmp_path: Path, edit) -> Path:
    path = tiny_recipe_yaml(tmp_path / "recipe.yaml", shared_tiny_llm(), None)
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data))
    return path


def test_misspelt_recipe_key_names_the_closest_valid_key(tmp_path: Path) -> None:
    path = _recipe(tmp_path, lambda d: d["optim"].update({"learning_rat": 1e-4}))
    assert_clean_failure(xalign("train", "--recipe", str(path)), "learning_rat", "lr")


def test_wrong_type_in_recipe(tmp_path: Path) -> None:
    path = _recipe(tmp_path, lambda d: d["schedule"].update({"max_steps": "many"}))
    assert_clean_failure(xalign("train", "--recipe", str(path)), "max_steps")


def test_misspelt_override(tmp_path: Path) -> None:
    path = _recipe(tmp_path, lambda d: None)
    assert_clean_failure(xalign("train", "--recipe", str(path), "schedule.max_stepz=3"),
                         "max_stepz", "max_steps")


def test_missing_recipe_and_media_files(tmp_path: Path) -> None:
    assert_clean_failure(xalign("train", "--recipe", str(tmp_path / "nope.yaml")), "nope.yaml")
    assert_clean_failure(
        xalign("generate", "--llm", str(shared_tiny_llm()), "--untrained", "image",
               "--image", str(tmp_path / "missing.png"), "--prompt", "what"),
        "missing.png")


@pytest.fixture()
def wide_projector(tmp_path: Path) -> Path:
    config = ProjectorConfig(kind="linear", modality="image", feature_dim=256, llm_dim=999,
                             num_tokens=2, llm_id="some-999-wide-llm")
    return build_projector(config).save_pretrained(tmp_path / "wide")


def test_projector_for_another_llm_width(tmp_path: Path, wide_projector: Path) -> None:
    from PIL import Image

    Image.new("RGB", (32, 32), "red").save(tmp_path / "red.png")
    args = ("generate", "--llm", str(shared_tiny_llm()), "--projector", str(wide_projector),
            "--image", str(tmp_path / "red.png"), "--prompt", "what")
    assert_clean_failure(xalign(*args), "999", "32")
    debug = xalign("--debug", *args)
    assert debug.returncode != 0 and "Traceback" in debug.stderr
