"""Media checks: missing and corrupt files, exact duplicates (content hash) and near-duplicates
(cosine of pooled features from the modality's frozen default encoder)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch

from xalign.data.cache import FeatureCache
from xalign.data.dataset import FeatureDataset
from xalign.data.hashing import digest_file
from xalign.data.items import TrainItem
from xalign.errors import EnvironmentFault, MediaError
from xalign.media import check_environment, check_file
from xalign.registry import get_modality, get_registry

from .report import BadFile, DuplicateMedia


@dataclass
class MediaScan:
    missing: list[BadFile] = field(default_factory=list)
    corrupt: list[BadFile] = field(default_factory=list)
    exact: list[DuplicateMedia] = field(default_factory=list)
    near: list[DuplicateMedia] = field(default_factory=list)
    digests: dict[str, str] = field(default_factory=dict)  # readable path -> sha256
    nearest: dict[str, list[float]] = field(default_factory=dict)  # modality -> per file
    encoders: dict[str, str] = field(default_factory=dict)


class _Loader:
    """Loads (and, for near-duplicates, featurises) each distinct content once."""

    def __init__(self, items: Sequence[TrainItem], near: bool, cache: FeatureCache | None):
        self.near = near
        self.dataset: FeatureDataset | None = None
        self.memo: dict[tuple[str, str], torch.Tensor | MediaError | None] = {}
        if near:
            names = sorted({m for item in items for m, _ in item.media})
            encoders = {m: get_registry().build_encoder(m) for m in names}
            self.dataset = FeatureDataset(_Items(items), encoders, cache, train=False)

    def encoder_ids(self) -> dict[str, str]:
        return {m: e.encoder_id for m, e in self.dataset.encoders.items()} if self.dataset else {}

    def vector(self, modality: str, path: Path, digest: str) -> torch.Tensor | None:
        """Pooled, L2-normalised features (``None`` when near-duplicates are off); raises
        :class:`MediaError` for a file the plugin refuses."""
        check_file(path, get_modality(modality).extensions)
        key = (modality, digest)
        if key not in self.memo:
            try:
                self.memo[key] = self._compute(modality, path)
            except MediaError as exc:
                self.memo[key] = exc
        result = self.memo[key]
        if isinstance(result, MediaError):
            raise MediaError(path, result.reason)
        return result

    def _compute(self, modality: str, path: Path) -> torch.Tensor | None:
        try:
            if self.dataset is None:
                get_modality(modality).load(path)
                return None
            features = self.dataset.features(modality, path)
        except EnvironmentFault as exc:
            raise EnvironmentFault(f"data check stopped at {path}: this is an environment "
                                   f"problem, not a data fault: {exc}") from exc
        except MediaError:
            raise
        except Exception as exc:  # a plugin loader bug still names the file
            raise MediaError(path, f"{modality} loader failed: {type(exc).__name__}: "
                                   f"{exc}") from exc
        pooled = features.float().reshape(-1, features.shape[-1]).mean(dim=0)
        return torch.nn.functional.normalize(pooled, dim=0)


class _Items:
    """The minimal Source FeatureDataset needs (only ``features`` is used here)."""

    name = "data-check"

    def __init__(self, items: Sequence[TrainItem]) -> None:
        self.items = list(items)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, i: int) -> TrainItem:
        return self.items[i]


def scan_media(items: Sequence[TrainItem], near: float | None = None,
               cache: FeatureCache | None = None, relative: float | None = None) -> MediaScan:
    """Check every distinct media file of ``items`` (paths resolved) once, in manifest order.

    ``near``: cosine threshold for feature-space near-duplicates (``None`` skips the encoder
    and only loads each file); ``relative``: a pair must also be closer than this fraction of
    the median nearest-neighbour distance (1 - cosine) of the modality's files (see
    :func:`_near_clusters`). Raises :class:`EnvironmentFault` when the machine, not the
    data, is at fault (a missing decoder), before or while reading files.
    """
    users: dict[tuple[str, str], list[str]] = {}
    for item in items:
        for modality, obj in item.media:
            users.setdefault((modality, str(obj)), []).append(item.id)
    ids_by_path: dict[str, list[str]] = {}
    for (_, path), ids in users.items():
        ids_by_path.setdefault(path, []).extend(ids)
    for modality in sorted({m for m, _ in users}):
        check_environment(get_modality(modality))  # fail fast: never blame the files
    scan, loader = MediaScan(), _Loader(items, near is not None, cache)
    scan.encoders = loader.encoder_ids()
    by_digest: dict[str, list[str]] = {}
    vectors: dict[str, dict[str, torch.Tensor]] = {}  # modality -> digest -> vector
    first_path: dict[str, str] = {}
    for (modality, path), ids in users.items():
        if not Path(path).exists():
            scan.missing.append(BadFile(path, "file not found", ids))
            continue
        try:
            digest = digest_file(path)
            vector = loader.vector(modality, Path(path), digest)
        except MediaError as exc:
            scan.corrupt.append(BadFile(path, exc.reason, ids))
            continue
        scan.digests[path] = digest
        by_digest.setdefault(digest, []).append(path)
        first_path.setdefault(digest, path)
        if vector is not None:
            vectors.setdefault(modality, {}).setdefault(digest, vector)
    for paths in by_digest.values():
        if len(paths) > 1:
            lines = [i for p in paths[1:] for i in ids_by_path[p]]
            scan.exact.append(DuplicateMedia(paths, 1.0, lines))
    if near is not None:
        for modality, table in vectors.items():
            clusters, nearest = _near_clusters(table, near, relative)
            scan.nearest[modality] = nearest
            for digests, similarity in clusters:
                paths = [first_path[d] for d in digests]
                lines = [i for d in digests[1:] for p in by_digest[d] for i in ids_by_path[p]]
                scan.near.append(DuplicateMedia(paths, similarity, lines))
    return scan


MIN_FILES_RELATIVE = 5  # fewer files give no stable median distance: threshold alone


def _near_clusters(table: dict[str, torch.Tensor], threshold: float,
                   relative: float | None = None,
                   block: int = 1024) -> tuple[list[tuple[list[str], float]], list[float]]:
    """Clusters of digests linked by cosine >= threshold (single linkage, first-seen order;
    similarity: the weakest link), and each digest's nearest-neighbour cosine.

    Why ``relative``: the pooled features of an encoder, above all a random stand-in one,
    share a large common direction, so distinct files of a homogeneous set can all sit above
    any fixed cosine (the tiny audio encoder puts distinct synthetic clips at 0.999). A link
    then also needs a distance (1 - cosine) below ``relative`` times the median
    nearest-neighbour distance: much closer than files of this set usually are."""
    keys = list(table)
    if len(keys) < 2:
        return [], [0.0] * len(keys)
    matrix = torch.stack([table[k] for k in keys])
    parent = list(range(len(keys)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    links: list[tuple[int, int, float]] = []
    nearest: list[float] = []
    for start in range(0, len(keys), block):  # blockwise: never an N x N matrix in memory
        sims = matrix[start:start + block] @ matrix.T
        for r in range(sims.shape[0]):
            sims[r, start + r] = -2.0
        nearest += [round(float(x), 4) for x in sims.max(dim=1).values]
        for r, c in (sims >= threshold).nonzero().tolist():
            if start + r < c:
                links.append((start + r, c, float(sims[r, c])))
    if relative is not None and len(keys) >= MIN_FILES_RELATIVE:
        cutoff = relative * float(torch.tensor([1.0 - x for x in nearest]).median())
        links = [link for link in links if 1.0 - link[2] <= cutoff]
    weakest: dict[int, float] = {}
    for a, b, s in links:
        ra, rb = root(a), root(b)
        low = min(s, weakest.get(ra, 1.0), weakest.get(rb, 1.0))
        parent[max(ra, rb)] = min(ra, rb)  # the earliest file stays the cluster's root
        weakest[min(ra, rb)] = low
    groups: dict[int, list[int]] = {}
    for i in range(len(keys)):
        groups.setdefault(root(i), []).append(i)
    clusters = [([keys[i] for i in members], round(weakest[r], 4))
                for r, members in groups.items() if len(members) > 1]
    return clusters, nearest


def line_ids(groups: Iterable[DuplicateMedia | object]) -> set[str]:
    """Every line id named by ``groups`` (BadFile or DuplicateMedia)."""
    return {i for g in groups for i in getattr(g, "lines", [])}
