"""JSONL manifests: parsing, path resolution, templated tasks, errors naming file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.test_data_fake import BLOB_ATTRIBUTES, fake_registry  # noqa: F401 - fixture
from xalign.data import ManifestError, ManifestSource
from xalign.errors import XalignError


def write(path: Path, *lines: object) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n"
                            for x in lines))
    return path


GOOD = {"id": "a", "media": [{"modality": "blob", "path": "m/a.npy"}],
        "instruction": "What is it?", "answer": "a blob", "task": "qa:colour",
        "candidates": ["red", "blue"], "attributes": {"colour": "red"}}


def test_parses_lines_and_resolves_paths(tmp_path: Path) -> None:
    (tmp_path / "d").mkdir()
    manifest = write(tmp_path / "d" / "train.jsonl", GOOD, "",
                     {"media": {"blob": "/abs/b.npy", "hum": "h.npy"}, "instruction": "Compare.",
                      "answer": "the first"})
    source = ManifestSource(manifest)
    assert len(source) == 2 and source.name == "manifest-train"
    a, b = source[0], source[1]
    assert a.media == [("blob", tmp_path / "d" / "m" / "a.npy")]
    assert (a.instruction, a.target, a.task) == ("What is it?", "a blob", "qa:colour")
    assert a.candidates == ("red", "blue") and a.attributes == {"colour": "red"}
    assert b.media == [("blob", Path("/abs/b.npy")), ("hum", tmp_path / "d" / "h.npy")]
    assert b.id == "train-3"  # default id: stem and line number
    rooted = ManifestSource(manifest, root=tmp_path / "media")
    assert rooted[0].media[0][1] == tmp_path / "media" / "m" / "a.npy"
    assert len(ManifestSource(manifest, tasks=("qa",))) == 1
    assert len(ManifestSource(manifest, tasks=("caption",))) == 0


@pytest.mark.parametrize(("line", "message"), [
    ('{"id": "b", "media": [}', r"bad\.jsonl:3: invalid JSON"),
    ('["a list"]', r"bad\.jsonl:3: expected a JSON object"),
    ({"id": "b", "media": {"blob": "x.npy"}, "instruction": "q"},
     r"bad\.jsonl:3: missing field 'answer'"),
    ({"id": "b", "media": {"blob": "x.npy"}, "answer": "x"},
     r"bad\.jsonl:3: missing field 'instruction \(or task\)'"),
    ({"id": "b", "answer": "x"}, r"bad\.jsonl:3: missing fields 'media', 'instruction"),
    ({"id": "b", "media": [{"modality": "blob"}], "instruction": "q", "answer": "x"},
     r"bad\.jsonl:3: media\[0\] is missing field 'path'"),
    ({"id": "b", "media": [], "instruction": "q", "answer": "x"}, r":3: 'media' must be"),
    ({"id": "b", "media": {"blob": "x"}, "instruction": "q", "answer": 3},
     r":3: 'answer' must be a string"),
    ({"id": "a", "media": {"blob": "x"}, "instruction": "q", "answer": "x"},
     r":3: duplicate id 'a' \(first on line 1\)"),
])
def test_errors_name_file_and_line(tmp_path: Path, line: object, message: str) -> None:
    manifest = write(tmp_path / "bad.jsonl", GOOD, "   ", line)
    with pytest.raises(ManifestError, match=message) as info:
        ManifestSource(manifest)
    assert info.value.line == 3 and info.value.path == str(manifest)


def test_missing_manifest_is_reported(tmp_path: Path) -> None:
    with pytest.raises(XalignError, match="manifest not found"):
        ManifestSource(tmp_path / "nope.jsonl")


@pytest.mark.usefixtures("fake_registry")
def test_task_lines_get_template_instructions(tmp_path: Path) -> None:
    lines = [{"id": f"x{i}", "media": {"blob": f"{i}.npy"}, "task": task, "answer": answer}
             for i, (task, answer) in enumerate([("caption", "a red blob"),
                                                 ("classify:colour", "red"),
                                                 ("qa:shape_size", "small")] * 4)]
    source = ManifestSource(write(tmp_path / "t.jsonl", *lines))
    caption, classify, qa = source[0], source[1], source[2]
    assert caption.target == "a red blob" and caption.instruction
    assert classify.candidates == BLOB_ATTRIBUTES["colour"] and classify.target == "red"
    assert "colour" in classify.instruction
    assert "shape size" in qa.instruction and qa.target == "small"  # always an open question
    assert all(source[i].target == lines[i]["answer"] for i in range(len(lines)))
    # the phrasing is fixed by the id: parsing again gives the same instructions
    assert [x.instruction for x in ManifestSource(tmp_path / "t.jsonl")] == [
        x.instruction for x in source]
    bad = write(tmp_path / "u.jsonl", {"media": {"blob": "a.npy"}, "task": "qa", "answer": "x"})
    with pytest.raises(ManifestError, match=r"u\.jsonl:1: task 'qa' has no template"):
        ManifestSource(bad)
    absent = write(tmp_path / "v.jsonl", {"media": {"lidar": "a.bin"}, "task": "caption",
                                          "answer": "x"})
    with pytest.raises(ManifestError, match="'lidar' is not installed"):
        ManifestSource(absent)
