"""Training data: sources of :class:`TrainItem`, templates, mixing, feature cache, datasets.

See docs/data.md for the manifest format, the synthetic world and the cache policy.
"""

from xalign.data.cache import FeatureCache
from xalign.data.dataset import FeatureDataset
from xalign.data.hf import HFSource
from xalign.data.items import Source, TrainItem
from xalign.data.manifest import ManifestError, ManifestSource
from xalign.data.mixing import MixedSource, sqrt_weights
from xalign.data.skips import SkipReport
from xalign.data.synthetic import SPLITS, SyntheticSource, sample_seed
from xalign.data.templates import TASKS
from xalign.data.world import write_world

__all__ = [
    "SPLITS",
    "TASKS",
    "FeatureCache",
    "FeatureDataset",
    "HFSource",
    "ManifestError",
    "ManifestSource",
    "MixedSource",
    "SkipReport",
    "Source",
    "SyntheticSource",
    "TrainItem",
    "sample_seed",
    "sqrt_weights",
    "write_world",
]
