"""DisCRn through the model path: prompts, media order, baselines, joint reasoning, batching."""

import hashlib
import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from xalign.eval.discrn import evaluate
from xalign.eval.discrn.records import INSTRUCTION, QFORMER_PROMPT
from xalign.eval.discrn.run import prepare, run_systems, subsample_frames
from xalign.eval.discrn.synth import synthetic_discrn
from xalign.eval.joint import evaluate_joint, synthetic_joint
from xalign.featurize import featurize
from xalign.registry import get_registry

PAIR = ("audio", "image")


def fingerprint(features):
    # featurising is deterministic: the same media give bit-identical features
    return hashlib.sha1(features.contiguous().numpy().tobytes()).hexdigest()


@pytest.fixture(scope="module")
def encoders():
    registry = get_registry()
    return {m: registry.build_encoder(m) for m in PAIR}


class Oracle:
    """Knows which entities are right and recognises them by their features only."""

    def __init__(self, known, right):
        self.known, self.right, self.seen = known, right, []

    def cue(self, modality):
        return f" {modality}: "

    def generate(self, examples, preset="short_answer", **_):
        self.seen += examples
        out = []
        for ex in examples:
            if not ex.media:  # baselines: no media to look at
                out.append("the first one" if "audio:" in ex.instruction else "both")
                continue
            ids = [self.known[fingerprint(m.features)] for m in ex.media]
            out.append("the first one" if ids[0] in self.right else "Entity B")
        return out

    def candidate_losses(self, example, candidates):
        if len(example.media) == 1:  # the per-input probe: is the asked value this input's?
            attributes = self.attributes[self.known[fingerprint(example.media[0].features)]]
            return torch.tensor([0.0 if c in attributes.values() else 1.0 for c in candidates])
        assert len(candidates) == 2
        first = "first" in self.generate([example])[0]
        return torch.tensor([0.0, 1.0] if first else [1.0, 0.0])


def test_oracle_through_the_model_path_scores_100_percent(encoders):
    examples = synthetic_discrn([PAIR], per_pair=6, seed=1)
    assert sum(e.label for e in examples) == 3  # balanced (within each question kind)
    registry = get_registry()
    known = {}
    for ex in examples:
        for m, raw, sid in zip(ex.modalities, ex.media, ex.sample_ids, strict=True):
            feats = subsample_frames(featurize(registry.get(m), encoders[m], raw), 2)
            known[fingerprint(feats)] = sid
    oracle = Oracle(known, {ex.sample_ids[ex.label] for ex in examples})
    oracle.attributes = {sid: props["attributes"] for ex in examples
                         for sid, props in zip(ex.sample_ids, ex.properties, strict=True)}
    report, scored = evaluate(oracle, examples, encoders, batch_size=4, probe=True)
    systems = report["systems"]
    assert systems["xalign"]["accuracy"] == 1.0
    assert systems["text-only"]["accuracy"] == 0.0  # "both" is never right
    # caption baseline always says "first": right exactly on the balanced half
    assert systems["caption"]["accuracy"] == 0.5
    assert systems["caption"]["by_position"]["first"]["accuracy"] == 1.0
    media_prompts = [e for e in oracle.seen if e.media]
    assert all(e.qformer_prompt == QFORMER_PROMPT for e in media_prompts)
    # DESIGN §4: the input starts with the fixed instruction; the question follows the media
    assert all(e.preamble == INSTRUCTION for e in oracle.seen)
    assert all(any(e.instruction.endswith(ex.question) for ex in examples) for e in oracle.seen)
    assert all(m.features.shape[0] <= 2 for e in media_prompts for m in e.media)
    captioned = [e for e in oracle.seen if not e.media and "audio:" in e.instruction]
    assert len(captioned) == 6 and examples[0].captions[0] in captioned[0].instruction
    assert "by_kind" in systems["xalign"] and len(scored["xalign"]) == 6
    probed = [ex for ex in examples if "probe" in ex.extra]
    assert probed and systems["per-input probe"]["n"] == len(probed)
    assert systems["per-input probe"]["accuracy"] == 1.0
    ranked, _ = evaluate(oracle, examples, encoders, answer_mode="rank", systems=("xalign",))
    assert ranked["systems"]["xalign"]["accuracy"] == 1.0
    assert ranked["settings"]["answer_mode"] == "rank"


def test_prepare_skips_and_lists_unreadable_media(encoders, tmp_path):
    from dataclasses import replace

    from xalign.data.skips import SkipReport

    examples = synthetic_discrn([PAIR], per_pair=2)
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    pos = examples[0].modalities.index("image")
    media = list(examples[0].media)
    media[pos] = bad
    examples[0] = replace(examples[0], media=tuple(media))
    skips = SkipReport()
    prepared = prepare(examples, encoders, skips=skips)
    assert [p.example.id for p in prepared] == [examples[1].id]
    assert skips.count == 1 and skips.skips[0].path == str(bad)


class JointOracle:
    """Ranks by what it perceives: the right pair when it sees both views, otherwise the
    first candidate consistent with the one view it sees."""

    def __init__(self, truth):
        self.truth = truth  # fingerprint -> (position, value)

    def candidate_losses(self, example, candidates):
        seen = dict(self.truth[fingerprint(m.features)] for m in example.media)
        fits = [all(c.split(" and ")[pos] == value for pos, value in seen.items())
                for c in candidates]
        return torch.tensor([0.0 if f else 1.0 for f in fits]) + \
            torch.arange(len(candidates)) * 1e-3


def test_joint_reasoning_needs_both_views():
    examples = synthetic_joint(PAIR[::-1], n=8, seed=2)  # image first, audio second
    assert all(len(e.candidates) <= 16 for e in examples)
    registry = get_registry()
    encoders = {m: registry.build_encoder(m) for m in PAIR}
    truth = {}
    for ex in examples:
        answer = ex.candidates[ex.answer].split(" and ")
        for pos, (m, raw) in enumerate(zip(ex.modalities, ex.media, strict=True)):
            feats = subsample_frames(featurize(registry.get(m), encoders[m], raw), 2)
            truth[fingerprint(feats)] = (pos, answer[pos])
    result = evaluate_joint(JointOracle(truth), examples, encoders)
    both, image, audio = (result["systems"][k] for k in ("both", "image only", "audio only"))
    assert both["accuracy"] == 1.0 and both["part_accuracy"] == [1.0, 1.0]
    assert image["part_accuracy"][0] == 1.0 and audio["part_accuracy"][1] == 1.0
    assert image["accuracy"] < 1.0 and audio["accuracy"] < 1.0
    assert 0 < result["chance"] < 0.5


def test_batched_generation_matches_one_by_one(encoders):
    from tests.fixtures_llm import make_tiny_llm
    from tests.test_model_bundle import projector
    from xalign.model import XAlignModel

    llm = make_tiny_llm()
    registry = get_registry()
    model = XAlignModel(llm, {m: projector("qformer", m, llm, seed=3,
                                           feature_dim=registry.encoder(m).feature_dim)
                              for m in PAIR})
    prepared = prepare(synthetic_discrn([PAIR], per_pair=4, seed=3), encoders)
    batched = run_systems(model, prepared, ["xalign", "caption"], batch_size=4, preset="greedy",
                          max_new_tokens=4)
    single = run_systems(model, prepared, ["xalign", "caption"], batch_size=1, preset="greedy",
                         max_new_tokens=4)
    assert batched == single


@pytest.fixture(scope="module")
def projector_args(tmp_path_factory):
    from tests.fixtures_llm import make_tiny_llm
    from tests.test_model_bundle import projector
    from xalign.projectors import save_projector

    root = tmp_path_factory.mktemp("discrn-cli")
    llm = make_tiny_llm()
    llm.model.save_pretrained(root / "llm")
    llm.tokenizer.save_pretrained(root / "llm")
    registry = get_registry()
    args = []
    for m in PAIR:
        p = projector("qformer", m, llm, feature_dim=registry.encoder(m).feature_dim)
        p.config.llm_id = str(root / "llm")
        args += ["--projector", str(save_projector(p, root / m))]
    return args


def _json(output):
    return json.loads(output[output.index("{"):])


def test_cli_runs_the_mini_discrn_with_saved_projectors(tmp_path, projector_args):
    from xalign.cli.main import app

    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "discrn", *projector_args, "--per-pair", "4",
                                      "--preset", "greedy", "--max-new-tokens", "3",
                                      "--as-text", "audio", "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = _json(result.output)
    assert set(report["systems"]) == {"xalign", "text-only", "caption", "audio as text",
                                      "per-input probe"}
    assert report["systems"]["xalign"]["n"] == report["systems"]["audio as text"]["n"] == 4
    assert set(report["joint"]["systems"]) == {"both", "image only", "audio only"}
    rows = (out / "predictions.jsonl").read_text().splitlines()
    n_probe = report["systems"]["per-input probe"]["n"]
    assert len(rows) == 16 + n_probe and (out / "discrn.png").is_file()
    result = CliRunner().invoke(app, ["eval", "discrn", *projector_args, "--as-text", "3d"])
    assert result.exit_code == 1 and "no projector of that modality" in str(result.exception)
    result = CliRunner().invoke(app, ["eval", "discrn", *projector_args, "--answer-mode",
                                      "vote"])
    assert result.exit_code == 1 and "generate, rank, debiased" in str(result.exception)


def test_cli_reads_released_records_and_lists_missing_media(tmp_path, projector_args):
    from xalign.cli.main import app

    registry = get_registry()
    records = []
    for i in range(3):
        ids = [f"snd{i}", f"pic{i}"]
        for m, sid, seed in zip(PAIR, ids, (i, 10 + i), strict=True):
            if (m, i) != ("image", 2):  # the third record's picture is missing
                registry.get(m).write(registry.get(m).synthesize(seed).raw, tmp_path / m / sid)
        records.append({"sample_ids": ids, "label": i % 2, "question": "Which image is red?",
                        "captions": ["a", "b"], "properties": [[], []],
                        "captions_pred_audio": ["x", "y"], "captions_pred_image": ["z", "w"]})
    data = tmp_path / "discrn.json"
    data.write_text(json.dumps(records))
    out = tmp_path / "out"
    result = CliRunner().invoke(app, [
        "eval", "discrn", *projector_args, "--data", str(data),
        "--media-root", f"audio={tmp_path / 'audio'}",
        "--media-root", f"image={tmp_path / 'image'}",
        "--media-pattern", "audio={id}.flac", "--media-pattern", "image={id}.png",
        "--preset", "greedy", "--max-new-tokens", "2", "--no-baselines", "--out", str(out),
        "--json"])
    assert result.exit_code == 0, result.output
    report = _json(result.output)
    assert report["systems"]["xalign"]["n"] == 2 and report["seen"] == 3
    assert "joint" not in report
    skipped = [json.loads(x) for x in (out / "skipped.jsonl").read_text().splitlines()]
    assert [(s["item_id"], Path(s["path"]).name) for s in skipped] == [("2", "pic2.png")]


def test_demo_finds_the_best_projector_of_each_run(tmp_path):
    from xalign.errors import XalignError
    from xalign.eval.demo import demo_projectors

    for run, folders in (("audio", ["best", "projector"]), ("image", ["projector"]),
                         ("notes", [])):
        for folder in folders:
            (tmp_path / run / folder).mkdir(parents=True)
            (tmp_path / run / folder / "config.json").write_text("{}")
    assert demo_projectors(tmp_path) == [tmp_path / "audio" / "best",
                                         tmp_path / "image" / "projector"]
    with pytest.raises(XalignError, match="two modalities"):
        demo_projectors(tmp_path / "audio")
