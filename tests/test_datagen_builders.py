"""DisCRn and QA builders with a scripted LLM: stage logic, filters and counts."""

import re

import numpy as np
import pytest

from xalign.datagen import prompts
from xalign.datagen.captions import Captioned
from xalign.datagen.discrn_builder import DiscrnBuildConfig, build_discrn, pair_entities
from xalign.datagen.qa_builder import QABuildConfig, build_qa


def bow_embed(texts):
    """Bag-of-words vectors: similar captions share words."""
    vocab = sorted({w for t in texts for w in re.findall(r"\w+", t.lower())})
    out = np.zeros((len(texts), max(1, len(vocab))), dtype=np.float32)
    for i, t in enumerate(texts):
        for w in re.findall(r"\w+", t.lower()):
            out[i, vocab.index(w)] += 1
    return out / np.linalg.norm(out, axis=1, keepdims=True).clip(1e-9)


class Scripted:
    """Answers each prompt kind by a rule; records the prompts it saw."""

    def __init__(self, rules):
        self.rules, self.seen = rules, []

    def complete(self, prompts_, max_new_tokens, prefill=""):
        assert max_new_tokens > 0
        self.seen += list(prompts_)
        # a chat prompt is answered from its last turn; the reply starts with the prefill
        texts = [p if isinstance(p, str) else p[-1]["content"] for p in prompts_]
        replies = [self.rules(t) for t in texts]
        assert all(r.startswith(prefill) for r in replies if r), (prefill, replies)
        return replies


def _entities(prompt):
    a = re.findall(r"Entity A: (.*)", prompt)[-1]
    b = re.findall(r"Entity B: (.*)", prompt)[-1]
    return a, b


def discrn_rules(prompt):
    if prompt.startswith("Here is a description"):
        return "" if "silent" in prompt else "- first property\n- second property\n* third"
    if prompt.startswith("Two entities"):
        a, _ = _entities(prompt)
        if "dog" in a:
            return "Question: Which entity is louder?\nAnswer: both of them\nExplanation: ?"
        return ("Question: Which entity is louder?\nAnswer: Entity A\nExplanation: loud.\n"
                "Question: Which entity is darker?\nAnswer: Entity B\nExplanation: dark.")
    if "Answer with \"Entity A\"" in prompt:
        return "Entity A." if "louder" in prompt else "Entity, I am not sure"
    raise AssertionError(prompt)


def test_pairing_prefers_similar_captions_and_skips_identical():
    first = [Captioned("a0", "audio", "a loud engine revs"),
             Captioned("a1", "audio", "birds sing in a forest")]
    second = [Captioned("v0", "video", "birds sing in a green forest"),
              Captioned("v1", "video", "an engine revs on a road"),
              Captioned("v2", "video", "a loud engine revs")]  # identical to a0: never paired
    pairs = pair_entities(first, second, bow_embed, candidates=500, top_k=1, seed=3)
    assert pairs == [(0, 1), (1, 0)]


def test_build_discrn_counts_every_stage():
    first = [Captioned(f"a{i}", "audio", c, path=f"/m/a{i}.flac") for i, c in
             enumerate(["a loud engine", "a dog barks", "a loud siren", "a silent room"])]
    second = [Captioned(f"v{i}", "video", c, path=f"/m/v{i}.mp4") for i, c in
              enumerate(["a dark street", "a bright room", "a dark forest"])]
    llm = Scripted(discrn_rules)
    records, counts = build_discrn(first, second, llm, bow_embed,
                                   DiscrnBuildConfig(top_k=2, max_new_tokens=20))
    assert counts.captions == {"audio": 4, "video": 3}
    assert counts.with_properties == {"audio": 3, "video": 3}  # "silent" got no properties
    assert counts.pairs == 3
    assert counts.triplets_generated == 2 + 1 + 2  # the dog pair's answer names both
    assert counts.triplets_wellformed == 4
    assert counts.round_trip_kept == 2  # only the "louder" questions survive the round trip
    assert len(records) == 2 and all(r["label"] == 0 for r in records)
    r = records[0]
    assert r["modalities"] == ["audio", "video"] and r["sample_ids"][0] in {"a0", "a2"}
    assert r["properties"][0] == ["first property", "second property", "third"]
    assert r["media"][0].endswith(".flac") and r["question"] == "Which entity is louder?"
    # three in-context examples in every triplet prompt
    triplet_prompt = next(p for p in llm.seen if isinstance(p, list) and len(p) > 3)
    assert [t["role"] for t in triplet_prompt] == ["user", "assistant"] * 3 + ["user"]
    assert all(t["content"].count("Explanation:") == 1 for t in triplet_prompt[1::2])


def test_parsers_drop_malformed_outputs():
    assert prompts.parse_properties("1. Red\n2. red\n3) Small and round.\n\n- " + "w " * 12) \
        == ["Red", "Small and round"]
    assert prompts.parse_triplets("Answer: Entity A") == []
    assert prompts.parse_answers("dog, barking loudly, cat, Dog", "A dog barks at night") \
        == ["dog"]


def qa_rules(prompt):
    if prompt.startswith("Rewrite this description"):
        return "a tall green cone" if "cone" in prompt else "a tall cube on a base"
    if prompt.startswith('Caption: "') and "single words" in prompt:
        return "cube, tall, banana" if "cube" in prompt else "beeps, three"
    if prompt.startswith('Caption: "') and "Write one question" in prompt:
        answer = re.search(r'whose answer is "(.*)"', prompt).group(1)
        return "What is this" if answer == "three" else f"What word is {answer}?"
    if "Answer with a single word" in prompt:
        asked = re.search(r"What word is (\w+)\?", prompt)
        return f"{asked.group(1).capitalize()}." if asked and "cube" in prompt else "cube"
    raise AssertionError(prompt)


def test_build_qa_counts_every_stage():
    items = [
        Captioned("p0", "3d", "a tall red cube standing on a square base in the middle"),
        Captioned("p1", "3d", "a tall blue cone standing on a square base in the middle"),
        Captioned("s0", "audio", "you can hear three quick high pitched beeps in a quiet room"),
        Captioned("s1", "audio", "short caption"),
    ]
    llm = Scripted(qa_rules)
    lines, counts = build_qa(items, llm, QABuildConfig(min_words=10, max_new_tokens=16))
    assert counts.captions == 4 and counts.long_enough == 3
    assert counts.colour_free == 2  # the cone's rewrite kept "green"
    assert counts.answers == 2 + 2  # "banana" is not in the caption
    assert counts.questions == 3  # "What is this" lacks a question mark
    assert counts.round_trip_kept == 2  # cube and tall; beeps answered "cube"
    assert {x["answer"] for x in lines} == {"cube", "tall"}
    assert all(x["caption"] == "a tall cube on a base" for x in lines)  # colour-free text
    assert all(x["task"] == "qa" and x["instruction"].endswith("?") for x in lines)
    # the colour rewrite only ran for the 3D captions
    assert sum(p[-1]["content"].startswith("Rewrite") for p in llm.seen) == 2
    # every prompt carries one worked example as an earlier chat turn
    assert all([t["role"] for t in p] == ["user", "assistant", "user"] for p in llm.seen)


@pytest.mark.parametrize("text,label", [("Entity A", 0), ("entity b.", 1), ("both", None),
                                        ("the dog", None)])
def test_answer_label(text, label):
    from xalign.datagen.discrn_builder import answer_label

    assert answer_label(text) == label
