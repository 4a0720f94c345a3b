"""``xalign data synth``: the synthetic world on disk loads back and matches the on-the-fly one."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from tests.test_data_fake import BLOB_ATTRIBUTES, fake_registry  # noqa: F401 - fixture
from xalign.data import ManifestSource, SyntheticSource
from xalign.data.world import write_world
from xalign.errors import XalignError
from xalign.registry import Registry, get_modality, reset_registry


@pytest.mark.usefixtures("fake_registry")
def test_world_round_trip(tmp_path: Path) -> None:
    summary = write_world(tmp_path / "w", ["blob", "hum"], {"train": 5, "val": 2, "test": 3},
                          seed=4)
    out = tmp_path / "w"
    assert summary.media == {"blob": {"train": 5, "val": 2, "test": 3},
                             "hum": {"train": 5, "val": 2, "test": 3}}
    meta = json.loads((out / "world.json").read_text())
    assert meta["seed"] == 4 and meta["splits"] == {"train": 5, "val": 2, "test": 3}
    assert meta["modalities"]["blob"]["attributes"]["colour"] == list(BLOB_ATTRIBUTES["colour"])
    assert meta["modalities"]["blob"]["plugin_version"] == "1.0"
    blob = get_modality("blob")
    raws: dict[str, set[bytes]] = {}
    for split in ("train", "val", "test"):
        items = [json.loads(x) for x in (out / f"{split}.items.jsonl").read_text().splitlines()]
        assert len(items) == {"train": 10, "val": 4, "test": 6}[split]
        on_the_fly = SyntheticSource("blob", split, size=5, seed=4)
        for i, rec in enumerate(x for x in items if x["modality"] == "blob"):
            loaded = blob.load(out / rec["path"])
            sample = on_the_fly.sample(i)
            assert np.array_equal(loaded, sample.raw)  # same sample as SyntheticSource
            assert rec["caption"] == sample.caption and rec["attributes"] == sample.attributes
            assert rec["quantities"] == pytest.approx(dict(sample.quantities))
        raws[split] = {(out / r["path"]).read_bytes() for r in items}
        # the manifest: a caption line per item, plus qa and classify per attribute
        source = ManifestSource(out / f"{split}.jsonl")
        n = len(items) // 2
        assert len(source) == n * (1 + 2 + 2) + n  # blob: 5 lines, hum (no attributes): 1
        for item in source:
            assert item.media[0][1].is_file()
            base, _, attr = item.task.partition(":")
            if base == "classify":
                assert item.target == item.attributes[attr]
                assert item.candidates == BLOB_ATTRIBUTES[attr]
        assert len(ManifestSource(out / f"{split}.jsonl", tasks=("classify",))) == 2 * n
    assert not raws["train"] & raws["val"] and not raws["train"] & raws["test"]
    with pytest.raises(XalignError, match="--overwrite"):
        write_world(out, ["blob"], {"train": 1})
    write_world(out, ["blob"], {"train": 1}, overwrite=True)


@pytest.mark.usefixtures("fake_registry")
def test_cli_synth(tmp_path: Path) -> None:
    import typer

    from xalign.cli.data import app as data_app

    app = typer.Typer()
    app.add_typer(data_app, name="data")  # as xalign.cli.main mounts it
    result = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "w"), "--modalities",
                                      "blob", "--train", "3", "--val", "1", "--test", "0",
                                      "--seed", "2"])
    assert result.exit_code == 0, result.output
    assert "blob: train 3, val 1" in result.output
    assert len(ManifestSource(tmp_path / "w" / "train.jsonl")) == 15
    assert not (tmp_path / "w" / "test.jsonl").exists()
    unknown = CliRunner().invoke(app, ["data", "synth", "--out", str(tmp_path / "x"),
                                       "--modalities", "blobb"])
    assert "did you mean 'blob'" in str(unknown.exception)


def test_installed_plugins_round_trip(tmp_path: Path) -> None:
    """Files written through each installed plugin load back and preprocess like the raw."""
    registry = Registry(strict=False).discover()
    names = registry.names()
    if not names:
        pytest.skip("no modality plugin installed")
    reset_registry(registry)
    try:
        write_world(tmp_path, names, {"train": 1, "val": 1}, seed=1)
        for name in names:
            modality = registry.get(name)
            source = SyntheticSource(name, "val", size=1, seed=1)
            rec = next(json.loads(x) for x in (tmp_path / "val.items.jsonl").read_text()
                       .splitlines() if json.loads(x)["modality"] == name)
            preprocess = registry.encoder(name).preprocess
            from_file = preprocess(modality.load(tmp_path / rec["path"]), False)
            from_raw = preprocess(source.sample(0).raw, False)
            assert from_file.shape == from_raw.shape, name
            assert torch.corrcoef(torch.stack([from_file.flatten().float(),
                                               from_raw.flatten().float()]))[0, 1] > 0.9, name
        train = ManifestSource(tmp_path / "train.jsonl")
        assert {m for item in train for m, _ in item.media} == set(names)
    finally:
        reset_registry(None)
