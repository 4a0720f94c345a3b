"""Single-modality evaluations: classification (rank / generate), QA, captioning, CLIs."""

import json

import pytest
import torch
from typer.testing import CliRunner

from xalign.data import FeatureDataset, ManifestSource, SyntheticSource
from xalign.eval.tasks import evaluate_captioning, evaluate_classification, evaluate_qa
from xalign.registry import get_registry

MODALITY = "audio"


class RuleModel:
    """Ranks the alphabetically first candidate best; always generates the same text."""

    def __init__(self, text):
        self.text, self.generated = text, 0

    def candidate_losses(self, example, candidates):
        order = sorted(candidates)
        return torch.tensor([float(order.index(c)) for c in candidates])

    def generate(self, examples, preset="short_answer", **_):
        assert all(e.target is None for e in examples)  # answers never see the target
        self.generated += len(examples)
        return [self.text] * len(examples)


@pytest.fixture(scope="module")
def encoders():
    return {MODALITY: get_registry().build_encoder(MODALITY)}


def test_classification_rank_and_generate(encoders):
    source = SyntheticSource(MODALITY, split="test", size=8, tasks=("classify",))
    items = [source[i] for i in range(len(source))]
    report, rows = evaluate_classification(RuleModel("It is LOUD."),
                                           FeatureDataset(source, encoders), batch_size=3)
    expected_rank = sum(it.target == min(it.candidates) for it in items) / len(items)
    expected_gen = sum(it.target == "loud" for it in items) / len(items)
    assert report["n"] == 8 and report["rank"]["accuracy"] == pytest.approx(expected_rank)
    assert report["generate"]["accuracy"] == pytest.approx(expected_gen)
    asked_loudness = sum("loud" in it.candidates for it in items)
    assert report["generate"]["unmatched"] == pytest.approx(1 - asked_loudness / len(items))
    assert report["chance"] == pytest.approx(sum(1 / len(it.candidates) for it in items) / 8)
    assert sum(s["n"] for s in report["rank"]["per_attribute"].values()) == 8
    assert [r["id"] for r in rows] == [it.id for it in items]


def test_qa_exact_match(encoders):
    source = SyntheticSource(MODALITY, split="test", size=10, tasks=("qa",))
    targets = [source[i].target for i in range(10)]
    report, rows = evaluate_qa(RuleModel("Yes."), FeatureDataset(source, encoders))
    assert report["exact_match"] == pytest.approx(targets.count("yes") / 10)
    assert [r["correct"] for r in rows] == [t == "yes" for t in targets]


def test_captioning_pools_references_of_the_same_media(encoders, tmp_path):
    modality = get_registry().get(MODALITY)
    lines = []
    for i in range(2):
        sample = modality.synthesize(i)
        path = modality.write(sample.raw, tmp_path / f"clip{i}")
        for j, caption in enumerate([sample.caption, ["a low hum", "a sharp click"][i]]):
            lines.append({"id": f"c{i}-{j}", "task": "caption", "instruction": "Describe it.",
                          "answer": caption, "media": [{"modality": MODALITY,
                                                        "path": path.name}]})
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    model = RuleModel("a low hum")
    report, rows = evaluate_captioning(model, FeatureDataset(ManifestSource(manifest), encoders))
    assert report["n"] == 2 and report["references"] == 4 and model.generated == 2
    assert all(len(r["references"]) == 2 for r in rows)
    # the caption matches one reference of the first clip exactly and nothing of the second
    assert rows[0]["cider"] > 1 and rows[1]["cider"] == 0
    assert report["cider"] == pytest.approx((rows[0]["cider"] + rows[1]["cider"]) / 2)
    assert report["cider_x100"] == pytest.approx(100 * report["cider"])


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    from tests.fixtures_llm import make_tiny_llm
    from tests.test_model_bundle import projector
    from xalign.projectors import save_projector

    root = tmp_path_factory.mktemp("single")
    llm = make_tiny_llm()
    llm.model.save_pretrained(root / "llm")
    llm.tokenizer.save_pretrained(root / "llm")
    p = projector("qformer", MODALITY, llm,
                  feature_dim=get_registry().encoder(MODALITY).feature_dim)
    p.config.llm_id = str(root / "llm")
    return save_projector(p, root / MODALITY)


@pytest.mark.parametrize("command,extra,key", [
    ("classify", ["--mode", "both"], "rank"),
    ("qa", [], "exact_match"),
    ("caption", [], "cider"),
])
def test_cli(saved, tmp_path, command, extra, key):
    from xalign.cli.main import app

    result = CliRunner().invoke(app, ["eval", command, "--projector", str(saved), "--size", "3",
                                      "--preset", "greedy", "--max-new-tokens", "2",
                                      "--out", str(tmp_path), "--json", *extra])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output[result.output.index("{"):])
    assert key in report and report["n"] == 3 and report["skipped"] == 0
    assert len((tmp_path / "predictions.jsonl").read_text().splitlines()) == 3
