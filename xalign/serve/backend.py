"""Models for the page: the LLM loaded once, projectors composed per selection, features
cached per file, one answer per question."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xalign.errors import XalignError
from xalign.serve.chat import Attachment, Conversation, to_example
from xalign.serve.discover import ProjectorChoice

FEATURE_CACHE_SIZE = 64


class AttachmentError(XalignError):
    """A pending input failed to featurize; the page drops it and says why."""

    def __init__(self, attachment: Attachment, cause: BaseException) -> None:
        self.attachment, self.cause = attachment, cause
        super().__init__(str(cause))


@dataclass
class Backend:
    """What the page talks to. ``llm`` overrides the LLM the projectors recorded (a loaded
    :class:`~xalign.llm.LoadedLLM`, a hub id or a path)."""

    choices: list[ProjectorChoice]
    llm: Any = None
    gguf_file: str | None = None
    preset: str = "greedy"
    overrides: dict[str, Any] = field(default_factory=dict)
    device: str = "cpu"
    use_cue: bool = True
    max_turns: int = 4
    _llms: dict[str, Any] = field(default_factory=dict, init=False)
    _pipelines: dict[tuple[Path, ...], Any] = field(default_factory=dict, init=False)
    _features: OrderedDict[tuple[str, str, str], Any] = field(default_factory=OrderedDict,
                                                                init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def __post_init__(self) -> None:
        from xalign.generation import get_preset

        get_preset(self.preset)  # a typo fails at start, not at the first question

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.choices]

    def modalities(self) -> Mapping[str, Any]:
        """The installed modalities (name → :class:`~xalign.modality.Modality`)."""
        from xalign.registry import get_registry

        return get_registry().modalities

    def selected(self, labels: Sequence[str]) -> list[ProjectorChoice]:
        """The chosen projectors, one per modality (two for one modality is an error)."""
        by_label = {c.label: c for c in self.choices}
        chosen = [by_label[label] for label in labels if label in by_label]
        if not chosen:
            raise XalignError("pick at least one projector")
        seen: dict[str, ProjectorChoice] = {}
        for choice in chosen:
            if choice.modality in seen:
                raise XalignError(f"two projectors for {choice.modality}: "
                                  f"{seen[choice.modality].path} and {choice.path}; pick one")
            seen[choice.modality] = choice
        return chosen

    def answer(self, conversation: Conversation, question: str, labels: Sequence[str]) -> str:
        """Generate the answer to ``question`` over every input of ``conversation``."""
        with self._lock:  # one model, one generation at a time
            pipeline = self._pipeline(self.selected(labels))
            media = conversation.media()
            missing = sorted({a.modality for a in media} - set(pipeline.encoders))
            if missing:
                raise XalignError(f"no projector picked for {', '.join(missing)}: pick one in "
                                  "the projector list")
            items = []
            for attachment in media:
                try:
                    items.append(self._features_of(pipeline, attachment))
                except XalignError as exc:
                    raise AttachmentError(attachment, exc) from exc
            fixed = any(p.config.qformer_prompt is not None
                        for p in pipeline.model.projectors.values())
            example = to_example(conversation, question, items, max_turns=self.max_turns,
                                 fixed_qformer_prompt=fixed)
            return pipeline.model.generate([example], preset=self.preset, **self.overrides)[0]

    def _loaded_llm(self, choices: Sequence[ProjectorChoice]) -> Any:
        from xalign.llm import LoadedLLM, load_llm

        if isinstance(self.llm, LoadedLLM):
            return self.llm
        source = self.llm
        if source is None:
            ids = {c.llm_id for c in choices}
            if len(ids) > 1:
                raise XalignError(f"the picked projectors were trained on different LLMs "
                                  f"({', '.join(sorted(ids))}); pick projectors of one LLM")
            source = ids.pop()
        if source not in self._llms:
            self._llms[source] = load_llm(source, gguf_file=self.gguf_file)
        return self._llms[source]

    def _pipeline(self, choices: Sequence[ProjectorChoice]) -> Any:
        from xalign.pipeline import build_pipeline
        from xalign.projectors import load_projector

        key = tuple(sorted(c.path for c in choices))
        if key not in self._pipelines:
            llm = self._loaded_llm(choices)
            projectors = {c.modality: load_projector(c.path, llm_dim=llm.hidden_size,
                                                     llm_id=llm.llm_id) for c in choices}
            pipeline = build_pipeline(projectors, llm, device=self.device, use_cue=self.use_cue)
            pipeline.model.to(self.device)
            self._pipelines = {key: pipeline}  # keep one: each holds the projectors' weights
        return self._pipelines[key]

    def _features_of(self, pipeline: Any, attachment: Attachment) -> Any:
        encoder = pipeline.encoders[attachment.modality]
        key = (str(attachment.path), attachment.modality, encoder.encoder_id)
        if key not in self._features:
            self._features[key] = pipeline.features(attachment.modality, attachment.path)
            if len(self._features) > FEATURE_CACHE_SIZE:
                self._features.popitem(last=False)
        self._features.move_to_end(key)
        return self._features[key]
