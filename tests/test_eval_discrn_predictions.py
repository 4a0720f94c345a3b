"""Scoring predictions made elsewhere (`xalign eval discrn --predictions`): no model needed."""

import json

import pytest
from typer.testing import CliRunner

from xalign.errors import XalignError
from xalign.eval.discrn import score_predictions

# raw labels 0, 0, 1, 1; balancing swaps records 1 and 2 (labels become 0, 1, 0, 1), so
# after balancing: r0 audio|video (answer 1st), r1 video|audio (2nd), r2 video|audio (1st),
# r3 audio|video (2nd).
RECORDS = [{"id": f"r{i}", "sample_ids": [f"a{i}", f"v{i}"], "label": label,
            "question": "Which entity is louder?", "captions": ["x", "y"],
            "properties": [[], []], "start_seconds": [0, 0],
            "captions_pred_audio": ["pa", "pb"], "captions_pred_video": ["va", "vb"]}
           for i, label in enumerate([0, 0, 1, 1])]
PREDICTIONS = {"r0": "audio", "r1": "The second one.", "r2": "both", "r3": "I have no idea"}


@pytest.fixture()
def files(tmp_path):
    data = tmp_path / "discrn.json"
    data.write_text(json.dumps(RECORDS))
    preds = tmp_path / "other-system.jsonl"
    preds.write_text("".join(json.dumps({"id": k, "prediction": v}) + "\n"
                             for k, v in PREDICTIONS.items()))
    return data, preds


def test_hand_written_predictions_give_the_expected_numbers(files):
    report, scored = score_predictions(*files, seed=1)
    s = report["systems"]["other-system"]
    assert s["n"] == 4 and s["accuracy"] == 0.5 and s["unmatched"] == 0.25
    assert [x.match.verdict for x in scored["other-system"]] == \
        ["correct", "correct", "wrong", "unmatched"]
    assert s["by_position"] == {"first": {"n": 2, "accuracy": 0.5},
                                "second": {"n": 2, "accuracy": 0.5}}
    assert s["by_answer_modality"] == {"audio": {"n": 2, "accuracy": 1.0},
                                       "video": {"n": 2, "accuracy": 0.0}}
    assert s["by_pair"] == {"audio–video": {"n": 4, "accuracy": 0.5}}
    assert s["named"] == {"first": 0.25, "second": 0.25, "both": 0.25, "none": 0.25}
    low, high = s["ci95"]
    assert 0.0 <= low < 0.5 < high <= 1.0
    assert score_predictions(*files, seed=1)[0]["systems"]["other-system"]["ci95"] == [low, high]
    assert report["missing_predictions"] == 0


def test_without_balancing_the_records_labels_are_used(files):
    report, _ = score_predictions(*files, balanced=False)
    # r1: label 0 now, "the second one" is wrong
    assert report["systems"]["other-system"]["accuracy"] == 0.25


def test_unknown_and_duplicate_ids_and_bad_json_are_named(files, tmp_path):
    data, _ = files
    unknown = tmp_path / "u.jsonl"
    unknown.write_text('{"id": "r0", "prediction": "first"}\n{"id": "zz9", "prediction": "x"}\n')
    with pytest.raises(XalignError, match="ids not in the data: 'zz9'"):
        score_predictions(data, unknown)
    dup = tmp_path / "d.jsonl"
    dup.write_text('{"id": "r1", "prediction": "first"}\n{"id": "r1", "prediction": "x"}\n')
    with pytest.raises(XalignError, match="duplicate ids: 'r1'"):
        score_predictions(data, dup)
    bad = tmp_path / "b.jsonl"
    bad.write_text('{"id": "r0", "prediction": "first"}\n\n{"id": "r1", "prediction": \n')
    with pytest.raises(XalignError, match="line 3: malformed JSON"):
        score_predictions(data, bad)
    shape = tmp_path / "s.jsonl"
    shape.write_text('{"id": "r0", "answer": "first"}\n')
    with pytest.raises(XalignError, match="line 1"):
        score_predictions(data, shape)


def test_cli_scores_without_a_model_and_writes_the_outputs(files, tmp_path):
    from xalign.cli.main import app

    data, preds = files
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["eval", "discrn", "--data", str(data), "--predictions",
                                      str(preds), "--out", str(out), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["systems"]["other-system"]["accuracy"] == 0.5
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [r["verdict"] for r in rows] == ["correct", "correct", "wrong", "unmatched"]
    assert rows[1]["modalities"] == ["video", "audio"] and rows[1]["answer"] == "second"
    assert (out / "discrn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert [e["label"] for e in examples] == [0, 1, 0, 1]
    assert examples[1]["sample_ids"] == ["v1", "a1"]  # swapped together with the label
    assert json.loads((out / "report.json").read_text())["systems"]["other-system"]["n"] == 4

    table = CliRunner().invoke(app, ["eval", "discrn", "--data", str(data), "--predictions",
                                     str(preds)])
    assert table.exit_code == 0 and "50.0" in table.output


def test_cli_predictions_need_data(files):
    from xalign.cli.main import app

    result = CliRunner().invoke(app, ["eval", "discrn", "--predictions", str(files[1])])
    assert isinstance(result.exception, XalignError)
    assert "--predictions needs --data" in str(result.exception)
