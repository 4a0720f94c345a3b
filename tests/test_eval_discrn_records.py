"""DisCRn records as released: parsing, question rewrite, balancing, media paths, oracle."""

import json
from dataclasses import replace

import pytest

from xalign.data.skips import SkipReport
from xalign.errors import XalignError
from xalign.eval.discrn.media import resolve_media
from xalign.eval.discrn.records import (
    balance,
    load_examples,
    parse_record,
    rewrite_question,
)
from xalign.eval.discrn.score import score, summarize


def _records(n=8):
    # label alternates 1,1,0,1,... so the raw file is unbalanced
    return [{
        "sample_ids": [f"a{i}", f"b{i}"],
        "start_seconds": [10 + i, 30.0 + i],
        "label": 0 if i % 4 == 2 else 1,
        "question": "Which entity is louder",
        "captions": [f"caption a{i}", f"caption b{i}"],
        "properties": [[f"pa{i}"], [f"pb{i}"]],
        "captions_pred_audio": [f"audio says a{i}", f"audio says b{i}"],
        "captions_pred_video": [f"video says a{i}", f"video says b{i}"],
    } for i in range(n)]


def _write_media(tmp_path, records):
    for r in records:
        for pos, modality, ext in ((0, "audio", "flac"), (1, "video", "mp4")):
            # media file content: the id of the entity it shows (what an oracle "perceives")
            sid, start = r["sample_ids"][pos], int(r["start_seconds"][pos])
            d = tmp_path / modality
            d.mkdir(exist_ok=True)
            (d / f"{sid}_{start}.{ext}").write_text(sid)
    return {"audio": tmp_path / "audio", "video": tmp_path / "video"}


def test_rewrite_question():
    assert rewrite_question("Which entity is louder") == "Which of the two options is louder?"
    assert rewrite_question("which object has more legs?") == \
        "which of the two options has more legs?"
    assert rewrite_question("Which audio is calmer?") == "Which of the two options is calmer?"
    assert rewrite_question("Which is bigger?") == "Which is bigger?"


def test_parse_released_record_infers_modalities_and_baselines():
    ex = parse_record(_records()[0], 0)
    assert ex.id == "0" and ex.modalities == ("audio", "video")
    assert ex.baseline_captions == ("audio says a0", "video says b0")
    assert ex.start_seconds == (10, 30.0)
    lavis = dict(_records()[0])
    lavis["captions_pred_pc"] = lavis.pop("captions_pred_audio")
    assert parse_record(lavis, 0).modalities[0] in ("3d", "video")


def test_swap_moves_every_per_position_field():
    ex = parse_record(_records()[0], 0)
    sw = ex.swapped()
    assert sw.label == 1 - ex.label
    for field in ("modalities", "sample_ids", "captions", "properties", "baseline_captions",
                  "start_seconds", "media"):
        assert getattr(sw, field) == tuple(reversed(getattr(ex, field))), field
    assert sw.swapped() == ex


def test_balance_alternates_positions():
    examples = [parse_record(r, i) for i, r in enumerate(_records(9))]
    balanced = balance(examples)
    assert [e.label for e in balanced] == [i % 2 for i in range(9)]
    assert [e.id for e in balanced] == [e.id for e in examples]


def test_oracle_scores_100_percent_after_balancing(tmp_path):
    records = _records(12)
    path = tmp_path / "discrn.json"
    path.write_text(json.dumps(records))
    roots = _write_media(tmp_path, records)
    right_entity = {str(i): r["sample_ids"][r["label"]] for i, r in enumerate(records)}

    def oracle(ex):
        # looks only at the media the model would be shown, never at the label
        seen = [p.read_text() for p in ex.media]
        return "the first one" if seen[0] == right_entity[ex.id] else "the second one"

    def run(examples):
        examples = resolve_media(examples, roots)
        assert len(examples) == 12
        predictions = {ex.id: oracle(ex) for ex in examples}
        return summarize(score(examples, predictions))

    ours = run(balance(load_examples(path)))
    assert ours["accuracy"] == 1.0
    assert ours["by_position"]["first"]["n"] == ours["by_position"]["second"]["n"] == 6

    # The reference's flaw (swap everything but sample_ids/start times) is caught by the oracle.
    def lavis_balance(examples):
        out = []
        for ex in balance(examples):
            if ex.label != examples[int(ex.id)].label:
                ex = replace(ex, sample_ids=ex.sample_ids[::-1],
                             start_seconds=ex.start_seconds[::-1],
                             modalities=ex.modalities[::-1])
            out.append(ex)
        return out

    # every swapped example (3 of 12 here) then shows one entity with the other's label
    swapped = sum(r["label"] != i % 2 for i, r in enumerate(records))
    assert swapped == 3
    assert run(lavis_balance(load_examples(path)))["accuracy"] == pytest.approx(1 - swapped / 12)


def test_missing_media_is_skipped_and_listed(tmp_path):
    records = _records(4)
    roots = _write_media(tmp_path, records)
    (roots["video"] / "b2_32.mp4").unlink()
    path = tmp_path / "d.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in records))
    skips = SkipReport()
    kept = resolve_media(load_examples(path), roots, skips=skips)
    assert [e.id for e in kept] == ["0", "1", "3"]
    assert skips.count == 1 and skips.seen == 4
    assert skips.skips[0].path.endswith("b2_32.mp4") and skips.skips[0].item_id == "2"


def test_missing_media_root_says_which_option(tmp_path):
    path = tmp_path / "d.json"
    path.write_text(json.dumps(_records(2)))
    with pytest.raises(XalignError, match="--media-root video=DIR"):
        resolve_media(load_examples(path), {"audio": tmp_path})


def test_bad_files_name_the_problem(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps(_records(1)[0]) + "\n{not json\n")
    with pytest.raises(XalignError, match="line 2"):
        load_examples(bad)
    dup = tmp_path / "dup.jsonl"
    dup.write_text("\n".join(json.dumps({**r, "id": "x"}) for r in _records(2)))
    with pytest.raises(XalignError, match="duplicate record ids: x"):
        load_examples(dup)
    nolabel = tmp_path / "nolabel.json"
    nolabel.write_text(json.dumps([{**_records(1)[0], "label": 3}]))
    with pytest.raises(XalignError, match="label must be 0 or 1"):
        load_examples(nolabel)
