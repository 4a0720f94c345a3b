"""Recipes: every shipped recipe validates; misspelt keys and wrong types fail in one line."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

from xalign.train.defaults import default_recipe, tiny_recipe
from xalign.train.recipe_io import RecipeError, load_recipe, recipe_from_dict

ROOT = Path(__file__).resolve().parents[1]
RECIPES = sorted((ROOT / "recipes").glob("*.yaml"))


def test_recipes_are_shipped():
    names = {p.stem for p in RECIPES}
    for modality in ("image", "video", "audio", "3d"):
        assert f"tiny-{modality}" in names
        assert f"xinstructblip-7b-{modality}" in names
        assert f"xinstructblip-7b-{modality}-nocue" in names
        assert f"xllava-7b-{modality}" in names
    assert {"s3-mlp4-image", "llava-phi-stage1", "llava-phi-stage2",
            "llava-phi-stage2-lora"} <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_every_shipped_recipe_validates(path):
    # *-base.yaml are shared parts of a family: valid once a modality is named
    partial = path.stem.endswith("-base")
    recipe = load_recipe(path, ["modality=image"] if partial else [])
    assert recipe.modality
    assert recipe.name == yaml.safe_load(path.read_text()).get("name", path.stem)


def test_paper_recipes_follow_design():
    image = load_recipe(ROOT / "recipes/xinstructblip-7b-image.yaml")
    assert image.llm.source == "lmsys/vicuna-7b-v1.1"
    assert (image.projector.kind, image.projector.preset, image.projector.num_tokens) == (
        "qformer", "paper", 32)
    o = image.optim
    assert (o.lr, o.betas, o.weight_decay, o.warmup_steps, o.warmup_start_lr, o.min_lr) == (
        1e-5, (0.9, 0.999), 0.05, 1000, 1e-8, 0.0)
    video = load_recipe(ROOT / "recipes/xinstructblip-7b-video.yaml")
    assert video.projector.init_from == "runs/xinstructblip-7b-image/projector"
    linear = load_recipe(ROOT / "recipes/xllava-7b-audio.yaml")
    assert (linear.projector.kind, linear.projector.match_params_of) == ("linear", "qformer")
    assert linear.encoder.source == load_recipe(ROOT / "recipes/xinstructblip-7b-audio.yaml"
                                                ).encoder.source
    assert load_recipe(ROOT / "recipes/xinstructblip-7b-3d-nocue.yaml").use_cue is False
    s3 = load_recipe(ROOT / "recipes/s3-mlp4-image.yaml")
    assert (s3.projector.kind, s3.projector.num_tokens, s3.optim.lr) == ("mlp", 4, 1e-4)
    assert s3.schedule.batch_size * s3.schedule.grad_accum == 128
    one = load_recipe(ROOT / "recipes/llava-phi-stage1.yaml")
    two = load_recipe(ROOT / "recipes/llava-phi-stage2.yaml")
    lora = load_recipe(ROOT / "recipes/llava-phi-stage2-lora.yaml")
    assert (one.llm.tune, one.optim.lr) == ("frozen", 1e-3)
    assert (two.llm.tune, two.optim.lr, lora.llm.tune, lora.optim.lr) == (
        "full", 2e-5, "lora", 2e-5)


@pytest.mark.parametrize("modality", ["image", "video", "audio", "3d"])
def test_tiny_yaml_equals_builtin_default(modality):
    from_file = load_recipe(ROOT / f"recipes/tiny-{modality}.yaml")
    assert from_file.model_dump() == tiny_recipe(modality).model_dump()


def test_default_recipe_falls_back_to_builtin(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("xalign.train.defaults.recipe_dirs", lambda: [])
    recipe = default_recipe("audio", ["optim.lr=5e-4"])
    assert recipe.name == "tiny-audio" and recipe.optim.lr == 5e-4
    assert default_recipe("some-new-modality").modality == "some-new-modality"


def test_the_default_mixes_in_the_generic_qformer_prompt_and_can_drop_it():
    recipe = default_recipe("audio")
    assert recipe.projector.qformer_prompt == "a short description"
    assert recipe.projector.qformer_prompt_share == 0.5
    plain = default_recipe("audio", ["projector.qformer_prompt=null",
                                     "projector.qformer_prompt_share=0"])
    assert plain.projector.qformer_prompt is None  # the instruction only, as before


@pytest.mark.parametrize(("data", "overrides", "expected"), [
    ({"optim": {"learning_rat": 1}}, [], "unknown key 'learning_rat' in x.yaml at optim; "
                                         "did you mean 'lr'?"),
    ({"schedule": {"max_steps": 5, "batchsize": 2}}, [], "did you mean 'batch_size'?"),
    ({"batch_size": 2}, [], "did you mean 'schedule.batch_size'?"),
    ({}, ["optim.weight_decy=0.1"], "unknown key 'weight_decy' in override "
                                    "'optim.weight_decy=0.1' at optim; did you mean "
                                    "'weight_decay'?"),
    ({"data": {"sources": [{"kind": "manifest", "pathh": "m.jsonl"}]}}, [],
     "at data.sources[0]; did you mean 'path'?"),
    ({"optim": {"lr": "fast"}}, [], "x.yaml: optim.lr: Input should be a valid number"),
    ({"schedule": {"max_steps": -3}}, [], "schedule.max_steps: Input should be greater than 0"),
    ({}, ["use_cue=maybe"], "override 'use_cue=maybe': use_cue: Input should be a valid boolean"),
    ({"schedule": {"batch_size": 4}}, [], "set exactly one of 'max_steps' and 'epochs'"),
    ({}, ["projector.qformer_prompt_share=0.5"], "mixes in projector.qformer_prompt, which is "
                                                 "unset: set it"),
    ({}, ["projector.qformer_prompt_share=1.5"], "Input should be less than or equal to 1"),
])
def test_bad_recipes_fail_with_one_clear_line(data, overrides, expected):
    with pytest.raises(RecipeError) as info:
        recipe_from_dict({"modality": "audio", **data}, "x.yaml", overrides)
    message = str(info.value)
    assert expected in message
    assert "\n" not in message


def test_overrides_dotted_lists_and_yaml_values():
    recipe = recipe_from_dict(
        {"modality": "image", "data": {"sources": [{"kind": "synthetic", "size": 10}]}},
        overrides=["optim.lr=1e-4", "optim.betas=[0.9, 0.95]", "data.sources.0.size=33",
                   "use_cue=false", "llm.gguf_file=null", "schedule.max_steps=7"])
    assert recipe.optim.lr == 1e-4 and recipe.optim.betas == (0.9, 0.95)
    assert recipe.data.sources[0].size == 33 and recipe.use_cue is False
    assert recipe.schedule.max_steps == 7
    for bad in ("novalue", "data.sources.5.size=1", "=3"):
        with pytest.raises(RecipeError):
            recipe_from_dict({"modality": "image"}, overrides=[bad])


def test_base_inheritance_and_cycles(tmp_path):
    (tmp_path / "base.yaml").write_text("modality: audio\noptim: {lr: 0.01, warmup_steps: 5}\n")
    (tmp_path / "child.yaml").write_text("base: base.yaml\noptim: {lr: 0.02}\n")
    child = load_recipe(tmp_path / "child.yaml")
    assert (child.optim.lr, child.optim.warmup_steps, child.name) == (0.02, 5, "child")
    (tmp_path / "a.yaml").write_text("base: b.yaml\nmodality: audio\n")
    (tmp_path / "b.yaml").write_text("base: a.yaml\n")
    with pytest.raises(RecipeError, match="cycle"):
        load_recipe(tmp_path / "a.yaml")
    (tmp_path / "bad.yaml").write_text("modality: [unclosed\n")
    with pytest.raises(RecipeError, match="not valid YAML"):
        load_recipe(tmp_path / "bad.yaml")
    with pytest.raises(RecipeError, match="not found"):
        load_recipe(tmp_path / "missing.yaml")


def _cli(monkeypatch, *args: str) -> int:
    from xalign.cli.main import main

    monkeypatch.setattr(sys, "argv", ["xalign", *args])
    try:
        main()
    except SystemExit as exc:
        return exc.code or 0
    return 0


def test_cli_misspelt_key_exits_nonzero_with_one_line(tmp_path, monkeypatch, capsys):
    recipe = tmp_path / "r.yaml"
    recipe.write_text("modality: image\nschedule: {max_steps: 2, bacth_size: 4}\n")
    assert _cli(monkeypatch, "train", "--recipe", str(recipe)) == 1
    err = capsys.readouterr().err
    assert "Traceback" not in err
    # one message (the CLI's console may wrap it to the terminal width)
    assert " ".join(err.split()).startswith("error: unknown key 'bacth_size' in ")
    assert "did you mean 'batch_size'?" in " ".join(err.split())
    assert _cli(monkeypatch, "train", "--recipe", "tiny-imgae") == 1
    assert "did you mean 'tiny-image'?" in " ".join(capsys.readouterr().err.split())


def test_cli_print_recipe_applies_overrides(monkeypatch, capsys):
    assert _cli(monkeypatch, "train", "--modality", "image", "--print-recipe",
                "optim.lr=2e-4") == 0
    printed = yaml.safe_load(capsys.readouterr().out)
    assert printed["optim"]["lr"] == 2e-4 and printed["modality"] == "image"
