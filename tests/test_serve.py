"""``xalign serve`` without a browser: conversation → Example mapping, projector discovery,
upload checks with the loader's message, answers from the real embedded SmolLM2, CLI errors.

The helpers at the top are shared with ``tests/test_serve_browser.py``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

from tests.fixtures_llm import embedded_llm
from xalign.errors import MediaError, XalignError
from xalign.model import MediaFeatures
from xalign.registry import get_registry
from xalign.serve import handlers
from xalign.serve.chat import (
    HISTORY_HEADER,
    Attachment,
    Conversation,
    build_instruction,
    to_example,
)
from xalign.serve.discover import find_projectors, gather
from xalign.serve.media import guess_modality, point_cloud_obj, user_message

MODALITIES = ("image", "audio", "3d")


def need_plugins() -> None:
    missing = [n for n in MODALITIES if n not in get_registry().modalities]
    if missing:
        pytest.skip(f"plugins not installed: {missing}")


def llm():
    """The embedded SmolLM2 (135M, loads in seconds once cached): its answers to untrained
    projectors are nonsense, but words that a test can find on the page."""
    return embedded_llm()


def save_projectors(runs: Path) -> Path:
    """``runs/<modality>/projector`` for each of :data:`MODALITIES` (fresh, untrained)."""
    from xalign.cli.generate import untrained_projector

    for name in MODALITIES:
        untrained_projector(name, llm()).save_pretrained(runs / name / "projector")
    return runs


def write_media(name: str, folder: Path, index: int = 0) -> Path:
    modality = get_registry().get(name)
    return modality.write(modality.synthesize(index).raw, folder / f"{name}-{index}")


def backend_for(runs: Path):
    """A Backend over the projectors found under ``runs``, short answers."""
    from xalign.serve.backend import Backend

    return Backend(find_projectors(runs), llm=llm(), overrides={"max_new_tokens": 8})


# -- conversation -> example -----------------------------------------------------------------

def _features(conversation: Conversation) -> list[MediaFeatures]:
    return [MediaFeatures(a.modality, torch.full((1, 2, 4), float(i)))
            for i, a in enumerate(conversation.media())]


def test_first_turn_is_the_bare_question_with_the_media_in_upload_order() -> None:
    conv = Conversation()
    conv.attach(Attachment(Path("/u/a.png"), "image"))
    conv.attach(Attachment(Path("/u/b.wav"), "audio"))
    example = to_example(conv, "What do you see?", _features(conv))
    assert example.instruction == "What do you see?" and example.qformer_prompt is None
    assert [m.modality for m in example.media] == ["image", "audio"]
    assert conv.messages == [{"role": "user", "content": "[image] a.png"},
                             {"role": "user", "content": "[audio] b.wav"}]


def test_later_turns_carry_the_history_and_every_input_so_far() -> None:
    conv = Conversation()
    conv.attach(Attachment(Path("/u/a.png"), "image"))
    conv.record("What colour is it?", "red")
    conv.record("Is it big?", "no")  # a turn with no new input
    conv.attach(Attachment(Path("/u/c.ply"), "3d"))
    conv.attach(Attachment(Path("/u/d.wav"), "audio"))
    features = _features(conv)
    example = to_example(conv, "Which one is round?", features)
    assert [m.modality for m in example.media] == ["image", "3d", "audio"]
    assert [float(m.features[0, 0, 0]) for m in example.media] == [0.0, 1.0, 2.0]
    assert example.instruction.splitlines() == [
        HISTORY_HEADER,
        "User [input 1: image]: What colour is it?",
        "Assistant: red",
        "User: Is it big?",
        "Assistant: no",
        "Current question [input 2: 3d, input 3: audio]: Which one is round?",
    ]
    assert example.qformer_prompt == "Which one is round?"  # the Q-Former reads the question
    fixed = to_example(conv, "Which one is round?", features, fixed_qformer_prompt=True)
    assert fixed.qformer_prompt is None  # a projector's own fixed prompt wins
    conv.record("Which one is round?", "the second")
    assert [len(t.media) for t in conv.turns] == [1, 0, 2] and conv.pending == []
    with pytest.raises(ValueError, match="2 features for 3 inputs"):
        to_example(conv, "again?", features[:2])
    with pytest.raises(ValueError, match="features of 'image' for the 3d input"):
        to_example(conv, "again?", [features[0], features[0], features[2]])


def test_history_keeps_the_last_turns_and_numbers_inputs_across_all_turns() -> None:
    conv = Conversation()
    for i in range(5):
        conv.attach(Attachment(Path(f"/u/{i}.png"), "image"))
        conv.record(f"q{i}", f"a{i}")
    text = build_instruction(conv.turns, "last?", max_turns=2)
    assert "q2" not in text and "User [input 4: image]: q3" in text
    assert "User [input 5: image]: q4" in text and text.endswith("Current question: last?")


# -- projectors and media --------------------------------------------------------------------

def test_projectors_are_found_under_runs_without_checkpoints(tmp_path: Path) -> None:
    need_plugins()
    runs = save_projectors(tmp_path / "runs")
    step = runs / "image" / "checkpoints" / "step-000010" / "projector"
    step.mkdir(parents=True)
    (step / "config.json").write_text((runs / "image/projector/config.json").read_text())
    (step / "model.safetensors").write_bytes(b"")
    (runs / "other").mkdir()
    (runs / "other" / "config.json").write_text("{}")  # not a projector: left out
    (runs / "other" / "model.safetensors").write_bytes(b"")
    found = find_projectors(runs)
    assert [(c.modality, c.path.relative_to(runs).as_posix()) for c in found] == [
        ("3d", "3d/projector"), ("audio", "audio/projector"), ("image", "image/projector")]
    assert found[0].label == f"3d · {runs / '3d/projector'}"
    both = gather([runs / "image" / "projector"], [runs])
    assert len(both) == 3 and both[0].modality == "image"  # given paths first, no duplicate
    assert find_projectors(tmp_path / "absent") == []
    with pytest.raises(XalignError, match="projector directory does not exist"):
        gather([tmp_path / "nope"], [])


def test_modality_comes_from_the_extension_or_the_user() -> None:
    need_plugins()
    modalities = get_registry().modalities
    assert guess_modality("x.PNG", modalities) == "image"
    if "video" in modalities:  # .gif is both: the modality with a projector wins
        assert guess_modality("x.gif", modalities, prefer=["video"]) == "video"
        assert guess_modality("x.gif", modalities, prefer=["image"]) == "image"
    assert guess_modality("x.bin", modalities, chosen="3d") == "3d"
    with pytest.raises(MediaError, match=r"no installed modality reads \.doc; accepted: .*\.png"):
        guess_modality("x.doc", modalities)
    with pytest.raises(XalignError, match="did you mean 'image'"):
        guess_modality("x.png", modalities, chosen="imag")


def test_messages_name_the_file_not_the_upload_folder() -> None:
    path = Path("/tmp/gradio/0123abcd/cat.png")
    assert user_message(MediaError(path, "truncated PNG"), path) == "cat.png: truncated PNG"
    text = user_message(XalignError(f"{path}: bad"), path)
    assert text == "cat.png: bad"
    text = user_message(RuntimeError("boom"), path)
    assert text == "cat.png: RuntimeError: boom (the server log has the traceback)"


def test_point_cloud_preview_is_a_mesh_of_the_points(tmp_path: Path) -> None:
    points = torch.randn(5000, 6).numpy()
    obj = point_cloud_obj(points, tmp_path / "p.obj", limit=100)
    lines = obj.read_text().splitlines()
    assert sum(line.startswith("v ") for line in lines) == 400  # 4 corners per point
    assert sum(line.startswith("f ") for line in lines) == 400
    coords = torch.tensor([[float(x) for x in line.split()[1:]] for line in lines
                           if line.startswith("v ")])
    assert coords.norm(dim=1).max() < 1.05  # inside the unit sphere (plus the marker size)


# -- the handlers on a real model (untrained projectors) ---------------------------------------

def test_bad_files_get_the_loaders_message_and_stay_out(tmp_path: Path) -> None:
    need_plugins()
    backend = backend_for(save_projectors(tmp_path / "runs"))
    conv = Conversation()
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    for path in (broken, empty, tmp_path / "notes.doc"):
        assert handlers.upload(backend, conv, path, "auto", backend.labels, tmp_path).kind is None
    texts = [m["content"] for m in conv.messages]
    assert texts[0].startswith("⚠ broken.png: ") and "image" in texts[0]
    with pytest.raises(MediaError) as loader:  # the same words the image plugin's loader says
        get_registry().get("image").load(broken)
    assert texts[0] == f"⚠ broken.png: {loader.value.reason}"
    assert texts[1] == "⚠ empty.wav: empty file (0 bytes)"
    assert texts[2].startswith("⚠ notes.doc: no installed modality reads .doc")
    assert not any("Traceback" in t or str(tmp_path) in t for t in texts)
    assert conv.media() == []
    assert not handlers.send(backend, conv, "What is it?", backend.labels)
    assert conv.messages[-1]["content"].startswith("⚠ attach a media file first")


def test_two_turns_over_three_media_answer_from_the_model(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    need_plugins()
    from xalign.model import XAlignModel

    backend = backend_for(save_projectors(tmp_path / "runs"))
    seen = []
    real = XAlignModel.generate

    def spy(self, examples, **kwargs):
        seen.append(examples[0])
        return real(self, examples, **kwargs)

    monkeypatch.setattr(XAlignModel, "generate", spy)
    conv = Conversation()
    image = handlers.upload(backend, conv, write_media("image", tmp_path), "auto",
                            backend.labels, tmp_path)
    cloud = handlers.upload(backend, conv, write_media("3d", tmp_path), "auto",
                            backend.labels, tmp_path)
    assert image.kind == "image" and image.path == tmp_path / "image-0.png"
    assert cloud.kind == "3d" and cloud.path.suffix == ".obj" and cloud.path.is_file()
    assert handlers.send(backend, conv, "What are these?", backend.labels)
    first = conv.turns[0].answer
    assert first != "(empty answer)" and any(c.isalpha() for c in first)
    assert conv.messages[-1] == {"role": "assistant", "content": first}
    handlers.upload(backend, conv, write_media("audio", tmp_path), "auto", backend.labels,
                    tmp_path)
    assert handlers.send(backend, conv, "And the sound?", backend.labels)
    assert [[m.modality for m in e.media] for e in seen] == [["image", "3d"],
                                                            ["image", "3d", "audio"]]
    assert seen[0].instruction == "What are these?"
    assert f"User [input 1: image, input 2: 3d]: What are these?\nAssistant: {first}" \
        in seen[1].instruction
    assert [m["role"] for m in conv.messages] == ["user"] * 3 + ["assistant", "user", "user",
                                                                 "assistant"]
    # a projector left out of the selection: the page says which one to pick
    image_only = [c.label for c in backend.choices if c.modality == "image"]
    assert not handlers.send(backend, conv, "Once more?", image_only)
    assert conv.messages[-1]["content"] == ("⚠ no projector picked for 3d, audio: pick one in "
                                            "the projector list")


def test_a_file_that_fails_in_preprocessing_is_dropped_with_its_reason(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    need_plugins()
    from xalign.serve.backend import Backend

    backend = backend_for(save_projectors(tmp_path / "runs"))
    conv = Conversation()
    handlers.upload(backend, conv, write_media("image", tmp_path), "auto", backend.labels,
                    tmp_path)

    def refuse(self, pipeline, attachment):
        raise MediaError(attachment.path, "image too large (limit XALIGN_IMAGE_MAX_PIXELS)")

    monkeypatch.setattr(Backend, "_features_of", refuse)
    assert not handlers.send(backend, conv, "What is it?", backend.labels)
    assert conv.messages[-1]["content"] == ("⚠ image-0.png: image too large (limit "
                                            "XALIGN_IMAGE_MAX_PIXELS) (left out of the "
                                            "conversation)")
    assert conv.media() == []


# -- page and command line -------------------------------------------------------------------

def test_missing_gradio_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    from xalign.serve.app import require_gradio

    monkeypatch.setitem(sys.modules, "gradio", None)  # import gradio raises ImportError
    with pytest.raises(XalignError, match=r"pip install 'xalign\[serve\]'"):
        require_gradio()


def test_serve_without_projectors_fails_in_one_line(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture) -> None:
    pytest.importorskip("gradio")
    from xalign.cli import main

    monkeypatch.setattr(sys, "argv", ["xalign", "serve", "--runs", str(tmp_path / "none")])
    with pytest.raises(SystemExit) as exit_info:
        main.main()
    err = " ".join(capsys.readouterr().err.split())
    assert exit_info.value.code == 1 and "no projectors found under" in err
    assert "Traceback" not in err


def test_the_page_builds_with_one_projector_per_modality_preselected(tmp_path: Path) -> None:
    pytest.importorskip("gradio")
    need_plugins()
    from xalign.serve.app import _one_per_modality, build_app

    runs = save_projectors(tmp_path / "runs")
    (runs / "image2").mkdir()
    import shutil

    shutil.copytree(runs / "image" / "projector", runs / "image2" / "projector")
    backend = backend_for(runs)
    assert [c.modality for c in backend.choices] == ["3d", "audio", "image", "image"]
    assert [label.split(" · ")[0] for label in _one_per_modality(backend)] == ["3d", "audio",
                                                                               "image"]
    with pytest.raises(XalignError, match="two projectors for image"):
        backend.selected(backend.labels)
    app = build_app(backend)
    assert {"xalign-chat", "xalign-upload", "xalign-send"} <= {
        getattr(block, "elem_id", None) for block in app.blocks.values()}
