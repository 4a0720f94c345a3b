"""Which precision a run computes in, and why: ``mixed_precision: auto`` never makes a step slower.

bf16 autocast on a CPU without native bf16 instructions is emulated and measured ~17x
slower than fp32 (issue 14), so ``auto`` takes bf16 on CPU only where the CPU flags show
AVX512-BF16 or AMX-BF16, and fp32 elsewhere (or where the flags cannot be read, or where
``ONEDNN_MAX_CPU_ISA`` caps oneDNN, which does torch's bf16 matrix products on a CPU, below
its bf16 kernels: how a newer CPU reproduces an AVX2-only one). On a
GPU, ``auto`` takes bf16 where ``torch.cuda.is_bf16_supported()`` says so, fp16 otherwise.
An explicit ``bf16`` / ``fp16`` / ``no`` in a recipe is honoured as written (fp16 has no
CPU autocast path here, so on CPU it runs fp32 and says so).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Literal

Mode = Literal["no", "bf16", "fp16"]

# x86 flags (Linux /proc/cpuinfo spelling) that give bf16 matrix products in hardware.
NATIVE_BF16_FLAGS = ("avx512_bf16", "amx_bf16")
# The flags a CPU timing is read beside (vector width, native bf16): benchmarks print them.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_bf16", "amx_bf16")
# ONEDNN_MAX_CPU_ISA values (prefixes) that leave oneDNN its bf16 kernels
BF16_ISAS = ("AVX512_CORE_BF16", "AVX512_CORE_FP16", "AVX512_CORE_AMX", "AVX10", "ALL",
             "DEFAULT")


@dataclass(frozen=True)
class PrecisionChoice:
    """The resolved precision: ``mode`` (``no`` = fp32), on ``device``, and ``reason``."""

    mode: Mode
    device: Literal["cpu", "cuda"]
    requested: str
    reason: str

    @property
    def autocast_cpu_bf16(self) -> bool:
        """Whether the CPU step runs under bf16 autocast."""
        return self.device == "cpu" and self.mode == "bf16"

    @property
    def label(self) -> str:
        return "fp32" if self.mode == "no" else self.mode

    def describe(self) -> str:
        return f"precision: {self.label} on {self.device} ({self.reason})"


@cache
def cpu_flags() -> frozenset[str] | None:
    """The CPU's feature flags (Linux ``/proc/cpuinfo``), lower case; ``None`` elsewhere or
    when unreadable, which :func:`choose_precision` treats as "no native bf16" (fp32 is
    never the slow choice)."""
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):  # x86 / arm64 spelling
            return frozenset(value.lower().split())
    return None


def speed_flags() -> list[str]:
    """The :data:`SPEED_FLAGS` this CPU has, sorted (empty where the flags cannot be read)."""
    return sorted((cpu_flags() or frozenset()) & set(SPEED_FLAGS))


def onednn_cap_without_bf16() -> str | None:
    """``ONEDNN_MAX_CPU_ISA`` when it keeps oneDNN below its bf16 kernels (e.g. ``AVX2``:
    bf16 is then emulated even on a CPU that has it), else ``None``."""
    cap = (os.environ.get("ONEDNN_MAX_CPU_ISA") or os.environ.get("DNNL_MAX_CPU_ISA") or "")
    cap = cap.strip().upper()
    return cap if cap and not cap.startswith(BF16_ISAS) else None


def native_bf16_flags(flags: frozenset[str] | None) -> list[str]:
    """The native-bf16 flags among ``flags`` (empty when none, or when flags are unknown)."""
    return [f for f in NATIVE_BF16_FLAGS if flags and f in flags]


def choose_precision(requested: str = "auto", *, cuda: bool | None = None,
                     cuda_bf16: bool | None = None,
                     flags: frozenset[str] | Literal["detect"] | None = "detect"
                     ) -> PrecisionChoice:
    """Resolve a recipe's ``mixed_precision`` for this machine.

    ``cuda``, ``cuda_bf16`` and ``flags`` default to what this machine reports; tests pass
    them to exercise every branch.
    """
    import torch

    if cuda is None:
        cuda = torch.cuda.is_available()
    device: Literal["cpu", "cuda"] = "cuda" if cuda else "cpu"
    if requested not in ("auto", "no", "bf16", "fp16"):
        raise ValueError(f"mixed_precision must be auto, no, bf16 or fp16, got {requested!r}")
    if cuda:
        if cuda_bf16 is None:
            cuda_bf16 = bool(torch.cuda.is_bf16_supported())
        if requested == "auto":
            if cuda_bf16:
                return PrecisionChoice("bf16", device, requested,
                                       "auto: this GPU supports bf16")
            return PrecisionChoice("fp16", device, requested,
                                   "auto: this GPU has no bf16 support, fp16 instead")
        label = "fp32" if requested == "no" else requested
        return PrecisionChoice(requested, device, requested, f"{label} as the recipe asks")  # type: ignore[arg-type]

    found = cpu_flags() if flags == "detect" else flags
    native = native_bf16_flags(found)
    cap = onednn_cap_without_bf16() if flags == "detect" else None
    if requested == "auto":
        if native and not cap:
            return PrecisionChoice("bf16", device, requested,
                                   f"auto: the CPU has native bf16 ({', '.join(native)})")
        why = ("the CPU flags could not be read" if found is None else
               f"ONEDNN_MAX_CPU_ISA={cap} keeps oneDNN from the CPU's native bf16 "
               f"({', '.join(native)}), where bf16 autocast is many times slower than fp32"
               if native else
               "the CPU has no native bf16 (no avx512_bf16/amx_bf16 flag), where bf16 "
               "autocast is many times slower than fp32")
        return PrecisionChoice("no", device, requested, f"auto: {why}")
    if requested == "fp16":
        return PrecisionChoice("no", device, requested,
                               "fp16 is GPU only; this CPU run computes in fp32")
    if requested == "bf16" and not native:
        return PrecisionChoice("bf16", device, requested,
                               "bf16 as the recipe asks, although the CPU has no native bf16 "
                               "(expect slow steps; mixed_precision=auto picks fp32 here)")
    label = "fp32" if requested == "no" else requested
    return PrecisionChoice(requested, device, requested, f"{label} as the recipe asks")  # type: ignore[arg-type]


def cpu_autocast(precision: PrecisionChoice) -> contextlib.AbstractContextManager[Any]:
    """bf16 autocast for a CPU run whose resolved precision is bf16 (half the tiny recipe's
    step on CPUs with AVX512-BF16 or AMX; deterministic, so resume stays bitwise); a no-op
    otherwise (GPU precision is accelerate's)."""
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16, enabled=precision.autocast_cpu_bf16)
