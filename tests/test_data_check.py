"""``xalign data check``: a synthetic-world manifest with planted problems (an exact copy, a
re-encoded image, repeated instructions, a missing and a corrupt file) is reported exactly,
``--fix`` drops those lines and leaves the originals byte-identical, ``--json`` round-trips."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from xalign.data import FeatureCache, ManifestSource
from xalign.data.quality import QualityReport, check_manifest, drop_reasons, write_fixed
from xalign.data.world import write_world
from xalign.errors import EnvironmentFault


@dataclasses.dataclass
class Planted:
    manifest: Path
    lines: int
    path: dict[str, str]  # name -> resolved media path
    dup_instr_of: str  # the line the planted duplicate instruction repeats
    near_instr_of: str


def _line(record: dict, **changes: object) -> str:
    return json.dumps({**record, **changes}) + "\n"


@pytest.fixture(scope="module")
def planted(tmp_path_factory: pytest.TempPathFactory) -> Planted:
    root = tmp_path_factory.mktemp("check")
    write_world(root, ["image"], {"train": 6, "val": 0, "test": 0})
    records = [json.loads(x) for x in (root / "train.jsonl").read_text().splitlines()]
    first = {}  # image index -> its caption line
    for r in records:
        first.setdefault(int(r["id"].split("-")[2]), r)
    extra = root / "extra"
    extra.mkdir()
    img = {i: first[i]["media"][0]["path"] for i in range(4)}
    shutil.copyfile(root / img[0], extra / "copy.png")  # exact duplicate
    Image.open(root / img[1]).convert("RGB").save(extra / "near.jpg", quality=85)  # re-encoded
    (extra / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"not really a png" * 8)
    colour = next(r for r in records if r["id"] == "image-train-000002-qa:colour")
    caption3 = first[3]["instruction"]
    planted_lines = [
        _line(first[0], id="copy", media=[{"modality": "image", "path": "extra/copy.png"}]),
        _line(first[1], id="near", media=[{"modality": "image", "path": "extra/near.jpg"}]),
        # equal to an earlier instruction about the same image after normalisation
        _line(colour, id="dup-instr", instruction="  " + colour["instruction"].upper() + " !"),
        # one letter dropped: a near-duplicate instruction (fuzzy), not an exact one
        _line(first[3], id="near-instr", instruction=caption3[:4] + caption3[5:]),
        # one word apart but answered differently: two questions, not a duplicate
        _line(first[5], id="name-colour", instruction="Name the colour of the shapes, please.",
              answer="red"),
        _line(first[5], id="name-count", instruction="Name the count of the shapes, please.",
              answer="two"),
        _line(first[4], id="missing", media=[{"modality": "image", "path": "extra/gone.png"}]),
        _line(first[5], id="broken", media=[{"modality": "image", "path": "extra/broken.png"}]),
    ]
    manifest = root / "planted.jsonl"
    text = (root / "train.jsonl").read_text()
    manifest.write_text(text + "".join(planted_lines))
    paths = {**{f"img{i}": str(root / p) for i, p in img.items()},
             **{n: str(extra / n) for n in ("copy.png", "near.jpg", "gone.png", "broken.png")}}
    return Planted(manifest, len(records) + len(planted_lines), paths, colour["id"],
                   first[3]["id"])


SETTINGS = {"encoder_source": None}  # what training uses for the default encoder


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def report(planted: Planted, cache_dir: Path) -> QualityReport:
    cache = FeatureCache(cache_dir, settings=SETTINGS)
    found = check_manifest(planted.manifest, cache=cache)
    assert (cache.hits, cache.misses) == (0, 8)  # 6 images, the re-encoded one, the broken one
    return found


def _digests(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_the_report_finds_exactly_the_planted_problems(planted: Planted,
                                                       report: QualityReport) -> None:
    p = planted.path
    assert report.lines == planted.lines and report.media_files == 6 + 4
    assert [(b.path, b.reason, b.lines) for b in report.missing] == [
        (p["gone.png"], "file not found", ["missing"])]
    assert [(b.path, b.lines) for b in report.corrupt] == [(p["broken.png"], ["broken"])]
    assert "broken.png" not in report.corrupt[0].reason  # the reason, not the name again
    assert [(d.paths, d.lines) for d in report.exact_duplicates] == [
        ([p["img0"], p["copy.png"]], ["copy"])]
    assert [(d.paths, d.lines) for d in report.near_duplicates] == [
        ([p["img1"], p["near.jpg"]], ["near"])]
    assert 0.985 <= report.near_duplicates[0].similarity < 1.0
    found = {(d.line, d.duplicate_of, d.exact, d.same_answer)
             for d in report.duplicate_instructions}
    assert found == {("copy", "image-train-000000-caption", True, True),  # a copy asks again
                     ("dup-instr", planted.dup_instr_of, True, True),
                     ("near-instr", planted.near_instr_of, False, True)}
    # the nearest other image is well below the threshold: only the re-encoded one is flagged
    assert sorted(report.nearest_similarity["image"])[-3] < report.near_threshold


def test_balance_and_answer_statistics(report: QualityReport) -> None:
    assert report.modalities.counts == {"image": report.lines}
    assert report.encoder == {"image": "tiny"}
    # the world writes per image one caption, four qa and four classify lines
    assert report.tasks.counts["caption"] == 6 + 7 and report.tasks.counts["qa:colour"] == 7
    assert set(report.attributes) == {"shape", "colour", "count", "position"}
    assert sum(report.attributes["colour"].counts.values()) == report.lines
    assert 0.0 < report.attributes["colour"].balance <= 1.0
    answers = report.answers
    assert answers.count == report.lines and not answers.empty and not answers.not_in_candidates
    assert answers.percentiles["p0"] == 1  # single-word labels
    assert sum(answers.histogram.values()) == report.lines
    assert answers.percentiles["p100"] == max(int(k) for k in answers.histogram)


def test_fix_drops_them_and_never_touches_the_originals(planted: Planted, report: QualityReport,
                                                        cache_dir: Path, tmp_path: Path) -> None:
    folder = planted.manifest.parent
    before = _digests(folder)
    out = folder / "fixed.jsonl"  # beside the manifest: lines are copied byte for byte
    try:
        summary = write_fixed(report, out)
        assert summary.dropped == {"missing file": ["missing"], "corrupt file": ["broken"],
                                   "duplicate media": ["copy"],
                                   "duplicate instruction": ["dup-instr"]}
        kept = out.read_text().splitlines(keepends=True)
        assert summary.kept == len(kept) == planted.lines - 4
        original = planted.manifest.read_text().splitlines(keepends=True)
        assert [x for x in original if json.loads(x)["id"] not in
                {"missing", "broken", "copy", "dup-instr"}] == kept
        assert check_manifest(out, near=None).problem_count() == 1  # the near instruction
    finally:
        out.unlink(missing_ok=True)
    assert _digests(folder) == before
    # elsewhere, with --fix-near: relative paths are rebased and every file still resolves
    elsewhere = tmp_path / "clean" / "fixed.jsonl"
    summary = write_fixed(report, elsewhere, near=True)
    assert summary.dropped["near-duplicate media"] == ["near"]
    assert summary.dropped["near-duplicate instruction"] == ["near-instr"]
    source = ManifestSource(elsewhere)
    assert len(source) == planted.lines - 6
    assert all(Path(obj).is_file() for item in source for _, obj in item.media)
    cache = FeatureCache(cache_dir, settings=SETTINGS)
    assert check_manifest(elsewhere, cache=cache).problem_count() == 0
    assert _digests(folder) == before
    with pytest.raises(Exception, match="the manifest itself"):
        write_fixed(report, planted.manifest)
    assert drop_reasons(report)["copy"] == "duplicate media"


def test_cli_json_round_trips_and_writes_png_and_fix(planted: Planted, report: QualityReport,
                                                     cache_dir: Path, tmp_path: Path) -> None:
    from xalign.cli.main import app

    before = _digests(planted.manifest.parent)
    png, fixed = tmp_path / "report.png", tmp_path / "fixed.jsonl"
    result = CliRunner().invoke(app, ["data", "check", str(planted.manifest), "--json",
                                      "--cache", str(cache_dir), "--png", str(png),
                                      "--fix", str(fixed)])
    assert result.exit_code == 0, result.output
    stderr = " ".join(result.stderr.split())  # rich wraps long lines at the terminal width
    assert f"kept {planted.lines - 4} lines" in stderr  # stdout holds the JSON alone
    again = QualityReport.from_dict(json.loads(result.stdout))
    assert again == report
    assert QualityReport.from_dict(json.loads(again.to_json())) == again
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    assert len(fixed.read_text().splitlines()) == planted.lines - 4
    assert _digests(planted.manifest.parent) == before
    table = CliRunner().invoke(app, ["data", "check", str(planted.manifest), "--no-near"])
    assert table.exit_code == 0, table.output
    for text in ("missing files", "corrupt files", "exact duplicate media",
                 "near-duplicate media (skipped)", "duplicate instructions", "attribute colour"):
        assert text in table.stdout


def test_cached_features_give_the_same_report(planted: Planted, report: QualityReport,
                                              cache_dir: Path) -> None:
    cache = FeatureCache(cache_dir, settings=SETTINGS)
    assert check_manifest(planted.manifest, cache=cache) == report
    assert (cache.hits, cache.misses) == (7, 1)  # a file that fails to load is never cached
    assert check_manifest(planted.manifest, near=None) == dataclasses.replace(
        report, encoder={}, near_threshold=None, near_relative=None, near_duplicates=[],
        nearest_similarity={})


def test_an_environment_fault_stops_the_check_and_blames_no_file(
        planted: Planted, monkeypatch: pytest.MonkeyPatch) -> None:
    import xalign.data.quality.media as media

    modality = media.get_modality("image")

    def no_decoder(path: Path) -> object:
        raise EnvironmentFault("the PNG decoder cannot load", "apt-get install libpng16-16")

    monkeypatch.setattr(media, "get_modality",
                        lambda name: dataclasses.replace(modality, load=no_decoder))
    with pytest.raises(EnvironmentFault, match=r"environment problem, not a data fault.*libpng"):
        check_manifest(planted.manifest, near=None)

    def broken_machine(_: object) -> None:
        raise EnvironmentFault("libusb-1.0 is missing", "apt-get install libusb-1.0-0")

    monkeypatch.setattr(media, "check_environment", broken_machine)
    with pytest.raises(EnvironmentFault, match="libusb"):
        check_manifest(planted.manifest, near=None)


def test_near_duplicates_must_stand_out_from_a_homogeneous_set() -> None:
    from xalign.data.quality.media import _near_clusters

    generator = torch.Generator().manual_seed(0)
    common = torch.randn(64, generator=generator)
    # twelve distinct files sharing one dominant direction, as a random encoder gives them
    table = {f"f{i}": common + 0.05 * torch.randn(64, generator=generator) for i in range(12)}
    table["copy"] = table["f3"] + 0.002 * torch.randn(64, generator=generator)
    table = {k: torch.nn.functional.normalize(v, dim=0) for k, v in table.items()}
    clusters, nearest = _near_clusters(table, 0.99)
    assert len(clusters) == 1 and len(clusters[0][0]) == 13  # the threshold alone: all of them
    clusters, nearest = _near_clusters(table, 0.99, relative=0.2)
    assert [members for members, _ in clusters] == [["f3", "copy"]]
    assert len(nearest) == 13 and min(nearest) > 0.99
