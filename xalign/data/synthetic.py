"""Items generated on the fly from a plugin's synthetic generator (the offline world)."""

from __future__ import annotations

from collections.abc import Sequence

from xalign.errors import UnknownNameError, XalignError
from xalign.modality import Modality, SyntheticSample
from xalign.registry import get_modality

from .items import TrainItem, check_index
from .templates import TASKS, make_item

SPLITS = ("train", "val", "test")
# Sample seeds interleave the splits (seed mod 3 = split index), so splits are disjoint for
# any size; each base ``seed`` owns a block of MAX_ITEMS consecutive sample indices.
MAX_ITEMS = 1 << 24
# Base seeds stay below MAX_SEED, so every split seed is < 3·MAX_SEED·MAX_ITEMS; the seeds above
# are reserved for encoder pretraining (xalign.encoders.pretrain.PRETRAIN_SEED_START).
MAX_SEED = 1 << 32


def split_index(split: str) -> int:
    if split not in SPLITS:
        raise UnknownNameError("split", split, SPLITS)
    return SPLITS.index(split)


def sample_seed(seed: int, split: str, i: int) -> int:
    """The generator seed of sample ``i`` of ``split``; disjoint across splits."""
    if not 0 <= i < MAX_ITEMS:
        raise ValueError(f"sample index {i} outside [0, {MAX_ITEMS})")
    if not 0 <= seed < MAX_SEED:
        raise ValueError(f"seed must be in [0, {MAX_SEED}), got {seed}")
    return len(SPLITS) * (seed * MAX_ITEMS + i) + split_index(split)


def synthesize(modality: Modality, seed: int) -> SyntheticSample:
    """Call the plugin's generator and check that it kept the :class:`SyntheticSample` contract."""
    sample = modality.synthesize(seed)
    if not isinstance(sample, SyntheticSample):
        raise XalignError(f"plugin for {modality.name!r}: synthesize({seed}) returned "
                          f"{type(sample).__name__}, expected SyntheticSample")
    return sample


class SyntheticSource:
    """``size`` items of one modality, generated on the fly and deterministic in (seed, split, i).

    Item ``i`` is made from sample ``i`` with task ``tasks[i % len(tasks)]``; the phrasing
    (and for QA/classification the attribute) is drawn from the same key. Classification
    candidates are the plugin's closed vocabulary ``Modality.attributes[attribute]``.
    """

    def __init__(self, modality: str | Modality, split: str = "train", size: int = 1000,
                 seed: int = 0, tasks: Sequence[str] = TASKS) -> None:
        self.modality = get_modality(modality) if isinstance(modality, str) else modality
        split_index(split)
        if not 0 < size <= MAX_ITEMS:
            raise ValueError(f"size must be in [1, {MAX_ITEMS}], got {size}")
        if not tasks:
            raise ValueError("tasks must not be empty")
        for task in tasks:
            if task.partition(":")[0] not in TASKS:
                raise UnknownNameError("task", task, TASKS)
        self.split, self.size, self.seed, self.tasks = split, size, seed, tuple(tasks)
        self.name = f"synthetic-{self.modality.name}-{split}"

    def __len__(self) -> int:
        return self.size

    def sample(self, i: int) -> SyntheticSample:
        """The raw synthetic sample behind item ``i``."""
        i = check_index(i, self.size, self.name)
        return synthesize(self.modality, sample_seed(self.seed, self.split, i))

    def __getitem__(self, i: int) -> TrainItem:
        return self.item_and_sample(i)[0]

    def item_and_sample(self, i: int) -> tuple[TrainItem, SyntheticSample]:
        """Item ``i`` and the sample it was made from (synthesised once)."""
        i = check_index(i, self.size, self.name)
        sample = self.sample(i)
        task = self.tasks[i % len(self.tasks)]
        item = make_item(self.modality, f"{self.name}-s{self.seed}-{i:06d}", sample.raw,
                         sample.caption,
                         {k: str(v) for k, v in sample.attributes.items()}, task,
                         key=(self.seed, self.split, i))
        return item, sample
