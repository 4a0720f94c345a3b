"""Recipe -> the objects a run needs: LLM, frozen encoder, projector, model and data sets."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xalign.data import (
    FeatureCache,
    FeatureDataset,
    HFSource,
    ManifestSource,
    MixedSource,
    Source,
    SyntheticSource,
)
from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import XalignError
from xalign.modality import Modality
from xalign.registry import get_modality, get_registry
from xalign.train.evaluate import EvalSet, low_chance_attributes
from xalign.train.recipe import HFData, ManifestData, Recipe, SyntheticData

log = logging.getLogger(__name__)


@dataclass
class Components:
    """Everything built from a recipe, ready for :class:`xalign.train.engine.Trainer`."""

    recipe: Recipe
    modality: Modality
    llm: Any  # xalign.llm.LoadedLLM
    encoder: FrozenEncoder
    projector: Any  # xalign.projectors.Projector
    model: Any  # xalign.model.XAlignModel
    train_set: FeatureDataset
    val_set: FeatureDataset | None
    test_set: FeatureDataset | None
    cache: FeatureCache | None


def build_llm(recipe: Recipe) -> Any:
    """The LLM of the recipe: frozen, or with LoRA adapters / all weights trainable."""
    from xalign.llm import apply_lora, load_llm

    spec = recipe.llm
    llm = load_llm(spec.source, gguf_file=spec.gguf_file, dtype=spec.dtype, frozen=True)
    if spec.tune == "lora":
        apply_lora(llm, r=spec.lora.r, alpha=spec.lora.alpha, dropout=spec.lora.dropout,
                   target_modules=spec.lora.target_modules)
    elif spec.tune == "full":
        for parameter in llm.model.parameters():
            parameter.requires_grad_(True)
    return llm


def build_encoder(modality: Modality, recipe: Recipe) -> FrozenEncoder:
    """The registered encoder ``encoder.source`` names (an id, ``id@weights``, or weights an
    encoder recognises; ``None``: the modality's default)."""
    return get_registry().build_encoder(modality.name, recipe.encoder.source)


def build_projector(recipe: Recipe, modality: Modality, encoder: FrozenEncoder, llm: Any) -> Any:
    """A fresh projector sized from the encoder and the LLM, warm-started if the recipe says so."""
    from xalign.projectors import ProjectorConfig, init_qformer_from
    from xalign.projectors import build_projector as make

    spec = recipe.projector
    config = ProjectorConfig(
        kind=spec.kind,
        modality=modality.name,
        feature_dim=encoder.feature_dim,
        llm_dim=llm.hidden_size,
        num_tokens=spec.num_tokens or ProjectorConfig.num_tokens,
        preset=spec.preset,
        encoder_id=encoder.encoder_id,
        encoder_weights=encoder.weights_digest,
        llm_id=llm.llm_id,
        cue=modality.cue,
        frames=modality.frames,
        qformer_prompt=spec.fixed_qformer_prompt,
        instruction_tokenizer=spec.instruction_tokenizer,
        instruction_vocab_size=len(llm.tokenizer) if spec.instruction_tokenizer == "llm"
        else None,
        match_params_of=spec.match_params_of,
        hidden_dim=spec.hidden_dim,
        system_prompt=recipe.llm.system_prompt,
        head=spec.head,
        instruction_embeddings=spec.instruction_embeddings,
    )
    projector = make(config)
    if spec.instruction_embeddings == "llm" and hasattr(projector, "borrow_instruction_embeddings"):
        projector.borrow_instruction_embeddings(llm.embeddings.weight, seed=recipe.seed)
    if spec.init_from:
        report = init_qformer_from(projector, spec.init_from,
                                   skip_cross_attention=spec.init_skip_cross_attention)
        log.info("%s", report)
    return projector.train()


def build_model(recipe: Recipe, llm: Any, projector: Any) -> Any:
    from xalign.model import XAlignModel

    return XAlignModel(llm=llm, projectors={recipe.modality: projector},
                       use_cue=recipe.use_cue, system_prompt=recipe.llm.system_prompt)


def _source(spec: Any, recipe: Recipe) -> Source:
    if isinstance(spec, SyntheticData):
        seed = recipe.seed if spec.seed is None else spec.seed
        return SyntheticSource(recipe.modality, "train", size=spec.size, seed=seed,
                               tasks=tuple(spec.tasks))
    if isinstance(spec, ManifestData):
        return ManifestSource(spec.path, root=spec.root,
                              tasks=tuple(spec.tasks) if spec.tasks else None)
    if isinstance(spec, HFData):
        return HFSource(spec.name, spec.split, media_columns=spec.media_columns,
                        answer_column=spec.answer_column,
                        instruction_column=spec.instruction_column,
                        instruction=spec.instruction, id_column=spec.id_column,
                        task=spec.task, root=spec.root)
    raise XalignError(f"unsupported data source {spec!r}")  # pragma: no cover


def train_source(recipe: Recipe) -> Source:
    """The training items: one source, or a sqrt(size)/ratio mixture of several."""
    sources = [_source(s, recipe) for s in recipe.data.sources]
    if len(sources) == 1 and recipe.data.size is None:
        return sources[0]
    ratios = None
    if all(s.ratio is not None for s in recipe.data.sources):
        ratios = [float(s.ratio) for s in recipe.data.sources]  # type: ignore[arg-type]
    return MixedSource(sources, ratios=ratios, size=recipe.data.size, seed=recipe.seed)


def eval_tasks(recipe: Recipe, modality: Modality) -> tuple[str, ...]:
    """Headline evaluation tasks; with ``eval.max_chance``, ``classify:<attr>`` per attribute
    whose chance is at most it."""
    if recipe.eval.max_chance is None:
        return tuple(recipe.eval.tasks)
    attributes = low_chance_attributes(dict(modality.attributes), recipe.eval.max_chance)
    if not attributes:
        raise XalignError(f"modality {modality.name!r} has no attribute with chance <= "
                          f"{recipe.eval.max_chance:.0%}; raise eval.max_chance or set eval.tasks")
    return tuple(f"classify:{a}" for a in attributes)


def other_eval_tasks(recipe: Recipe, modality: Modality) -> tuple[str, ...]:
    """With ``eval.max_chance``: ``classify:<attr>`` per attribute above it (a two-value
    attribute has chance 0.5), asked beside the headline and reported with its own chance."""
    if recipe.eval.max_chance is None:
        return ()
    low = set(low_chance_attributes(dict(modality.attributes), recipe.eval.max_chance))
    return tuple(f"classify:{a}" for a, values in sorted(modality.attributes.items())
                 if len(values) >= 2 and a not in low)


def eval_set(recipe: Recipe, modality: Modality, encoder: FrozenEncoder, split: str, size: int,
             cache: FeatureCache | None) -> FeatureDataset | EvalSet | None:
    """Synthetic ``split`` items (disjoint from training) for ranking evaluation: ``size``
    items on the headline tasks and, with ``eval.max_chance``, ``size // (number of
    attributes)`` (at least 1) on each other attribute, from the same samples."""
    if size <= 0:
        return None

    def part(tasks: tuple[str, ...], n: int) -> FeatureDataset:
        source = SyntheticSource(modality, split, size=n, seed=recipe.seed, tasks=tasks)
        return FeatureDataset(source, {modality.name: encoder}, cache=cache, train=False)

    headline = eval_tasks(recipe, modality)
    if recipe.eval.max_chance is None:
        return part(headline, size)
    others = other_eval_tasks(recipe, modality)
    each = max(1, size // (len(headline) + len(others)))
    return EvalSet([part(headline, size), part(others, each * len(others)) if others else None],
                   recipe.eval.max_chance)


def feature_cache(recipe: Recipe, encoder: FrozenEncoder) -> FeatureCache | None:
    if not recipe.cache.enabled:
        return None
    from xalign.llm import cache_root

    directory = Path(recipe.cache.dir) if recipe.cache.dir else cache_root() / "features"
    return FeatureCache(directory, encoder_id=encoder.encoder_id,
                        settings={"encoder_source": recipe.encoder.source},
                        train_views=recipe.cache.train_views)


def build_components(recipe: Recipe, llm: Any | None = None) -> Components:
    """Build a run's objects from its recipe (``llm`` may be passed in to share one)."""
    modality = get_modality(recipe.modality)
    source = train_source(recipe)  # manifests are read and checked before any model loads
    encoder = build_encoder(modality, recipe)
    llm = llm if llm is not None else build_llm(recipe)
    projector = build_projector(recipe, modality, encoder, llm)
    model = build_model(recipe, llm, projector)
    cache = feature_cache(recipe, encoder)
    spec = recipe.projector
    train_set = FeatureDataset(source, {modality.name: encoder}, cache=cache, train=True,
                               qformer_prompt=spec.mixed_qformer_prompt,
                               qformer_prompt_share=spec.qformer_prompt_share,
                               context_share=recipe.data.context_share)
    return Components(
        recipe=recipe, modality=modality, llm=llm, encoder=encoder, projector=projector,
        model=model, train_set=train_set,
        val_set=eval_set(recipe, modality, encoder, "val", recipe.eval.val_size, cache),
        test_set=eval_set(recipe, modality, encoder, "test", recipe.eval.test_size, cache),
        cache=cache,
    )
