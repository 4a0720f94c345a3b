"""The training loop, on ``accelerate``: one code path for 1 process, DDP, FSDP or DeepSpeed.

Only the trainable parts (the projectors; the LLM's LoRA adapters or weights when a
recipe tunes it) go through ``Accelerator.prepare``: DDP then synchronises just those,
and the frozen LLM is never broadcast between processes. The step is plain PyTorch:
micro-batches with gradient accumulation, gradient clipping, AdamW, the schedule of
DESIGN §3. See docs/training.md for checkpoints, resume, bad data and NaN handling.
"""

from __future__ import annotations

import contextlib
import shlex
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from xalign.train.batches import BatchPlan, SkipLog, fetch, item_id
from xalign.train.checkpoint import (
    find_checkpoint,
    load_checkpoint,
    load_optimizer,
    save_checkpoint,
)
from xalign.train.evaluate import RankingResult, ranking_accuracy
from xalign.train.interrupt import StopSignals, TrainingInterrupted, signal_name
from xalign.train.launch import (
    launch_warning,
    make_accelerator,
    reduce_scalar,
    seed_everything,
)
from xalign.train.precision import choose_precision, cpu_autocast
from xalign.train.progress import ProgressSet, RunProgress, StageClock
from xalign.train.recipe import Recipe
from xalign.train.schedule import WarmupCosine
from xalign.train.trainable import (  # TrainError is raised by the loop too, and imported from here
    TrainError,
    TrainModule,
    check_captions,
    check_trainable,
    param_groups,
    replica_digests,
)


@dataclass
class RunResult:
    """What a finished run reports (also written to ``summary.json``)."""

    run_dir: Path
    steps: int
    final_loss: float
    seconds: float  # wall time from start (recipe in hand) to finish, set-up included
    skipped: int = 0
    val: dict[str, Any] | None = None
    test: dict[str, Any] | None = None
    best_step: int | None = None
    samples_per_s: float = 0.0
    is_main: bool = True  # False on the other processes of a distributed run
    extra: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Trains ``model``'s projector on ``train_set`` as ``recipe`` says, writing ``run_dir``."""

    def __init__(self, recipe: Recipe, model: Any, train_set: Any, run_dir: Path, *,
                 val_set: Any = None, test_set: Any = None, accelerator: Any = None,
                 console: Any = None, show_progress: bool = True,
                 started: float | None = None, progress_plain: bool | None = None,
                 on_step: Callable[[int], None] | None = None) -> None:
        from xalign.train.artifacts import RunFiles

        # ``started``: perf_counter() when the run began (before the LLM loaded), so that
        # the wall time and the set-up stage cover everything
        self.clock = StageClock(started)
        self.recipe, self.model, self.train_set = recipe, model, train_set
        self.val_set, self.test_set = val_set, test_set
        self.precision = choose_precision(recipe.mixed_precision)
        self.acc = accelerator if accelerator is not None \
            else make_accelerator(recipe, run_dir, self.precision)
        warning = launch_warning()
        if warning and console is not None:
            console.print(f"[yellow]warning:[/] {warning}")
        self.files = RunFiles(Path(run_dir), recipe, self.acc)
        self.console, self.show_progress = console, show_progress
        self.progress = RunProgress(console, enabled=show_progress and self.acc.is_main_process,
                                    plain=progress_plain)
        self.stop = StopSignals()
        self.on_step = on_step  # called after every step with its number (side_by_side.py)
        self.resumed_at: int | None = None
        self.tune_llm = recipe.llm.tune != "frozen"
        if recipe.loss.caption_teacher:
            check_captions(train_set)
        self.module = TrainModule(model, self.tune_llm, recipe.loss.caption_teacher)
        self.trainable = check_trainable(model, self.module, self.tune_llm)
        rank = self.acc.process_index
        self.skips = SkipLog(self.files.skip_path(rank))
        sched = recipe.schedule
        self.world = self.acc.num_processes
        self.plan = BatchPlan(len(train_set), sched.batch_size, self.world, rank, recipe.seed)
        self.total = sched.total_steps(len(train_set), self.world)
        self.step, self.best_acc, self.best_step = 0, -1.0, None
        self.window: dict[str, float] = {"loss": 0.0, "n": 0.0, "samples": 0.0, "seconds": 0.0}
        self._say(self.precision.describe())

    # -- set-up ----------------------------------------------------------------------------
    def _prepare(self, resume: Path | None) -> None:
        acc, recipe = self.acc, self.recipe
        self.model.llm.model.to(acc.device)
        for encoder in getattr(self.train_set, "encoders", {}).values():
            encoder.to(acc.device)
        self.module.to(acc.device)
        if hasattr(self.model, "train"):
            self.model.train()  # projectors train; the LLM only when something in it trains
        self.optimizer = torch.optim.AdamW(
            param_groups(self.module, recipe), lr=recipe.optim.lr, betas=recipe.optim.betas,
            eps=recipe.optim.eps, weight_decay=recipe.optim.weight_decay)
        self.scheduler = WarmupCosine(self.optimizer, self.total, recipe.optim.warmup_steps,
                                      recipe.optim.warmup_start_lr, recipe.optim.min_lr,
                                      recipe.optim.max_warmup_fraction)
        folder = find_checkpoint(resume) if resume is not None else None
        if folder is not None:
            self._restore(folder)
        else:
            seed_everything(recipe.seed + 7919 * acc.process_index)
            self.files.start()
        plugin = getattr(acc.state, "deepspeed_plugin", None)
        if plugin is not None and plugin.is_auto("train_micro_batch_size_per_gpu"):
            # no dataloader goes through prepare, so DeepSpeed learns the batch size here
            plugin.deepspeed_config["train_micro_batch_size_per_gpu"] = recipe.schedule.batch_size
        self.wrapped, self.opt = acc.prepare(self.module, self.optimizer)
        if folder is not None:  # after prepare: a sharded optimiser (FSDP, ZeRO) loads its part
            load_optimizer(folder, self.optimizer, acc)

    def _restore(self, folder: Path) -> None:
        state, rng_ok = load_checkpoint(folder, self.module, rank=self.acc.process_index)
        if state.get("world_size", 1) != self.world or not rng_ok:
            self._say(f"[yellow]warning:[/] {folder} was written by {state.get('world_size')} "
                      f"process(es), this run has {self.world}: the data order continues but "
                      "random streams are reseeded, so losses will not match bit for bit")
            seed_everything(self.recipe.seed + 7919 * self.acc.process_index + state["step"])
        self.step = int(state["step"])
        self.plan.load_state_dict(state["data"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.best_acc = float(state.get("best_accuracy", -1.0))
        self.best_step = state.get("best_step")
        self.window = dict(state.get("window", self.window))
        skips = state.get("skips", [])
        rank = self.acc.process_index
        self.skips.load_state_dict(skips[rank] if rank < len(skips) else [])
        self.files.resume(self.step)
        self.resumed_at = self.step
        self._say(f"resumed from {folder} at step {self.step}")

    # -- the loop --------------------------------------------------------------------------
    def fit(self, resume: Path | None = None) -> RunResult:
        """Train to the end (or continue from ``resume``) and write every artifact.

        SIGINT / SIGTERM stop it at the next step with a checkpoint and the resume
        command (:class:`~xalign.train.interrupt.TrainingInterrupted`, exit 130 / 143).
        """
        self.clock.add("set-up", time.perf_counter() - self.clock.started)
        with self.stop, self.progress:
            try:
                with self.clock.stage("set-up"):
                    self._prepare(resume)
                with self.clock.stage("featurise"):
                    self._featurise()
                with self.clock.stage("train"):
                    self._train_loop()
                return self._finish()
            except TrainingInterrupted:
                raise
            except KeyboardInterrupt:  # a second Ctrl-C: no checkpoint, but say what is there
                self._say_resume(signal_name(2), self.files.latest_checkpoint())
                raise

    def _train_loop(self) -> None:
        ckpt = self.recipe.checkpoint
        self.progress.start("training", self.total, self.step)
        while self.step < self.total:
            tick = time.perf_counter()
            loss, samples = self._train_step()
            self.step += 1
            self._record(loss, samples, time.perf_counter() - tick)
            if self.on_step is not None:
                self.on_step(self.step)
            signum = self._agreed_stop()
            if signum:
                self._interrupt(signum, collective=True)
            if ckpt.every and self.step % ckpt.every == 0 and self.step < self.total:
                self.save()
            if self.recipe.eval.every and self.step % self.recipe.eval.every == 0 \
                    and self.step < self.total:
                self.validate()
                self.progress.start("training", self.total, self.step)
        self.progress.finish()
        if self.step > 0 and not self.files.has_checkpoint(self.step):
            self.save()

    def _featurise(self) -> None:
        """Compute (or find cached) every training item's features before the first step.

        Only with the feature cache: the steps then read them back bit for bit, so this
        moves the encoder's time out of the first epoch into a stage of its own, with
        progress. A bad file is left for the step that meets it to record as skipped.
        """
        from xalign.errors import MediaError

        data = self.train_set
        cache = getattr(data, "cache", None)
        if cache is None or cache.train_views == 0 or not hasattr(data, "set_epoch"):
            return
        data.set_epoch(0)
        mine = range(self.acc.process_index, len(data), self.world)  # a shard per process
        self.progress.start("featurising", len(mine))
        for done, index in enumerate(mine, 1):
            self._local_stop()
            with contextlib.suppress(MediaError):
                data[index]
            self.progress.update(done)
        self.progress.finish()
        self.acc.wait_for_everyone()

    # -- stopping on a signal --------------------------------------------------------------
    def _agreed_stop(self) -> int:
        """The signal to stop on, the same on every process (0: go on)."""
        return int(reduce_scalar(self.acc, self.stop.requested or 0, "max"))

    def _local_stop(self) -> None:
        """Outside the step loop (featurising, evaluating): stop as soon as asked."""
        if self.stop.requested:
            self._interrupt(self.stop.requested, collective=self.world == 1)

    def _interrupt(self, signum: int, collective: bool) -> None:
        """Checkpoint (when every process can join in), say how to resume, and exit."""
        self.progress.finish()
        checkpoint = self.files.latest_checkpoint()
        if collective and hasattr(self, "opt") and not self.files.has_checkpoint(self.step):
            checkpoint = self.save()
        self.files.close_trackers()
        command = self._say_resume(signal_name(signum), checkpoint)
        raise TrainingInterrupted(signum, checkpoint, command)

    def _say_resume(self, name: str, checkpoint: Path | None) -> str | None:
        command = None
        if checkpoint is not None:
            command = f"xalign train --resume {shlex.quote(str(self.files.run_dir))}"
            self._say(f"interrupted by {name} at step {self.step}/{self.total}; checkpoint: "
                      f"{checkpoint}\nresume with: {command}", markup=False)
        else:
            self._say(f"interrupted by {name} before any checkpoint was written; nothing to "
                      "resume (cached features are kept): run the same command again",
                      markup=False)
        return command

    def _train_step(self) -> tuple[float, int]:
        accum = self.recipe.schedule.grad_accum
        losses, samples = [], 0
        for micro in range(accum):
            epoch, indices = self.plan.next()
            if hasattr(self.train_set, "set_epoch"):
                self.train_set.set_epoch(epoch)
            batch = fetch(self.train_set, indices, self.skips)
            self._check_bad_data()
            last = micro == accum - 1
            sync = contextlib.nullcontext() if last or self.world == 1 \
                else self.acc.no_sync(self.wrapped)
            with sync:
                with cpu_autocast(self.precision):
                    loss = self.wrapped(batch.examples)
                self._check_finite(loss, batch.indices)
                self.acc.backward(loss / accum)
            losses.append(loss.detach().float())
            samples += len(batch.examples)
            for name, value in self.module.parts.items():
                self.window[name] = self.window.get(name, 0.0) + value / accum
        clip = self.recipe.schedule.clip_grad_norm
        if clip is not None:
            self.acc.clip_grad_norm_([p for p in self.module.parameters() if p.requires_grad],
                                     clip)
        self.opt.step()
        self.scheduler.step()
        self.opt.zero_grad(set_to_none=True)
        mean = reduce_scalar(self.acc, float(torch.stack(losses).mean()), "mean")
        return mean, int(reduce_scalar(self.acc, samples, "sum"))

    def _check_bad_data(self) -> None:
        count = int(reduce_scalar(self.acc, self.skips.count, "sum"))
        allowed = self.recipe.max_bad_fraction * len(self.train_set)
        if count > allowed:
            self.files.merge_skips()
            first = self.skips.report.skips[0] if self.skips.report.skips else None
            detail = f"; first: {first.path}: {first.reason}" if first else ""
            raise TrainError(
                f"{count} training items have unreadable media, more than max_bad_fraction="
                f"{self.recipe.max_bad_fraction:g} of the {len(self.train_set)} items; see "
                f"{self.files.run_dir / 'skipped.jsonl'}{detail}")

    def _check_finite(self, loss: torch.Tensor, indices: list[int]) -> None:
        finite = bool(torch.isfinite(loss.detach()).all())
        if reduce_scalar(self.acc, 0.0 if finite else 1.0, "sum") == 0:
            return
        ids = [item_id(self.train_set, i) for i in indices[:8]]
        last = self.files.latest_checkpoint()
        keep = f"the last good checkpoint is {last}" if last else "no checkpoint was written yet"
        value = float(loss.detach())
        raise TrainError(f"non-finite loss ({value}) at step {self.step + 1} on batch "
                         f"{ids}{' …' if len(indices) > 8 else ''}; training stopped and {keep} "
                         "(lower optim.lr or check these items, then --resume)")

    # -- bookkeeping -----------------------------------------------------------------------
    def _record(self, loss: float, samples: int, seconds: float) -> None:
        w = self.window
        w["loss"] += loss
        w["n"] += 1
        w["samples"] += samples
        w["seconds"] += seconds
        mean, sps = w["loss"] / w["n"], w["samples"] / max(w["seconds"], 1e-9)
        lr = self.scheduler.lr_for(self.optimizer.param_groups[0]["peak_lr"], self.step - 1)
        self.progress.update(self.step, loss=mean, lr=lr, sps=sps)  # the window so far
        every = self.recipe.schedule.log_every
        if self.step % every and self.step != self.total:
            return
        record = {"step": self.step, "loss": mean, "lr": lr, "samples_per_s": sps,
                  "epoch": self.plan.cursor.epoch, "skipped": self.skips.count}
        record.update({name: w.get(name, 0.0) / w["n"] for name in self.module.parts})
        self.files.log(record)
        self.last_loss, self.last_sps = mean, sps
        self.window = {"loss": 0.0, "n": 0.0, "samples": 0.0, "seconds": 0.0}

    def save(self) -> Path:
        from accelerate.utils import gather_object

        skips = gather_object([self.skips.state_dict()]) if self.world > 1 \
            else [self.skips.state_dict()]
        state = {"data": self.plan.cursor.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "best_accuracy": self.best_acc, "best_step": self.best_step,
                 "window": self.window, "skips": skips, "world_size": self.world,
                 "recipe": self.recipe.name}
        return save_checkpoint(self.files.run_dir, self.step, self.module, self.optimizer, state,
                               self.acc, keep_last=self.recipe.checkpoint.keep_last,
                               wrapped=self.wrapped)

    def validate(self) -> RankingResult | None:
        """Ranking accuracy on the val split (main process); keeps the best projector."""
        result = None
        if self.val_set is not None and self.acc.is_main_process:
            result = self._evaluate("val", self.val_set)
            self.files.log({"step": self.step, **result.as_dict("val_")})
            if result.accuracy > self.best_acc:
                self.best_acc, self.best_step = result.accuracy, self.step
                self.files.save_best(self.model.projectors[self.recipe.modality], self.step,
                                     result)
        self.acc.wait_for_everyone()
        return result

    def _evaluate(self, split: str, dataset: Any) -> RankingResult:
        """Ranking accuracy on ``dataset``, with progress, timed as the evaluate stage."""
        with self.clock.stage("evaluate"):
            self.progress.start(f"evaluating {split}", len(dataset))
            result = ranking_accuracy(self.model,
                                      ProgressSet(dataset, self.progress, self._local_stop))
            self.progress.finish()
        self.progress.message(f"step {self.step}: {split} accuracy {result.accuracy:.1%} "
                              f"(chance {result.chance:.1%}, {result.n} items)")
        return result

    def _finish(self) -> RunResult:
        val = self.validate() if self.val_set is not None else None
        test = None
        if self.test_set is not None and self.acc.is_main_process:
            test = self._evaluate("test", self.test_set)
            self.files.log({"step": self.step, **test.as_dict("test_")})
        stages = {k: round(v, 2) for k, v in self.clock.seconds.items()}
        result = RunResult(
            run_dir=self.files.run_dir, steps=self.step, seconds=self.clock.total(),
            final_loss=getattr(self, "last_loss", float("nan")),
            skipped=self.skips.count, val=val.as_dict() if val else None,
            test=test.as_dict() if test else None, best_step=self.best_step,
            samples_per_s=getattr(self, "last_sps", 0.0), is_main=self.acc.is_main_process,
            extra={"trainable_parameters": self.trainable, "world_size": self.world,
                   "replica_digests": replica_digests(self.module, self.acc),
                   "warmup": self.scheduler.warmup,
                   "precision": self.precision.label,
                   "precision_reason": self.precision.reason,
                   "stage_seconds": stages, "resumed_at_step": self.resumed_at,
                   "num_tokens": self.model.projectors[self.recipe.modality].config.num_tokens})
        self.files.finish(self.model.projectors[self.recipe.modality], result,
                          self.model.llm if self.tune_llm else None)
        self.acc.wait_for_everyone()
        return result

    def _say(self, message: str, markup: bool = True) -> None:
        if self.acc.is_main_process and self.console is not None:
            self.console.print(message, markup=markup, highlight=markup, soft_wrap=True)
