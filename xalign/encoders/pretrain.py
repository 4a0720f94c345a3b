"""Pretrain a tiny encoder with the one objective shared by every modality.

Contrastive media↔caption alignment against the frozen all-MiniLM-L6-v2 text tower (the
one :mod:`xalign.datagen.embedding` uses): the encoder's ``[F·N, K, d]`` tokens are averaged
per frame, the F frame vectors concatenated (so that frame order, e.g. motion, can matter)
and a linear head maps them into MiniLM space. The loss is InfoNCE over *distinct* captions:

* the synthetic world's captions are templated, so a batch holds the same caption many
  times. Plain in-batch InfoNCE would treat two items with the same caption as negatives
  of each other and push identical targets apart. Captions are therefore deduplicated
  (equal strings, hence equal embeddings, share one row); media -> caption has one target
  row, caption -> media has a uniform target over every batch item carrying that caption;
* the negatives are every distinct caption seen so far, not only the batch's: the text tower
  is frozen, so its embeddings cost nothing after the first time, and every step then sees
  the hard negatives (a caption that differs from the right one in one word).

Data: item ``k`` of the pretraining stream is ``synthesize(PRETRAIN_SEED_START + k)``, a seed
no train/val/test split (nor DisCRn, which draws test seeds) can produce, since
:func:`xalign.data.synthetic.sample_seed` stays below it. Every step takes fresh items.

Determinism: fixed seeds for initialisation and data, a fixed thread count, deterministic
algorithms, and each caption embedded alone (so its vector never depends on what it was
batched with): the same command on the same machine writes the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import math
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import save_file
from torch import nn

from xalign.data.synthetic import MAX_ITEMS, MAX_SEED, SPLITS
from xalign.encoders.tiny_pretrained import WEIGHTS_FILE, load_weights
from xalign.modality import SyntheticSample

# First seed of the pretraining stream: every split seed sample_seed(seed, split, i) is below.
PRETRAIN_SEED_START = len(SPLITS) * MAX_SEED * MAX_ITEMS
TEXT_DIM = 384  # all-MiniLM-L6-v2
CONFIG_FILE = "config.json"
HEAD_FILE = "head.safetensors"
LOG_FILE = "log.json"
CARD_FILE = "MODEL_CARD.md"

Embedder = Callable[[Sequence[str]], np.ndarray]


def pretrain_seed(k: int) -> int:
    """Generator seed of item ``k`` of the pretraining stream."""
    if k < 0:
        raise ValueError(f"pretraining item index must be >= 0, got {k}")
    return PRETRAIN_SEED_START + k


@dataclass(frozen=True)
class PretrainConfig:
    steps: int = 600
    batch_size: int = 32
    lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: int = 30
    temperature: float = 0.07  # initial; learned
    grad_clip: float = 1.0
    seed: int = 0      # initialisation; the data stream is fixed by PRETRAIN_SEED_START
    threads: int = 1   # fixed: a different thread count may change float reductions


@dataclass(frozen=True)
class PretrainSpec:
    """What a plugin hands the trainer: its generator, its preprocessing and an architecture.

    ``build()`` returns a fresh, untrained encoder module mapping ``[N, ...]`` (one frame or
    window each) to ``[N, K, d]``; ``preprocess(raw, train)`` returns ``[F, ...]`` per item.
    A network whose frames see each other sets ``reads_clips = True`` and maps
    ``[B, F, ...]`` to ``[B, F, K, d]``; the loss is then taken per frame (each frame's
    tokens alone must match the clip's caption: a projector reads frames one at a time).

    ``init``: a weights folder that ``init_module`` (a submodule name; "" is the whole
    network) starts from instead of its random initialisation (e.g. the video encoder's
    frame network from the image encoder); its digest is recorded, so the run stays
    reproducible bit for bit.
    """

    modality: str
    encoder_id: str
    synthesize: Callable[[int], SyntheticSample]
    preprocess: Callable[[Any, bool], torch.Tensor]
    build: Callable[[], nn.Module]
    weights_dir: Path  # where the shipped weights live
    config: PretrainConfig = field(default_factory=PretrainConfig)
    init: Path | None = None
    init_module: str = ""


@dataclass
class PretrainResult:
    encoder: nn.Module
    head: nn.Module
    losses: list[float]
    seconds: float


class CaptionBank:
    """Distinct captions in order of first appearance, with their frozen embeddings."""

    def __init__(self, embed: Embedder) -> None:
        self.embed = embed
        self.index: dict[str, int] = {}
        self.rows: list[torch.Tensor] = []

    def ids(self, captions: Sequence[str]) -> torch.Tensor:
        for caption in captions:
            if caption not in self.index:
                # alone, so the vector never depends on the batch it came with
                vector = torch.from_numpy(np.asarray(self.embed([caption]), np.float32)[0])
                self.index[caption] = len(self.rows)
                self.rows.append(nn.functional.normalize(vector, dim=0))
        return torch.tensor([self.index[c] for c in captions])

    def matrix(self) -> torch.Tensor:
        return torch.stack(self.rows)


class Head(nn.Module):
    """``[B, F, K, d]`` -> ``[B, TEXT_DIM]``: mean over the K tokens, frames concatenated,
    one linear map (linear, so what the loss needs stays linear in the features); with
    ``per_frame``, ``[B, F, TEXT_DIM]``: each frame mapped alone."""

    def __init__(self, frames: int, dim: int, temperature: float,
                 per_frame: bool = False) -> None:
        super().__init__()
        self.per_frame = per_frame
        self.proj = nn.Linear(dim if per_frame else frames * dim, TEXT_DIM)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1 / temperature)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        pooled = features.mean(2) if self.per_frame else features.mean(2).flatten(1)
        return nn.functional.normalize(self.proj(pooled), dim=-1)


def contrastive_loss(media: torch.Tensor, bank: torch.Tensor, ids: torch.Tensor,
                     scale: torch.Tensor) -> torch.Tensor:
    """Symmetric InfoNCE over distinct captions (see the module docstring).

    ``media [B, D]`` and ``bank [C, D]`` are L2-normalised; ``ids[b]`` is the bank row of item
    b's caption. Media -> caption: cross-entropy over all C rows. Caption -> media: for each
    distinct caption in the batch, cross-entropy over the B items with a uniform target on
    the items that carry it.
    """
    logits = scale * media @ bank.T  # [B, C]
    to_text = nn.functional.cross_entropy(logits, ids)
    present = ids.unique()  # sorted: deterministic
    targets = (ids[None, :] == present[:, None]).float()  # [P, B]
    targets = targets / targets.sum(1, keepdim=True)
    log_probs = logits[:, present].T.log_softmax(dim=1)  # [P, B]
    to_media = -(targets * log_probs).sum(1).mean()
    return (to_text + to_media) / 2


def batches(spec: PretrainSpec, steps: int, batch_size: int
            ) -> Iterator[tuple[torch.Tensor, list[str]]]:
    """Step s takes stream items ``s·B … s·B + B − 1``: fresh, fixed, in order."""
    for step in range(steps):
        samples = [spec.synthesize(pretrain_seed(step * batch_size + j))
                   for j in range(batch_size)]
        inputs = torch.stack([spec.preprocess(s.raw, False) for s in samples])  # [B, F, ...]
        yield inputs, [s.caption for s in samples]


def encode_unique(encoder: nn.Module, frames: torch.Tensor) -> torch.Tensor:
    """``encoder(frames)``, running each distinct frame once (e.g. the all-padding second
    audio window of every short clip): same result and gradients, less compute."""
    first: dict[bytes, int] = {}
    keep: list[int] = []
    where = []
    for i, frame in enumerate(frames):
        key = frame.numpy().tobytes()
        if key not in first:
            first[key] = len(keep)
            keep.append(i)
        where.append(first[key])
    if len(keep) == len(frames):
        return encoder(frames)
    return encoder(frames[torch.tensor(keep)])[torch.tensor(where)]


@contextmanager
def deterministic(threads: int) -> Iterator[None]:
    """Fixed thread count and deterministic kernels; restored afterwards."""
    old_threads, old_det = torch.get_num_threads(), torch.are_deterministic_algorithms_enabled()
    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.set_num_threads(old_threads)
        torch.use_deterministic_algorithms(old_det)


def _lr_factor(step: int, config: PretrainConfig) -> float:
    if step < config.warmup:
        return (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return 0.5 * (1 + math.cos(math.pi * progress))


def pretrain(spec: PretrainSpec, config: PretrainConfig | None = None,
             embed: Embedder | None = None,
             progress: Callable[[int, float], None] | None = None) -> PretrainResult:
    """Train ``spec.build()`` with the contrastive objective; returns encoder and head."""
    config = config or spec.config
    if embed is None:
        from xalign.datagen.embedding import load_minilm

        embed = load_minilm()
    start = time.perf_counter()
    with deterministic(config.threads), torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        encoder = spec.build()
        if spec.init is not None:
            load_weights(encoder.get_submodule(spec.init_module), spec.init)
        reads_clips = bool(getattr(encoder, "reads_clips", False))
        probe = spec.preprocess(spec.synthesize(pretrain_seed(0)).raw, False)
        frames = probe.shape[0]
        head = Head(frames, int(encoder.dim), config.temperature, per_frame=reads_clips)
        params = [*encoder.parameters(), *head.parameters()]
        optimiser = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
        schedule = torch.optim.lr_scheduler.LambdaLR(
            optimiser, lambda s: _lr_factor(s, config))
        bank = CaptionBank(embed)
        losses: list[float] = []
        encoder.train()
        for step, (inputs, captions) in enumerate(batches(spec, config.steps,
                                                          config.batch_size)):
            ids = bank.ids(captions)
            if reads_clips:
                features = encoder(inputs)  # [B, F, K, d]
            else:
                b, f = inputs.shape[:2]
                features = encode_unique(encoder, inputs.flatten(0, 1))  # [B·F, K, d]
                features = features.view(b, f, *features.shape[1:])
            media = head(features)  # [B, D], or [B, F, D] per frame
            scale = head.logit_scale.exp().clamp(max=100.0)
            rows = bank.matrix()  # once a step, not once per frame
            loss = torch.stack([contrastive_loss(m, rows, ids, scale)
                                for m in (media.unbind(1) if reads_clips else [media])]).mean()
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(params, config.grad_clip)
            optimiser.step()
            schedule.step()
            losses.append(float(loss.detach()))
            if progress:
                progress(step, losses[-1])
        encoder.eval()
    return PretrainResult(encoder, head, losses, time.perf_counter() - start)


def init_digest(spec: PretrainSpec) -> str | None:
    """SHA-256 of the weights ``spec`` starts from (None: a random start)."""
    if spec.init is None:
        return None
    return hashlib.sha256((Path(spec.init) / WEIGHTS_FILE).read_bytes()).hexdigest()


def _state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().contiguous().clone() for k, v in module.state_dict().items()}


def save_result(result: PretrainResult, spec: PretrainSpec, config: PretrainConfig,
                out: str | Path) -> Path:
    """Write ``model.safetensors`` (the encoder), ``head.safetensors``, ``config.json`` (the
    deterministic record) and ``log.json`` (losses, wall time) under ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    save_file(_state(result.encoder), str(out / WEIGHTS_FILE))
    save_file(_state(result.head), str(out / HEAD_FILE))
    digest = hashlib.sha256((out / WEIGHTS_FILE).read_bytes()).hexdigest()
    record = {
        "modality": spec.modality, "encoder_id": spec.encoder_id,
        "objective": "symmetric InfoNCE, media <-> distinct captions, frozen all-MiniLM-L6-v2",
        "data": {"first_seed": PRETRAIN_SEED_START,
                 "items": config.steps * config.batch_size,
                 "split": "pretrain stream: seeds >= 3 * MAX_SEED * MAX_ITEMS, never an "
                          "evaluation or training split"},
        "config": asdict(config), "sha256": digest,
        # the weights it started from, by content (their folder differs per install)
        "init_sha256": init_digest(spec),
        "torch": torch.__version__,
    }
    (out / CONFIG_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    log = {"seconds": round(result.seconds, 1), "losses": [round(x, 4) for x in result.losses]}
    (out / LOG_FILE).write_text(json.dumps(log) + "\n", encoding="utf-8")
    (out / CARD_FILE).write_text(model_card(spec, config, digest, result), encoding="utf-8")
    return out / WEIGHTS_FILE


def model_card(spec: PretrainSpec, config: PretrainConfig, digest: str,
               result: PretrainResult) -> str:
    """The model card written next to the weights (the shipped one adds probe accuracies)."""
    head = ("each frame's tokens are averaged and matched to the clip's caption alone (the "
            "loss is the mean over frames)" if getattr(result.encoder, "reads_clips", False)
            else "per frame the tokens are averaged, the frames concatenated")
    init = "" if spec.init is None else (
        f"\n- **Start**: `{spec.init_module or 'the network'}` from the weights with SHA-256 "
        f"`{init_digest(spec)}`, loaded before training.")
    last = result.losses[-min(20, len(result.losses)):]
    first = result.losses[0] if result.losses else float("nan")
    return f"""# {spec.encoder_id}

Tiny frozen {spec.modality} encoder of xalign's offline default, pretrained (not designed):
nothing in the network or its objective is computed for a named attribute.

- **Objective**: symmetric InfoNCE between the media and its caption, against the frozen
  all-MiniLM-L6-v2 text tower (384-d): {head}, and a linear head (trained, not shipped with
  the encoder) maps them to MiniLM space; negatives are every distinct caption seen so far,
  and items with the same caption share one target (`xalign/encoders/pretrain.py`).{init}
- **Data**: the synthetic world's own items and captions, items `k = 0 … {config.steps *
  config.batch_size - 1}` of the pretraining stream, generator seed
  `{PRETRAIN_SEED_START} + k`: above every seed of the train, val and test splits (and so of
  DisCRn, built from test seeds); `tests/test_encoder_pretrain.py` checks it.
- **Training**: {config.steps} steps × {config.batch_size} items, AdamW lr {config.lr}
  (warm-up {config.warmup} steps, cosine to 0), weight decay {config.weight_decay},
  initial temperature {config.temperature} (learned), gradient clip {config.grad_clip},
  seed {config.seed}, {config.threads} thread, deterministic algorithms; loss
  {first:.3f} at the first step, {sum(last) / max(1, len(last)):.3f} over the last
  {len(last)}; {result.seconds:.0f} s wall time on the machine that wrote it.
- **Reproduce**: `OMP_NUM_THREADS=1 xalign encoders pretrain --modality {spec.modality} --out DIR`
  (needs `pip install 'xalign[datagen]'`) writes `DIR/model.safetensors` with SHA-256
  `{digest}` bit for bit with the same torch ({torch.__version__}) on the same kind of CPU
  (float kernels differ across instruction sets).
"""


def with_overrides(config: PretrainConfig, **overrides: int | float | None) -> PretrainConfig:
    """``config`` with the non-None ``overrides`` applied."""
    return replace(config, **{k: v for k, v in overrides.items() if v is not None})
