"""Sources -> model examples: each item's media through load, preprocess, frozen encoder, cache.

Augmentation policy with the cache (documented in docs/data.md): eval-mode features are
cached once per item. Train-mode features (``train=True``, where plugins may augment,
e.g. a random crop) are cached as ``cache.train_views`` augmented views per item; view
``(epoch + i) % train_views`` is used in epoch ``epoch`` (call :meth:`set_epoch`), and each
view is computed under an RNG seeded from its key so it is reproducible. With
``train_views=0`` train-mode features bypass the cache and are augmented afresh each time.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import torch

from xalign.encoders.frozen import FrozenEncoder
from xalign.errors import EnvironmentFault, MediaError, UnknownNameError
from xalign.featurize import featurize
from xalign.media import check_file
from xalign.registry import get_modality

from .cache import FeatureCache
from .hashing import encoder_fingerprint
from .items import Source, TrainItem, check_index
from .templates import with_context


@contextmanager
def seeded_everything(seed: int) -> Iterator[None]:
    """Seed torch, numpy and ``random`` for a block, restoring the caller's RNG states after."""
    np_state, py_state = np.random.get_state(), random.getstate()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        np.random.seed(seed % (1 << 32))
        random.seed(seed)
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


class FeatureDataset:
    """``dataset[i] -> xalign.model.Example`` with one ``MediaFeatures`` per media input.

    ``encoders`` maps each modality name to its frozen encoder. A file that fails to load
    or preprocess raises :class:`MediaError` naming the file; the trainer catches it and
    records the item in its :class:`~xalign.data.SkipReport`.
    """

    def __init__(self, source: Source, encoders: Mapping[str, FrozenEncoder],
                 cache: FeatureCache | None = None, train: bool = False,
                 qformer_prompt: str | None = None, qformer_prompt_share: float = 0.0,
                 context_share: float = 0.0) -> None:
        self.source, self.encoders, self.cache, self.train = source, dict(encoders), cache, train
        self.epoch = 0
        # a share of examples whose Q-Former reads a generic prompt instead of the
        # instruction, drawn per (item, epoch) so a resumed run sees the same draws
        self.qformer_prompt, self.qformer_prompt_share = qformer_prompt, qformer_prompt_share
        # a share of examples with a general sentence beside the input (templates.CONTEXT),
        # drawn per item, not per epoch, so the caption teacher's kept states stay valid
        self.context_share = context_share
        # weight fingerprints enter the cache key: other weights under the same id never hit
        self._encoder_ids = ({m: encoder_fingerprint(e) for m, e in self.encoders.items()}
                             if cache is not None else {})

    def __len__(self) -> int:
        return len(self.source)

    def set_epoch(self, epoch: int) -> None:
        """Select which cached augmented view each item uses (train mode with a cache)."""
        self.epoch = int(epoch)

    def item(self, i: int) -> TrainItem:
        """The source item behind example ``i`` (id, task, candidates…)."""
        return self.source[i]

    def __getitem__(self, i: int) -> Any:
        from xalign.model import Example, MediaFeatures  # the model module loads the LLM stack

        i = check_index(i, len(self.source), self.source.name)
        item = self.source[i]
        media = [MediaFeatures(modality=m, features=self.features(m, obj, view_of=i))
                 for m, obj in item.media]
        preamble, instruction = "", item.instruction
        if self.train and self.context_share > 0:
            rng = random.Random(f"context:{i}")
            if rng.random() < self.context_share:
                preamble, instruction = with_context(instruction, rng)
        return Example(media=media, instruction=instruction, target=item.target,
                       captions=tuple(item.captions), qformer_prompt=self._qformer_prompt(i),
                       preamble=preamble)

    def _qformer_prompt(self, i: int) -> str | None:
        if self.qformer_prompt is None or self.qformer_prompt_share <= 0:
            return None
        draw = random.Random(f"qformer-prompt:{self.epoch}:{i}").random()
        return self.qformer_prompt if draw < self.qformer_prompt_share else None

    def features(self, modality: str, media: Any, view_of: int = 0) -> torch.Tensor:
        """Features ``Tensor[F, T, d]`` of one input (a path or a raw object), via the cache."""
        if modality not in self.encoders:
            raise UnknownNameError("encoder for modality", modality, self.encoders,
                                   hint="pass one in FeatureDataset(encoders={...})")
        if isinstance(media, (str, Path)):
            # content-addressed cache hits must not accept files the loader would refuse
            # (a good file's bytes under a missing or unsupported name)
            check_file(media, get_modality(modality).extensions)
        cache = self.cache
        if cache is None or (self.train and cache.train_views == 0):
            return self._compute(modality, media)
        view = (self.epoch + view_of) % cache.train_views if self.train else 0
        try:
            key = cache.key(modality, media, self.train, view=view,
                            encoder_id=self._encoder_ids[modality])
        except TypeError:  # raw object the cache cannot hash: compute uncached
            return self._compute(modality, media)
        features = cache.get(key)
        if features is None:
            if self.train:  # a reproducible augmented view
                with seeded_everything(int(key[:15], 16)):
                    features = self._compute(modality, media)
            else:
                features = self._compute(modality, media)
            cache.put(key, features)
        return features

    def _compute(self, modality_name: str, media: Any) -> torch.Tensor:
        modality = get_modality(modality_name)
        encoder = self.encoders[modality_name]
        if isinstance(media, (str, Path)):
            path = Path(media)
            try:
                raw = modality.load(path)
            except (MediaError, EnvironmentFault):  # a machine fault is never a bad file
                raise
            except Exception as exc:  # a plugin loader bug still names the file
                raise MediaError(path, f"{modality_name} loader failed: "
                                       f"{type(exc).__name__}: {exc}") from exc
            return featurize(modality, encoder, raw, self.train, source=path)
        return featurize(modality, encoder, media, self.train)
