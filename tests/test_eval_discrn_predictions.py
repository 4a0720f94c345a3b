"""Scoring predictions made elsewhere (`xalign eval discrn --predictions`): no model needed."""

import json

import pytest
from typer.testing import CliRunner

from xalign.errors import XalignError
from xalign.eval.discrn import score_predictions

# raw labels 0, 0, 1, 1; balancing (what xalign shows its own model) swaps records 1 and 2
# (labels become 0, 1, 0, 1) and names them r1#swapped, r2#swapped: r0 audio|video (answer
# 1st), r1#swapped video|audio (2nd), r2#swapped video|audio (1st), r3 audio|video (2nd).
# These predictions answer the balanced examples, by their ids.
RECORDS = [{"id": f"r{i}", "sample_ids": [f"a{i}", f"v{i}"], "label": label,
            "question": "Which entity is louder?", "captions": ["x", "y"],
            "properties": [[], []], "start_seconds": [0, 0],
            "captions_pred_audio": ["pa", "pb"], "captions_pred_video": ["va", "vb"]}
           for i, label in enumerate([0, 0, 1, 1])]
PREDICTIONS = {"r0": "audio", "r1#swapped": "The second one.", "r2#swapped": "both",
               "r3": "I have no idea"}


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
    def without_ci(groups):
        return {k: {"n": v["n"], "accuracy": v["accuracy"]} for k, v in groups.items()}

    assert without_ci(s["by_position"]) == {"first": {"n": 2, "accuracy": 0.5},
                                            "second": {"n": 2, "accuracy": 0.5}}
    assert without_ci(s["by_answer_modality"]) == {"audio": {"n": 2, "accuracy": 1.0},
                                                   "video": {"n": 2, "accuracy": 0.0}}
    assert without_ci(s["by_pair"]) == {"audio–video": {"n": 4, "accuracy": 0.5}}
    # every group has its own interval: all-correct and all-wrong groups have no spread
    assert s["by_answer_modality"]["audio"]["ci95"] == [1.0, 1.0]
    assert s["by_answer_modality"]["video"]["ci95"] == [0.0, 0.0]
    assert s["by_pair"]["audio–video"]["ci95"][0] < 0.5 < s["by_pair"]["audio–video"]["ci95"][1]
    assert s["named"] == {"first": 0.25, "second": 0.25, "both": 0.25, "none": 0.25}
    low, high = s["ci95"]
    assert 0.0 <= low < 0.5 < high <= 1.0
    assert score_predictions(*files, seed=1)[0]["systems"]["other-system"]["ci95"] == [low, high]
    assert report["missing_predictions"] == 0


def test_plain_ids_are_scored_against_the_records_as_written(files, tmp_path):
    data, _ = files
    preds = tmp_path / "as-written.jsonl"
    preds.write_text("".join(json.dumps({"id": k.removesuffix("#swapped"), "prediction": v})
                             + "\n" for k, v in PREDICTIONS.items()))
    report, scored = score_predictions(data, preds)
    # r1 as written: label 0, audio first, so "the second one" is wrong; r2: label 1, "both"
    assert [(x.example.id, x.match.verdict) for x in scored["as-written"]] == \
        [("r0", "correct"), ("r1", "wrong"), ("r2", "wrong"), ("r3", "unmatched")]
    assert report["systems"]["as-written"]["accuracy"] == 0.25
    assert report["scored_against"] == "records as written"


def test_unknown_and_duplicate_ids_and_bad_json_are_named(files, tmp_path):
    data, _ = files
    unknown = tmp_path / "u.jsonl"
    unknown.write_text('{"id": "r0", "prediction": "first"}\n{"id": "zz9", "prediction": "x"}\n')
    with pytest.raises(XalignError, match=r"ids not in the data: 'zz9'; expected ids of the "
                       r"records of .*discrn.json.*e.g. 'r0'"):
        score_predictions(data, unknown)
    twice = tmp_path / "t.jsonl"
    twice.write_text('{"id": "r1", "prediction": "first"}\n'
                     '{"id": "r1#swapped", "prediction": "second"}\n')
    with pytest.raises(XalignError, match=r"both as written and swapped .*: 'r1'"):
        score_predictions(data, twice)
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
    assert rows[1]["id"] == "r1#swapped"
    assert (out / "discrn.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    examples = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
    assert [e["label"] for e in examples] == [0, 1, 0, 1]
    assert [e["id"] for e in examples] == ["r0", "r1#swapped", "r2#swapped", "r3"]
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


# Issue 16: 22 answers written for the file as it is, with known verdicts. Balancing the
# file (the default for what xalign answers itself) would swap 12 of them; the predictions
# must still be scored against the records as written, with the default flags.
LABELS = [1, 1, 0, 0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 0, 1, 1, 1, 0, 0, 1, 0]
ANSWERS = [  # (prediction, verdict against the record as written)
    ("The second one.", "correct"), ("first", "wrong"), ("Left", "correct"),
    ("the first input", "correct"), ("video", "correct"), ("Entity B", "wrong"),
    ("2nd", "correct"), ("audio", "wrong"), ("neither", "wrong"), ("right", "correct"),
    ("Input A", "correct"), ("I cannot tell", "unmatched"), ("the second", "correct"),
    ("the 2nd one", "wrong"), ("first or second", "wrong"), ("object B", "correct"),
    ("The first.", "wrong"), ("second", "correct"), ("1st", "correct"), ("both", "wrong"),
    ("the right one", "correct"), ("The first one.", "correct"),
]


@pytest.fixture()
def known_verdicts(tmp_path):
    records = [{"id": f"q{i:02d}", "sample_ids": [f"a{i}", f"v{i}"], "label": label,
                "question": "Which entity is louder?", "captions": ["x", "y"],
                "captions_pred_audio": ["pa", "pb"], "captions_pred_video": ["va", "vb"]}
               for i, label in enumerate(LABELS)]
    data = tmp_path / "released.json"
    data.write_text(json.dumps(records))
    preds = tmp_path / "theirs.jsonl"
    preds.write_text("".join(json.dumps({"id": r["id"], "prediction": p}) + "\n"
                             for r, (p, _) in zip(records, ANSWERS, strict=True)))
    return data, preds


def test_22_known_verdicts_with_the_default_flags(known_verdicts, tmp_path):
    from xalign.cli.main import app
    from xalign.eval.discrn import load_data

    data, preds = known_verdicts
    expected = [v for _, v in ANSWERS]
    # balancing would reorder half of these records: the bug scored those swapped
    assert sum(label != i % 2 for i, label in enumerate(LABELS)) == 12
    report, scored = score_predictions(data, preds)
    assert [s.match.verdict for s in scored["theirs"]] == expected
    assert [s.example.label for s in scored["theirs"]] == LABELS
    assert report["systems"]["theirs"]["accuracy"] == expected.count("correct") / 22

    for flags in ([], ["--no-balance"]):
        out = tmp_path / f"out{len(flags)}"
        result = CliRunner().invoke(app, ["eval", "discrn", "--data", str(data), "--predictions",
                                          str(preds), "--out", str(out), "--json", *flags])
        assert result.exit_code == 0, result.output
        rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        assert [r["verdict"] for r in rows] == expected
        assert [r["id"] for r in rows] == [f"q{i:02d}" for i in range(22)]
        written = [json.loads(line) for line in (out / "examples.jsonl").read_text().splitlines()]
        assert [e["label"] for e in written] == LABELS

    # xalign's own balanced examples carry their own ids: answers to them (right every time)
    # score 100% against the same file, never against its other order
    balanced = load_data(data, need_media=False)
    assert [e.label for e in balanced] == [i % 2 for i in range(22)]
    assert sum(e.id.endswith("#swapped") for e in balanced) == 12
    ours = tmp_path / "ours.jsonl"
    ours.write_text("".join(json.dumps({"id": e.id, "prediction": ("first", "second")[e.label]})
                            + "\n" for e in balanced))
    report, scored = score_predictions(data, ours)
    assert report["systems"]["ours"]["accuracy"] == 1.0
    assert [s.example for s in scored["ours"]] == balanced


def test_missing_predictions_are_counted_and_named(known_verdicts, tmp_path):
    from xalign.cli.main import app

    data, preds = known_verdicts
    some = tmp_path / "some.jsonl"
    some.write_text("".join(line + "\n" for line in preds.read_text().splitlines()[:19]))
    report, _ = score_predictions(data, some)
    assert report["missing_predictions"] == 3
    assert report["missing_ids"] == ["q19", "q20", "q21"]
    assert report["systems"]["some"]["n"] == 19
    result = CliRunner().invoke(app, ["eval", "discrn", "--data", str(data), "--predictions",
                                      str(some)])
    assert result.exit_code == 0, result.output
    assert "3 of 22 records had no prediction and are not scored: q19, q20, q21" in \
        " ".join(result.output.split())


def test_balanced_ids_that_clash_with_a_record_id_fail(tmp_path):
    from xalign.eval.discrn import load_data

    records = [{"id": i, "sample_ids": ["a", "b"], "label": 1, "question": "Which is red?",
                "captions_pred_audio": ["x", "y"], "captions_pred_video": ["x", "y"]}
               for i in ("k", "k#swapped")]
    data = tmp_path / "clash.json"
    data.write_text(json.dumps(records))
    with pytest.raises(XalignError, match=r"clash with the ids of swapped examples.*'k#swapped'"):
        load_data(data, need_media=False)
    assert [e.id for e in load_data(data, balanced=False, need_media=False)] == \
        ["k", "k#swapped"]
