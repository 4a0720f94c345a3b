"""XAlignModel: projection, loss on targets only, training touches projectors only, loading."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.fixtures_llm import make_tiny_llm
from xalign.compose import IGNORE_INDEX, Composer
from xalign.errors import CheckpointError, UnknownNameError, XalignError
from xalign.model import Example, MediaFeatures, XAlignModel
from xalign.projectors import ProjectorConfig, build_projector


def projector(kind: str, modality: str, llm, *, feature_dim: int = 32, tokens: int = 4,
              llm_dim: int | None = None, seed: int = 0):
    config = ProjectorConfig(
        kind=kind, modality=modality, feature_dim=feature_dim, llm_dim=llm_dim or llm.hidden_size,
        num_tokens=tokens, llm_id=llm.llm_id, cue=f" {modality}: ",
        instruction_vocab_size=len(llm.tokenizer) if kind == "qformer" else None,
    )
    torch.manual_seed(seed)
    return build_projector(config)


def feats(frames: int, seed: int, t: int = 6, d: int = 32) -> torch.Tensor:
    return torch.randn(frames, t, d, generator=torch.Generator().manual_seed(seed))


@pytest.fixture()
def model():
    llm = make_tiny_llm()
    return XAlignModel(llm, {"audio": projector("qformer", "audio", llm),
                             "image": projector("mlp", "image", llm)})


def examples() -> list[Example]:
    return [
        Example([MediaFeatures("audio", feats(2, 0)), MediaFeatures("image", feats(1, 1))],
                "Which is louder?", "the first"),
        Example([MediaFeatures("image", feats(1, 2))], "Describe the picture.", "a red square"),
    ]


def test_frames_are_projected_per_frame_and_concatenated(model) -> None:
    exs = examples()
    tokens = model.project(exs)
    assert [t.shape for t in tokens[0]] == [(8, 64), (4, 64)]  # 2 frames x K=4, 1 frame x 4
    audio = model.projectors["audio"]
    ids = model.llm.tokenizer(["Which is louder?"], return_tensors="pt")["input_ids"]
    one = audio(exs[0].media[0].features[1:2], ids, torch.ones_like(ids))
    assert torch.allclose(tokens[0][0][4:], one[0], atol=1e-5)  # second frame, second K block


def test_loss_counts_exactly_the_target_tokens(model) -> None:
    exs = examples()
    composed = model.compose(exs)
    logits = model.language_model(inputs_embeds=composed.inputs_embeds,
                                  attention_mask=composed.attention_mask).logits
    expected = F.cross_entropy(logits[:, :-1].flatten(0, 1), composed.labels[:, 1:].flatten(),
                               ignore_index=IGNORE_INDEX)
    assert torch.allclose(model.loss(exs), expected, atol=1e-5)
    counted = int((composed.labels != IGNORE_INDEX).sum())
    tok = model.llm.tokenizer
    lengths = [len(tok(e.target, add_special_tokens=False)["input_ids"]) + 1 for e in exs]
    assert counted == sum(lengths)  # each target plus its end-of-turn token


def test_one_optimiser_step_changes_only_projector_parameters(model) -> None:
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("projectors.") for n in trainable)
    assert {id(p) for p in model.trainable_parameters()} == {
        id(p) for n, p in model.named_parameters() if n in trainable}
    model.train()
    assert not model.language_model.training
    optimiser = torch.optim.AdamW(model.trainable_parameters(), lr=1e-2)
    model(examples()).backward()
    optimiser.step()
    changed = {n for n, p in model.named_parameters() if not torch.equal(p, before[n])}
    assert changed and changed <= trainable
    assert any(n.startswith("projectors.audio") for n in changed)
    assert any(n.startswith("projectors.image") for n in changed)


def test_candidate_losses_rank_with_per_candidate_mean_nll(model) -> None:
    example = examples()[1]
    candidates = ["a red square", "a blue circle on a long table", "no"]
    batched = model.candidate_losses(example, candidates)
    chunked = model.candidate_losses(example, candidates, batch_size=2)
    single = torch.stack([model.loss([Example(example.media, example.instruction, c)]).detach()
                          for c in candidates])
    assert torch.allclose(batched, single, atol=1e-4) and torch.allclose(chunked, single, atol=1e-4)


def test_candidate_losses_of_many_examples_equal_one_example_at_a_time(model) -> None:
    """Batched ranking (held-out accuracy, DisCRn) groups whole examples per LLM call and
    splits an example with more candidates than a call holds; every loss is unchanged."""
    batch = examples()
    candidates = [["a red square", "no"], ["yes", "a blue circle on a long table", "two", "x"],
                  ["red"]][:len(batch)]
    alone = [model.candidate_losses(ex, c) for ex, c in zip(batch, candidates, strict=True)]
    for rows_per_call in (1, 3, 32):
        many = model.candidate_losses_many(batch, candidates, batch_size=rows_per_call)
        assert [m.shape for m in many] == [a.shape for a in alone]
        assert all(torch.allclose(m, a, atol=1e-4) for m, a in zip(many, alone, strict=True))
    with pytest.raises(ValueError, match="candidate lists"):
        model.candidate_losses_many(batch, candidates[:1])


def test_qformer_prompt_overrides_the_instruction(model) -> None:
    seen = []
    audio = model.projectors["audio"]
    audio.register_forward_hook(lambda _mod, args, _out: seen.append(args[1]))
    base = Example([MediaFeatures("audio", feats(1, 0))], "Which of the two is louder?", "x")
    model.project([base])
    model.project([Example(base.media, base.instruction, qformer_prompt="a short description")])
    tok = model.llm.tokenizer
    assert seen[0][0].tolist() == tok("Which of the two is louder?")["input_ids"]
    assert seen[1][0].tolist() == tok("a short description")["input_ids"]


def test_unknown_modality_names_the_missing_projector(model) -> None:
    with pytest.raises(UnknownNameError, match=r"projector for modality '3d'.*audio, image"):
        model.loss([Example([MediaFeatures("3d", feats(1, 0))], "What?", "x")])


def test_a_projector_for_another_llm_width_fails_naming_it(tmp_path: Path) -> None:
    llm = make_tiny_llm()
    other = projector("mlp", "image", llm, llm_dim=32)
    other.save_pretrained(tmp_path / "image32")
    with pytest.raises(CheckpointError, match=r"image32.*width 32.*width 64"):
        XAlignModel.from_pretrained([tmp_path / "image32"], llm=llm)
    with pytest.raises(CheckpointError, match="width 32"):
        XAlignModel(llm, {"image": other})


def test_from_pretrained_composes_projectors_saved_separately(tmp_path: Path) -> None:
    llm = make_tiny_llm()
    audio = projector("qformer", "audio", llm, seed=1)
    image = projector("mlp", "image", llm, seed=2)
    audio.save_pretrained(tmp_path / "a")
    image.save_pretrained(tmp_path / "b")
    loaded = XAlignModel.from_pretrained([tmp_path / "b", tmp_path / "a"], llm=llm)
    fresh = XAlignModel(llm, {"audio": audio.eval(), "image": image.eval()})
    assert set(loaded.projectors) == {"audio", "image"}
    exs = examples()
    assert torch.allclose(loaded.loss(exs), fresh.loss(exs), atol=1e-6)
    with pytest.raises(Exception, match="two projectors for modality 'audio'"):
        XAlignModel.from_pretrained([tmp_path / "a", tmp_path / "a"], llm=llm)


def test_the_system_prompt_recorded_at_training_is_used_when_composing(tmp_path: Path) -> None:
    import dataclasses

    llm = make_tiny_llm()
    audio = projector("qformer", "audio", llm)
    audio.config = dataclasses.replace(audio.config, system_prompt="")
    audio.save_pretrained(tmp_path / "a")
    loaded = XAlignModel.from_pretrained([tmp_path / "a"], llm=llm)
    assert loaded.composer.template.prefix == Composer(llm.tokenizer,
                                                       system_prompt="").template.prefix
    image = projector("mlp", "image", llm)
    image.config = dataclasses.replace(image.config, system_prompt="Be brief.")
    with pytest.raises(XalignError, match="different system prompts"):
        XAlignModel(llm, {"audio": audio, "image": image})
    # an explicit choice wins over what the projectors recorded
    chosen = XAlignModel(llm, {"audio": audio, "image": image}, system_prompt="Be brief.")
    assert chosen.composer.template.prefix == Composer(
        llm.tokenizer, system_prompt="Be brief.").template.prefix


def test_with_lora_the_adapters_train_too() -> None:
    from xalign.llm import apply_lora

    llm = apply_lora(make_tiny_llm(), r=2, target_modules=["q_proj"])
    model = XAlignModel(llm, {"image": projector("mlp", "image", llm)})
    names = {n for n, p in model.named_parameters() if p.requires_grad}
    assert any("lora_" in n for n in names) and any(n.startswith("projectors.") for n in names)
    assert all("lora_" in n or n.startswith("projectors.") for n in names)
    model.train()
    assert model.language_model.training
    loss = model.loss([Example([MediaFeatures("image", feats(1, 0))], "What?", "a cat")])
    loss.backward()
    assert all(p.grad is not None for n, p in model.named_parameters() if "lora_B" in n)


def test_ranking_through_a_lora_wrapped_llm_matches_the_loss() -> None:
    """Ranking runs the prompt once and the candidates on its cache; a peft wrapper must pass
    the cache on like the plain model does."""
    from xalign.llm import apply_lora
    from xalign.llm.shared_prompt import cache_argument

    llm = apply_lora(make_tiny_llm(), r=2, target_modules=["q_proj"])
    model = XAlignModel(llm, {"image": projector("mlp", "image", llm)}).eval()
    assert cache_argument(model.language_model) == cache_argument(make_tiny_llm().model)
    example = Example([MediaFeatures("image", feats(1, 0))], "What is it?", None)
    candidates = ["a cat", "a dog on a mat", "no"]
    single = torch.stack([model.loss([Example(example.media, example.instruction, c)]).detach()
                          for c in candidates])
    assert torch.allclose(model.candidate_losses(example, candidates), single, atol=1e-4)
