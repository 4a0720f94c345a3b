"""Training recipes: one validated pydantic model, read from YAML (see ``recipe_io``).

A recipe says everything a run needs: the modality, the LLM, the frozen encoder, the
projector, the data, the optimiser and schedule (DESIGN §3 by default), the feature
cache, checkpoints and evaluation. Every section forbids unknown keys, so a misspelt
key fails before any training starts, with the closest valid key
(``unknown key 'lrr' in recipes/x.yaml at optim; did you mean 'lr'?``).

Variants are small: a recipe may name ``base: other.yaml`` and override a few fields.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, field_validator, model_validator

PositiveInt = Annotated[int, Field(gt=0)]
NonNegInt = Annotated[int, Field(ge=0)]


class StrictModel(BaseModel):
    """A recipe section: unknown keys are errors, assignments are validated."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoraSpec(StrictModel):
    """LoRA adapters on the LLM (``llm.tune: lora``), through ``peft``."""

    r: PositiveInt = 16
    alpha: PositiveInt = 32
    dropout: Annotated[float, Field(ge=0, lt=1)] = 0.05
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj"])


class LLMSpec(StrictModel):
    """The language model: ``smollm2`` (embedded default), a hub id or a local path."""

    source: str = "smollm2"
    gguf_file: str | None = None
    dtype: Literal["float32", "bfloat16", "float16"] | None = None  # None: the model's default
    tune: Literal["frozen", "lora", "full"] = "frozen"
    lr: Annotated[float, Field(gt=0)] | None = None  # peak lr of the LLM's weights; None: optim.lr
    lora: LoraSpec = Field(default_factory=LoraSpec)
    # the chat template's system turn ("": empty); None: the template's default. Recorded
    # in the projector so that inference composes prompts the same way.
    system_prompt: str | None = None


class EncoderSpec(StrictModel):
    """The frozen encoder; ``None``: the modality's default (the built-in tiny one)."""

    source: str | None = None


class ProjectorSpec(StrictModel):
    """The trainable projector (see :class:`xalign.projectors.ProjectorConfig`)."""

    kind: str = "qformer"
    preset: str = "tiny"
    num_tokens: PositiveInt | None = None  # None: the modality's default
    init_from: str | None = None  # a trained projector dir (video from image) or BLIP-2 weights
    init_skip_cross_attention: bool | None = None  # None: skip for foreign weights only
    match_params_of: Literal["qformer"] | None = None  # linear: match the Q-Former's size
    hidden_dim: PositiveInt | None = None  # mlp hidden width / linear bottleneck rank
    qformer_prompt: str | None = None  # fixed Q-Former prompt; None: the instruction
    # share of training examples whose Q-Former reads qformer_prompt instead of their
    # instruction; below 1 the projector stays instruction-aware (it reads the instruction
    # at inference) and also learns the generic summary DisCRn asks for
    qformer_prompt_share: Annotated[float, Field(ge=0, le=1)] = 1.0
    instruction_tokenizer: str = "llm"
    head: Literal["linear", "vocab", "normed"] = "linear"  # xalign.projectors.heads
    instruction_embeddings: Literal["learned", "llm"] = "learned"  # "llm": borrowed, frozen

    @model_validator(mode="after")
    def _share_needs_prompt(self) -> ProjectorSpec:
        if 0 < self.qformer_prompt_share < 1 and self.qformer_prompt is None:
            raise ValueError(
                f"projector.qformer_prompt_share={self.qformer_prompt_share} mixes in "
                "projector.qformer_prompt, which is unset: set it (e.g. 'a short "
                "description'), or projector.qformer_prompt_share=0 for the instruction only")
        return self

    @property
    def fixed_qformer_prompt(self) -> str | None:
        """The prompt the projector keeps as its own (always read, at inference too)."""
        return self.qformer_prompt if self.qformer_prompt_share == 1 else None

    @property
    def mixed_qformer_prompt(self) -> str | None:
        """The prompt mixed into a share of the training examples only (training data)."""
        return self.qformer_prompt if self.qformer_prompt_share < 1 else None


class SyntheticData(StrictModel):
    """Items of the offline synthetic world, generated on the fly (train split)."""

    kind: Literal["synthetic"] = "synthetic"
    size: PositiveInt = 1000
    tasks: list[str] = Field(default_factory=lambda: ["caption", "qa", "classify"])
    seed: NonNegInt | None = None  # None: the recipe's seed
    ratio: Annotated[float, Field(ge=0)] | None = None


class ManifestData(StrictModel):
    """A JSONL manifest (docs/data.md); relative media paths resolve against ``root``."""

    kind: Literal["manifest"]
    path: str
    root: str | None = None
    tasks: list[str] | None = None
    ratio: Annotated[float, Field(ge=0)] | None = None


class HFData(StrictModel):
    """A Hugging Face ``datasets`` data set (needs ``pip install datasets``)."""

    kind: Literal["hf"]
    name: str
    split: str = "train"
    media_columns: dict[str, str]
    answer_column: str
    instruction_column: str | None = None
    instruction: str | None = None
    id_column: str | None = None
    task: str = ""
    root: str | None = None
    ratio: Annotated[float, Field(ge=0)] | None = None


DataSource = Annotated[SyntheticData | ManifestData | HFData, Field(discriminator="kind")]


class DataSpec(StrictModel):
    """Training sources, mixed with sqrt(size) probabilities unless every source sets ``ratio``."""

    sources: list[DataSource] = Field(default_factory=lambda: [SyntheticData()], min_length=1)
    size: PositiveInt | None = None  # items per epoch of the mixture; None: the sum of sizes
    # share of training examples with a general sentence before the input or before the
    # instruction (xalign.data.templates.CONTEXT); measured to compose worse, so 0
    context_share: Annotated[float, Field(ge=0, le=1)] = 0.0

    @model_validator(mode="after")
    def _ratios_all_or_none(self) -> DataSpec:
        given = [s.ratio is not None for s in self.sources]
        if any(given) and not all(given):
            raise ValueError("set 'ratio' on every source or on none (none: sqrt(size) mixing)")
        return self


class OptimSpec(StrictModel):
    """AdamW and the warm-up + cosine schedule of DESIGN §3.

    Warm-up rule: ``min(warmup_steps, ceil(max_warmup_fraction * max_steps))`` steps, so a
    tiny run of 300 steps warms up over 30 steps while the paper's 65k keeps its 1,000.
    """

    lr: Annotated[float, Field(gt=0)] = 1e-5
    betas: tuple[Annotated[float, Field(ge=0, lt=1)], Annotated[float, Field(ge=0, lt=1)]] = (
        0.9, 0.999)
    eps: Annotated[float, Field(gt=0)] = 1e-8
    weight_decay: Annotated[float, Field(ge=0)] = 0.05
    warmup_steps: NonNegInt = 1000
    warmup_start_lr: Annotated[float, Field(ge=0)] = 1e-8
    min_lr: Annotated[float, Field(ge=0)] = 0.0
    max_warmup_fraction: Annotated[float, Field(ge=0, le=1)] = 0.1


class ScheduleSpec(StrictModel):
    """How long and how big: ``max_steps`` (optimiser steps) or ``epochs``; batch per process."""

    max_steps: PositiveInt | None = None
    epochs: Annotated[float, Field(gt=0)] | None = None
    batch_size: PositiveInt = 8
    grad_accum: PositiveInt = 1
    clip_grad_norm: Annotated[float, Field(gt=0)] | None = 1.0
    log_every: PositiveInt = 10

    @model_validator(mode="after")
    def _length(self) -> ScheduleSpec:
        if (self.max_steps is None) == (self.epochs is None):
            raise ValueError("set exactly one of 'max_steps' and 'epochs'")
        return self

    def total_steps(self, dataset_size: int, world_size: int = 1) -> int:
        """Optimiser steps of the run (``epochs`` converted with the global batch)."""
        if self.max_steps is not None:
            return self.max_steps
        per_step = self.batch_size * self.grad_accum * world_size
        return max(1, math.ceil(float(self.epochs) * dataset_size / per_step))


class CacheSpec(StrictModel):
    """Frozen-feature cache (docs/data.md): later epochs and runs skip the encoder."""

    enabled: bool = True
    dir: str | None = None  # None: the user cache dir
    train_views: NonNegInt = 1  # augmented views cached per item; 0: train features uncached


class CheckpointSpec(StrictModel):
    """Atomic checkpoints every ``every`` steps; 0 = at the end only; keeps ``keep_last``."""

    every: NonNegInt = 500
    keep_last: PositiveInt = 2


class EvalSpec(StrictModel):
    """Closed-vocabulary ranking accuracy on synthetic val (during) and test (at the end)."""

    every: NonNegInt = 0  # 0: validate only at the end
    val_size: NonNegInt = 64
    test_size: NonNegInt = 0  # held-out test items ranked at the end (0: skip)
    tasks: list[str] = Field(default_factory=lambda: ["classify"])
    # the headline accuracy counts the attributes whose vocabulary makes chance <= max_chance;
    # the others are asked too and reported apart with their own chance (None: tasks, all)
    max_chance: Annotated[float, Field(gt=0, le=1)] | None = None


class LossSpec(StrictModel):
    """Objectives beside the answer NLL."""

    # weight of the caption teacher (xalign/train/teacher.py): the LLM's hidden states after
    # the projected tokens are pulled towards its hidden states after the item's caption
    caption_teacher: Annotated[float, Field(ge=0)] = 0.0


class Recipe(StrictModel):
    """A whole training run."""

    name: str = ""
    description: str = ""
    modality: str
    llm: LLMSpec = Field(default_factory=LLMSpec)
    encoder: EncoderSpec = Field(default_factory=EncoderSpec)
    projector: ProjectorSpec = Field(default_factory=ProjectorSpec)
    data: DataSpec = Field(default_factory=DataSpec)
    optim: OptimSpec = Field(default_factory=OptimSpec)
    schedule: ScheduleSpec = Field(default_factory=lambda: ScheduleSpec(max_steps=1000))
    cache: CacheSpec = Field(default_factory=CacheSpec)
    checkpoint: CheckpointSpec = Field(default_factory=CheckpointSpec)
    eval: EvalSpec = Field(default_factory=EvalSpec)
    loss: LossSpec = Field(default_factory=LossSpec)
    use_cue: bool = True
    seed: NonNegInt = 0
    max_bad_fraction: Annotated[float, Field(ge=0, le=1)] = 0.01
    # auto: bf16 only where it is fast (xalign/train/precision.py); no = fp32; fp16: GPU only
    mixed_precision: Literal["auto", "no", "bf16", "fp16"] = "auto"
    # experiment trackers through accelerate (xalign/train/trackers.py); `log_with`: old name
    report_to: list[Literal["tensorboard", "trackio", "wandb", "mlflow", "comet_ml", "aim",
                            "clearml", "dvclive", "swanlab"]] = Field(
        default_factory=list, validation_alias=AliasChoices("report_to", "log_with"))
    output_dir: str | None = None  # None: runs/<modality>-<timestamp>

    @field_validator("mixed_precision", mode="before")
    @classmethod
    def _fp32_spellings(cls, value: object) -> object:
        # YAML 1.1 reads a bare `no` (file or `mixed_precision=no` override) as False
        if value is False or (isinstance(value, str) and value.lower() in ("no", "fp32",
                                                                            "float32")):
            return "no"
        return value

    @field_validator("report_to", mode="before")
    @classmethod
    def _one_tracker(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value  # report_to: tensorboard
