"""``mixed_precision: auto``: bf16 only where it is fast; ``no`` accepted however it is spelt."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from xalign.train import precision
from xalign.train.defaults import tiny_recipe
from xalign.train.precision import choose_precision, cpu_autocast
from xalign.train.recipe_io import RecipeError, load_recipe, recipe_from_dict

AVX2_ONLY = frozenset(["fpu", "sse", "sse2", "avx", "avx2", "fma", "bmi2"])
SAPPHIRE = AVX2_ONLY | {"avx512f", "avx512bw", "avx512_bf16", "amx_bf16", "amx_tile"}


def test_cpu_without_native_bf16_gets_fp32():
    choice = choose_precision("auto", cuda=False, flags=AVX2_ONLY | {"avx512f"})
    assert choice.mode == "no" and choice.label == "fp32" and not choice.autocast_cpu_bf16
    assert "no native bf16" in choice.reason


@pytest.mark.parametrize("flag", ["avx512_bf16", "amx_bf16"])
def test_cpu_with_native_bf16_gets_bf16(flag):
    choice = choose_precision("auto", cuda=False, flags=AVX2_ONLY | {flag})
    assert choice.mode == "bf16" and choice.autocast_cpu_bf16
    assert flag in choice.reason


def test_unreadable_cpu_flags_fall_back_to_fp32():
    choice = choose_precision("auto", cuda=False, flags=None)
    assert choice.mode == "no" and "could not be read" in choice.reason


def test_detection_reads_the_cpu_flags(monkeypatch):
    for cap in ("ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA"):  # a cap in the caller's shell
        monkeypatch.delenv(cap, raising=False)               # would turn bf16 off (below)
    monkeypatch.setattr(precision, "cpu_flags", lambda: AVX2_ONLY)
    assert choose_precision("auto", cuda=False).mode == "no"
    monkeypatch.setattr(precision, "cpu_flags", lambda: SAPPHIRE)
    assert choose_precision("auto", cuda=False).mode == "bf16"


@pytest.mark.parametrize(("cap", "mode"), [("AVX2", "no"), ("avx512_core", "no"),
                                         ("AVX512_CORE_AMX", "bf16"), ("", "bf16")])
def test_a_onednn_isa_cap_below_bf16_gets_fp32(monkeypatch, cap, mode):
    """ONEDNN_MAX_CPU_ISA=AVX2 on a bf16 CPU emulates bf16 (how an AVX2-only CPU is
    reproduced on a newer one): auto must then take fp32 and say why."""
    monkeypatch.setattr(precision, "cpu_flags", lambda: SAPPHIRE)
    monkeypatch.setenv("ONEDNN_MAX_CPU_ISA", cap)
    choice = choose_precision("auto", cuda=False)
    assert choice.mode == mode
    if mode == "no":
        assert f"ONEDNN_MAX_CPU_ISA={cap.upper()}" in choice.reason


def test_cpu_flags_parse_this_machine():
    flags = precision.cpu_flags()
    if not Path("/proc/cpuinfo").is_file():
        assert flags is None
        return
    assert flags is None or "fpu" in flags or "fp" in flags  # x86 / arm64 always list these


@pytest.mark.parametrize(("bf16_ok", "mode"), [(True, "bf16"), (False, "fp16")])
def test_gpu_auto(monkeypatch, bf16_ok, mode):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: bf16_ok)
    choice = choose_precision("auto")
    assert (choice.device, choice.mode) == ("cuda", mode)
    assert not choice.autocast_cpu_bf16  # GPU precision is accelerate's


def test_explicit_requests_are_honoured():
    assert choose_precision("no", cuda=False, flags=SAPPHIRE).mode == "no"
    assert choose_precision("no", cuda=True, cuda_bf16=True).mode == "no"
    slow = choose_precision("bf16", cuda=False, flags=AVX2_ONLY)
    assert slow.mode == "bf16" and "slow" in slow.reason
    assert choose_precision("fp16", cuda=False, flags=SAPPHIRE).mode == "no"  # GPU only
    assert choose_precision("fp16", cuda=True, cuda_bf16=True).mode == "fp16"


def test_cpu_autocast_follows_the_choice():
    x = torch.ones(4, 4)
    with cpu_autocast(choose_precision("auto", cuda=False, flags=SAPPHIRE)):
        assert (x @ x).dtype == torch.bfloat16
    with cpu_autocast(choose_precision("auto", cuda=False, flags=AVX2_ONLY)):
        assert (x @ x).dtype == torch.float32


def test_default_is_auto():
    assert tiny_recipe("audio").mixed_precision == "auto"
    assert recipe_from_dict({"modality": "audio"}).mixed_precision == "auto"


@pytest.mark.parametrize("spelling", ["no", "'no'", "fp32", "false", "No"])
def test_no_works_on_the_command_line(spelling):
    recipe = tiny_recipe("audio", [f"mixed_precision={spelling}"])
    assert recipe.mixed_precision == "no"


def test_no_works_in_yaml(tmp_path):
    path = tmp_path / "r.yaml"
    path.write_text("modality: audio\nmixed_precision: no\n", encoding="utf-8")
    assert load_recipe(path).mixed_precision == "no"


def test_bad_values_still_fail():
    with pytest.raises(RecipeError, match="mixed_precision"):
        tiny_recipe("audio", ["mixed_precision=bf8"])
    with pytest.raises(RecipeError, match="mixed_precision"):
        tiny_recipe("audio", ["mixed_precision=true"])


def test_the_speed_flags_benchmarks_print(monkeypatch) -> None:
    monkeypatch.setattr(precision, "cpu_flags", lambda: frozenset({"fma", "avx2", "amx_bf16"}))
    assert precision.speed_flags() == ["amx_bf16", "avx2"]
    monkeypatch.setattr(precision, "cpu_flags", lambda: None)  # unreadable
    assert precision.speed_flags() == []
