"""Decoding presets (DESIGN §3) and batched generation with left padding."""

from __future__ import annotations

import pytest
import torch

from tests.fixtures_llm import embedded_llm, make_tiny_llm
from xalign.errors import UnknownNameError
from xalign.generation import PRESETS, generation_kwargs, get_preset
from xalign.model import Example, MediaFeatures, XAlignModel
from xalign.projectors import ProjectorConfig, build_projector


def test_presets_follow_the_paper() -> None:
    for name in ("caption", "long_caption", "variable_caption", "short_answer"):
        preset = PRESETS[name]
        assert (preset.num_beams, preset.repetition_penalty, preset.temperature) == (5, 1.5, 1.0)
        assert not preset.do_sample
    assert PRESETS["long_caption"].length_penalty == 1
    assert PRESETS["caption"].length_penalty == 0
    assert PRESETS["short_answer"].length_penalty == -1
    lengths = {n: (PRESETS[n].min_new_tokens, PRESETS[n].max_new_tokens) for n in PRESETS}
    assert lengths["caption"] == lengths["long_caption"] == (10, 80)
    assert lengths["short_answer"] == (1, 10) and lengths["variable_caption"] == (1, 80)
    assert PRESETS["greedy"].num_beams == 1


def test_overrides_and_unknown_presets() -> None:
    kwargs = generation_kwargs("short_answer", max_new_tokens=3, num_beams=2, top_k=7)
    assert kwargs["max_new_tokens"] == 3 and kwargs["num_beams"] == 2 and kwargs["top_k"] == 7
    assert kwargs["length_penalty"] == -1
    assert "length_penalty" not in generation_kwargs("greedy")  # single beam: not applicable
    with pytest.raises(UnknownNameError, match="did you mean 'short_answer'"):
        get_preset("short_anwser")


def _model(llm) -> XAlignModel:
    config = ProjectorConfig(kind="mlp", modality="audio", feature_dim=16,
                             llm_dim=llm.hidden_size, num_tokens=3, cue=" audio: ")
    torch.manual_seed(0)
    return XAlignModel(llm, {"audio": build_projector(config)})


def _feats(frames: int, seed: int) -> MediaFeatures:
    gen = torch.Generator().manual_seed(seed)
    return MediaFeatures("audio", torch.randn(frames, 5, 16, generator=gen))


def test_batched_generation_equals_one_by_one_with_media() -> None:
    model = _model(make_tiny_llm())
    exs = [Example([_feats(1, 0)], "Hi"),
           Example([_feats(2, 1), _feats(1, 2)], "A much longer question about both inputs?"),
           Example([], "Text only")]
    lengths = model.compose(exs).lengths
    assert len(set(lengths)) == 3  # really different prompt lengths
    kwargs = {"preset": "greedy", "max_new_tokens": 6, "min_new_tokens": 6}
    batched = model.generate(exs, **kwargs)
    assert batched == [model.generate([e], **kwargs)[0] for e in exs]
    beams = model.generate(exs, preset="short_answer", max_new_tokens=4)
    assert len(beams) == 3 and all(isinstance(t, str) for t in beams)


def test_batched_chat_generation_with_the_embedded_llm() -> None:
    model = XAlignModel(embedded_llm(), {})
    exs = [Example([], "What is the capital of France?"),
           Example([], "Please answer in one short sentence: which city is the capital of "
                       "France, the country in western Europe?")]
    batched = model.generate(exs, preset="greedy", max_new_tokens=8)
    assert "Paris" in batched[0] and "Paris" in batched[1]
    assert batched == [model.generate([e], preset="greedy", max_new_tokens=8)[0] for e in exs]
