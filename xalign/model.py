"""XAlignModel: a frozen LLM plus one projector per modality (loss, generation, ranking).

Features arrive precomputed (``MediaFeatures``: ``[F, T, d_enc]`` per item, maybe from
a feature cache); encoders are not part of the forward pass (:mod:`xalign.pipeline`
builds them, with the model, for the CLI and the data tools). The model holds everything
it needs (projectors, cues, LLM) and never looks anything up in the plugin registry.
Items of one modality are projected in one batched call: the ``F`` frames of an item
become ``F`` rows whose ``K`` tokens are concatenated into ``F·K`` tokens, then the
composer places them.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from xalign.compose import IGNORE_INDEX, Composed, ComposeItem, Composer
from xalign.errors import CheckpointError, UnknownNameError, XalignError
from xalign.generation import generate_from_embeds, generation_kwargs
from xalign.llm.loaded import LoadedLLM
from xalign.llm.shared_prefix import MIN_SHARED, PrefixRunner, shared_prefix_length
from xalign.llm.shared_prompt import answer_losses, prompt_cache
from xalign.projectors import Projector, load_projector


@dataclass
class MediaFeatures:
    """Frozen-encoder features of one media item: ``Tensor[F, T, d_enc]``."""

    modality: str
    features: torch.Tensor


@dataclass
class Example:
    """Inputs in order, the instruction and (for training or ranking) the target answer.

    ``qformer_prompt`` replaces the instruction as the Q-Former's text (DisCRn uses
    "a short description"); ``None`` falls back to the projector's fixed prompt, then
    to the instruction. ``preamble`` is text the LLM reads before the first input.
    ``captions``: a true description of each input, when the data has one (the caption
    teacher of :mod:`xalign.train.teacher` reads it; nothing else does).
    """

    media: list[MediaFeatures]
    instruction: str
    target: str | None = None
    qformer_prompt: str | None = None
    preamble: str = ""
    captions: tuple[str, ...] = ()


@dataclass
class LLMRun:
    """One LLM pass over a composed batch: per-position target NLL ``[B, P]``, its 0/1 counts,
    and (when asked for) the hidden states of every layer (``[B, S, d]`` each)."""

    nll: torch.Tensor
    counted: torch.Tensor
    hidden_states: tuple[torch.Tensor, ...] = ()


class XAlignModel(nn.Module):
    """Frozen LLM + projectors. Only projector (and LoRA) parameters train."""

    def __init__(self, llm: LoadedLLM, projectors: Mapping[str, Projector], *,
                 cues: Mapping[str, str] | None = None,
                 use_cue: bool = True, use_chat_template: bool = True,
                 system_prompt: str | None = None) -> None:
        super().__init__()
        self.llm = llm
        self.language_model = llm.model  # registered so that .to(device) moves it
        self.projectors = nn.ModuleDict(dict(projectors))
        for name, projector in self.projectors.items():
            check_projector(projector, llm, source=f"projector {name!r}")
            bind_heads(projector, llm)
        if llm.tokenizer.pad_token is None and llm.tokenizer.eos_token is not None:
            llm.tokenizer.pad_token = llm.tokenizer.eos_token
        if system_prompt is None:
            system_prompt = recorded_system_prompt(self.projectors.values())
        self.composer = Composer(llm.tokenizer, use_cue=use_cue,
                                 use_chat_template=use_chat_template, system_prompt=system_prompt)
        # the cue a projector recorded wins; ``cues`` (the plugins', from the pipeline) fills in
        self._cues = {name: p.config.cue or (cues or {}).get(name) or f" {name}: "
                      for name, p in self.projectors.items()}
        self._qformer_tokenizers: dict[str, Any] = {}
        base = llm.model.get_base_model() if hasattr(llm.model, "get_base_model") else llm.model
        self._keep_logits = "logits_to_keep" in inspect.signature(base.forward).parameters
        # run_llm runs the rows' common opening once (None: every row runs whole)
        self.prefix_runner: PrefixRunner | None = PrefixRunner(llm.model, self._keep_logits)

    # -- construction ---------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, projector_dirs: Sequence[str | Path], llm: LoadedLLM | str = "smollm2",
                        **kwargs: Any) -> XAlignModel:
        """Compose projectors saved separately (one directory each) on one LLM."""
        if not isinstance(llm, LoadedLLM):
            from xalign.llm import load_llm

            llm = load_llm(llm)
        projectors: dict[str, Projector] = {}
        origin: dict[str, Path] = {}
        for directory in map(Path, projector_dirs):
            projector = load_projector(directory, llm_dim=llm.hidden_size, llm_id=llm.llm_id)
            check_projector(projector, llm, source=str(directory))
            modality = projector.config.modality
            if modality in projectors:
                raise XalignError(f"two projectors for modality {modality!r}: "
                                  f"{origin[modality]} and {directory}; pass one per modality")
            projectors[modality], origin[modality] = projector, directory
        return cls(llm, projectors, **kwargs)

    def save_projectors(self, directory: str | Path) -> dict[str, Path]:
        """Save each projector alone under ``directory/<modality>``."""
        return {name: p.save_pretrained(Path(directory) / name)
                for name, p in self.projectors.items()}

    # -- pieces ---------------------------------------------------------------------
    def projector_for(self, modality: str) -> Projector:
        if modality not in self.projectors:
            raise UnknownNameError(
                "projector for modality", modality, self.projectors.keys(),
                hint=f"load a projector trained for {modality!r} (--projector DIR)",
            )
        return self.projectors[modality]

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters that require grad: the projectors' (plus LoRA adapters, if any)."""
        return [p for p in self.parameters() if p.requires_grad]

    def train(self, mode: bool = True) -> XAlignModel:
        super().train(mode)
        # The frozen LLM keeps dropout off unless something inside it trains (LoRA).
        tuned = any(p.requires_grad for p in self.language_model.parameters())
        self.language_model.train(mode and tuned)
        return self

    @property
    def device(self) -> torch.device:
        return self.language_model.get_input_embeddings().weight.device

    def cue(self, modality: str) -> str:
        """The text cue before an input: the projector's, else the plugin's, else " m: "."""
        self.projector_for(modality)  # an unknown modality names the loaded ones
        return self._cues[modality]

    # -- projection and composition ---------------------------------------------------
    def project(self, examples: Sequence[Example]) -> list[list[torch.Tensor]]:
        """Projected tokens ``[F·K, d_llm]`` of every item, batched per modality."""
        groups: dict[tuple[str, tuple[int, ...]], list[tuple[int, int]]] = {}
        for e, example in enumerate(examples):
            for i, item in enumerate(example.media):
                if item.features.ndim != 3:
                    raise XalignError(f"example {e} item {i} ({item.modality}): features must "
                                      f"be [F, T, d], got {tuple(item.features.shape)}")
                key = (item.modality, tuple(item.features.shape[1:]))
                groups.setdefault(key, []).append((e, i))
        out: list[list[Any]] = [[None] * len(ex.media) for ex in examples]
        for (modality, _), refs in groups.items():
            projector = self.projector_for(modality)
            feats = [examples[e].media[i].features for e, i in refs]
            frames = torch.tensor([f.shape[0] for f in feats])
            param = next(projector.parameters())
            rows = torch.cat(feats).to(device=param.device, dtype=param.dtype)
            ids = mask = None
            if projector.uses_instruction:
                prompts = [self._qformer_prompt(projector, examples[e]) for e, _ in refs]
                ids, mask = self._qformer_tokens(projector, prompts, param.device)
                index = torch.repeat_interleave(torch.arange(len(refs)), frames).to(param.device)
                ids, mask = ids[index], mask[index]
            tokens = projector(rows, ids, mask)  # [sum F, K, d_llm]
            for (e, i), chunk in zip(refs, tokens.split(frames.tolist()), strict=True):
                out[e][i] = chunk.reshape(-1, chunk.shape[-1])
        return out

    @staticmethod
    def _qformer_prompt(projector: Projector, example: Example) -> str:
        if example.qformer_prompt is not None:
            return example.qformer_prompt
        if projector.config.qformer_prompt is not None:
            return projector.config.qformer_prompt
        return example.instruction

    def _qformer_tokens(self, projector: Projector, prompts: list[str], device: torch.device
                        ) -> tuple[torch.Tensor, torch.Tensor]:
        name = projector.config.instruction_tokenizer
        if name == "llm":
            tokenizer = self.llm.tokenizer
        else:
            if name not in self._qformer_tokenizers:
                from transformers import AutoTokenizer

                self._qformer_tokenizers[name] = AutoTokenizer.from_pretrained(
                    name, trust_remote_code=False)
            tokenizer = self._qformer_tokenizers[name]
        enc = tokenizer(prompts, padding=True, padding_side="right", return_tensors="pt")
        return enc["input_ids"].to(device), enc["attention_mask"].to(device)

    def compose(self, examples: Sequence[Example], *, padding_side: str = "right",
                max_length: int | None = None,
                projected: list[list[torch.Tensor]] | None = None) -> Composed:
        """Project the media and compose the batch (see :mod:`xalign.compose`)."""
        if projected is None:
            projected = self.project(examples)
        items = [
            ComposeItem(
                media=[(self.cue(m.modality), t) for m, t in zip(ex.media, toks, strict=True)],
                instruction=ex.instruction, target=ex.target, preamble=ex.preamble,
            )
            for ex, toks in zip(examples, projected, strict=True)
        ]
        return self.composer.compose(items, self.language_model.get_input_embeddings(),
                                     padding_side=padding_side,
                                     max_length=max_length or self.llm.context_length)

    # -- loss -----------------------------------------------------------------------
    def forward(self, examples: Sequence[Example]) -> torch.Tensor:
        """Mean NLL over the target tokens of the batch (the training loss)."""
        run = self.run_llm(self.compose(examples))
        return run.nll.sum() / run.counted.sum().clamp(min=1)

    def loss(self, examples: Sequence[Example]) -> torch.Tensor:
        """Alias of :meth:`forward` (training loss)."""
        return self(examples)

    def candidate_losses(self, example: Example, candidates: Sequence[str],
                         batch_size: int | None = None) -> torch.Tensor:
        """Mean per-token NLL of each candidate as the target (lower = more likely)."""
        return self.candidate_losses_many([example], [candidates],
                                          batch_size or max(1, len(candidates)))[0]

    def candidate_losses_many(self, examples: Sequence[Example],
                              candidates: Sequence[Sequence[str]], batch_size: int = 32
                              ) -> list[torch.Tensor]:
        """:meth:`candidate_losses` of many examples, ``batch_size`` (example, candidate)
        rows per LLM call: ranking a test set or DisCRn in a few large batches instead of
        one small batch per question."""
        if len(examples) != len(candidates):
            raise ValueError(f"{len(examples)} examples but {len(candidates)} candidate lists")
        was_training = self.training
        self.eval()  # ranking is evaluation: no dropout in the projectors
        try:
            return self._candidate_losses(examples, candidates, batch_size)
        finally:
            self.train(was_training)

    @torch.no_grad()
    def _candidate_losses(self, examples: Sequence[Example],
                          candidates: Sequence[Sequence[str]], batch_size: int
                          ) -> list[torch.Tensor]:
        losses = []
        first = 0
        while first < len(examples):
            # whole examples filling one call (one with more candidates than that goes alone);
            # each prompt runs once and its candidates run on its cache (llm.shared_prompt)
            end, rows = first + 1, len(candidates[first])
            while end < len(examples) and rows + len(candidates[end]) <= batch_size:
                rows += len(candidates[end])
                end += 1
            answers = [self.composer.answer_ids(candidates[e]) for e in range(first, end)]
            longest = max((len(a) for per in answers for a in per), default=0)
            prompt = self.compose([replace(e, target=None) for e in examples[first:end]],
                                  padding_side="left",
                                  max_length=self.llm.context_length - longest)
            prefix = self._shared_opening(prompt)
            if self.prefix_runner and prefix:  # DisCRn's instruction runs once
                cache, last, mask = self.prefix_runner.prompt_cache(prompt, prefix)
            else:
                mask = prompt.attention_mask
                cache, last = prompt_cache(self.language_model, prompt.inputs_embeds, mask,
                                           self._keep_logits)
            pairs = [(e, a) for e, per in enumerate(answers) for a in per]
            for start in range(0, len(pairs), batch_size):
                chunk = pairs[start:start + batch_size]
                losses.append(answer_losses(
                    self.language_model, cache, last, mask,
                    [e for e, _ in chunk], [a for _, a in chunk], self.composer.pad_token_id,
                    reuse_cache=start + batch_size >= len(pairs)))
            first = end
        flat = torch.cat(losses).float().cpu() if losses else torch.empty(0)
        return list(flat.split([len(c) for c in candidates]))

    def _shared_opening(self, composed: Composed) -> int:
        """How many leading positions the prefix runner runs once for ``composed`` (0: none,
        every row runs whole)."""
        if self.prefix_runner is None:
            return 0
        prefix = shared_prefix_length(composed)
        return prefix if prefix >= MIN_SHARED else 0

    def run_llm(self, composed: Composed, hidden_states: bool = False) -> LLMRun:
        """The LLM on ``composed``: NLL over the positions that predict targets (only those
        go through the LM head), and every layer's hidden states with ``hidden_states``."""
        if composed.labels is None:
            raise XalignError("the loss needs a target in every example")
        following = composed.labels[:, 1:]  # position p predicts token p + 1
        keep = (following != IGNORE_INDEX).any(0).nonzero().squeeze(1)
        prefix = self._shared_opening(composed)
        if self.prefix_runner and prefix:
            logits, states = self.prefix_runner.forward(composed, prefix, keep, hidden_states)
        else:
            kwargs: dict[str, Any] = {"use_cache": False, "output_hidden_states": hidden_states}
            if self._keep_logits:
                kwargs["logits_to_keep"] = keep
            out = self.language_model(inputs_embeds=composed.inputs_embeds,
                                      attention_mask=composed.attention_mask, **kwargs)
            logits = out.logits if self._keep_logits else out.logits[:, keep]
            states = tuple(out.hidden_states) if hidden_states else ()
        targets = following[:, keep]
        nll = F.cross_entropy(logits.float().transpose(1, 2), targets,
                              ignore_index=IGNORE_INDEX, reduction="none")
        return LLMRun(nll, (targets != IGNORE_INDEX).to(nll.dtype), states)

    # -- generation -----------------------------------------------------------------
    @torch.no_grad()
    def generate(self, examples: Sequence[Example], preset: str = "short_answer",
                 **overrides: Any) -> list[str]:
        """Answer each example (batched, left padded, KV cache); targets are ignored."""
        was_training = self.training
        self.eval()
        try:
            budget = generation_kwargs(preset, **overrides)["max_new_tokens"]
            prompts = [replace(ex, target=None) for ex in examples]
            composed = self.compose(prompts, padding_side="left",
                                    max_length=self.llm.context_length - budget)
            return generate_from_embeds(
                self.language_model, self.llm.tokenizer, composed.inputs_embeds,
                composed.attention_mask, eos_token_ids=self.composer.end_token_ids,
                pad_token_id=self.composer.pad_token_id, preset=preset, **overrides,
            )
        finally:
            self.train(was_training)


def bind_heads(projector: Projector, llm: LoadedLLM) -> None:
    """Give each head that reads the LLM's embedding table (:mod:`xalign.projectors.heads`)
    that table."""
    from xalign.projectors.heads import NormedHead, VocabHead

    for module in projector.modules():
        if isinstance(module, (VocabHead, NormedHead)):
            module.bind(llm.embeddings.weight)


def recorded_system_prompt(projectors: Iterable[Projector]) -> str | None:
    """The system prompt the projectors were trained under (they must agree), else ``None``."""
    prompts = {p.config.modality: p.config.system_prompt for p in projectors
               if p.config.system_prompt is not None}
    if len(set(prompts.values())) > 1:
        raise XalignError(f"the projectors were trained under different system prompts "
                          f"({prompts}); pass system_prompt= to choose one")
    return next(iter(prompts.values()), None)


def check_projector(projector: Projector, llm: LoadedLLM, source: str) -> None:
    """A projector must emit this LLM's width and read ids its tokenizer can produce."""
    config = projector.config
    derived = "+" in (config.llm_id or "") or "+" in llm.llm_id  # e.g. after a text stage
    if derived and config.llm_id and config.llm_id != llm.llm_id:
        raise CheckpointError(
            f"{source} ({config.modality}) was trained on LLM state {config.llm_id!r}, not "
            f"{llm.llm_id!r}: projectors compose only on the LLM state they were trained on"
        )
    if config.llm_dim != llm.hidden_size:
        raise CheckpointError(
            f"{source} ({config.modality}) was made for an LLM of width {config.llm_dim} "
            f"(llm_id {config.llm_id or '?'}); {llm.llm_id!r} has width {llm.hidden_size}"
        )
    if projector.uses_instruction and config.instruction_tokenizer == "llm":
        vocab = config.instruction_vocab_size or 0
        if vocab < len(llm.tokenizer):
            raise CheckpointError(
                f"{source} ({config.modality}) reads LLM token ids below {vocab}, but the "
                f"tokenizer of {llm.llm_id!r} has {len(llm.tokenizer)} tokens"
            )
