"""`xalign data discrn` / `xalign data qa` end to end, offline, on synthetic captions."""

import json

import pytest
from typer.testing import CliRunner

from tests.test_datagen_builders import Scripted, bow_embed, discrn_rules, qa_rules
from xalign.datagen.textgen import ChatGenerator


@pytest.fixture(scope="module")
def tiny_llm_dir(tmp_path_factory):
    from tests.fixtures_llm import make_tiny_llm

    root = tmp_path_factory.mktemp("tinyllm")
    llm = make_tiny_llm()
    llm.model.save_pretrained(root)
    llm.tokenizer.save_pretrained(root)
    return root


def test_chat_generator_prefills_and_batches_like_one_by_one():
    from tests.fixtures_llm import make_tiny_llm

    llm = make_tiny_llm()
    side = llm.tokenizer.padding_side
    prompts = ["hi", [{"role": "user", "content": "a much longer prompt than the first"},
                      {"role": "assistant", "content": "ok"},
                      {"role": "user", "content": "again"}]]
    batched = ChatGenerator(llm, batch_size=2).complete(prompts, 4, prefill="- ")
    single = ChatGenerator(llm, batch_size=1).complete(prompts, 4, prefill="- ")
    assert batched == single and all(t.startswith("-") for t in batched)
    assert llm.tokenizer.padding_side == side  # restored after generation


def _invoke(*args):
    from xalign.cli.main import app

    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, (result.output, result.exception)
    return result


def test_data_discrn_with_a_real_llm_runs_and_counts(tmp_path, tiny_llm_dir, monkeypatch):
    # a random tiny transformers LLM through the real generator; pairing with bag-of-words
    monkeypatch.setattr("xalign.datagen.embedding.load_minilm", lambda: bow_embed)
    out = tmp_path / "d"
    _invoke("data", "discrn", "--out", str(out), "--modalities", "audio,image", "--synthetic",
            "3", "--llm", str(tiny_llm_dir), "--max-new-tokens", "6", "--json")
    stages = json.loads((out / "stages.json").read_text())
    assert stages["captions"] == {"audio": 3, "image": 3}
    assert stages["round_trip_kept"] <= stages["triplets_wellformed"] <= \
        stages["triplets_generated"]
    assert isinstance(json.loads((out / "discrn.json").read_text()), list)


def test_built_records_are_read_by_the_evaluator(tmp_path, monkeypatch):
    """Scripted LLM: the records `data discrn` writes score 100% with their own answers."""
    monkeypatch.setattr("xalign.datagen.embedding.load_minilm", lambda: bow_embed)
    monkeypatch.setattr("xalign.datagen.textgen.load_generator",
                        lambda *a, **k: Scripted(discrn_rules))
    items = tmp_path / "items.jsonl"
    rows = [{"id": f"a{i}", "modality": "audio", "caption": c, "path": f"a{i}.flac"}
            for i, c in enumerate(["a loud engine", "a loud siren", "a loud drum"])]
    rows += [{"id": f"v{i}", "modality": "video", "caption": c, "path": f"v{i}.mp4"}
             for i, c in enumerate(["a dark street", "a bright room"])]
    items.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "d"
    table = _invoke("data", "discrn", "--out", str(out), "--captions", str(items),
                    "--modalities", "audio,video", "--top-k", "1")
    assert "round-trip consistent" in table.output
    records = json.loads((out / "discrn.json").read_text())
    assert len(records) == 3 and records[0]["media"][0] == str(tmp_path / "a0.flac")
    preds = tmp_path / "p.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": r["answer"]}) + "\n"
                             for r in records))
    report = json.loads(_invoke("eval", "discrn", "--data", str(out / "discrn.json"),
                                "--predictions", str(preds), "--no-balance", "--json").output)
    assert report["systems"]["p"]["accuracy"] == 1.0


def test_data_qa_writes_manifest_lines_and_counts(tmp_path, monkeypatch):
    monkeypatch.setattr("xalign.datagen.textgen.load_generator",
                        lambda *a, **k: Scripted(qa_rules))
    items = tmp_path / "items.jsonl"
    items.write_text(json.dumps({"id": "p0", "modality": "3d", "path": "p0.npy",
                                 "caption": "a tall red cube standing on a square base"}) + "\n")
    out = tmp_path / "q"
    _invoke("data", "qa", "--out", str(out), "--captions", str(items), "--min-words", "5")
    stages = json.loads((out / "stages.json").read_text())
    assert stages["captions"] == 1 and stages["colour_free"] == 1
    lines = [json.loads(x) for x in (out / "qa.jsonl").read_text().splitlines()]
    assert lines and all(x["task"] == "qa" and x["media"][0]["modality"] == "3d" for x in lines)


@pytest.mark.slow
def test_builders_with_smollm2_and_minilm(tmp_path):
    """The defaults, for real: embedded SmolLM2, bundled all-MiniLM-L6-v2 (slow on a CPU)."""
    out = tmp_path / "d"
    _invoke("data", "discrn", "--out", str(out), "--modalities", "audio,image", "--synthetic",
            "2", "--max-new-tokens", "24")
    stages = json.loads((out / "stages.json").read_text())
    assert stages["pairs"] == 2 and stages["triplets_generated"] >= 1
    q = tmp_path / "q"
    _invoke("data", "qa", "--out", str(q), "--modalities", "3d", "--synthetic", "2",
            "--min-words", "5", "--max-new-tokens", "16")
    assert json.loads((q / "stages.json").read_text())["captions"] == 2
