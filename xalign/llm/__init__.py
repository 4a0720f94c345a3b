"""Frozen LLM loading: hub id, local path, GGUF file, or the embedded SmolLM2 (cached)."""

from xalign.llm.embedded import EMBEDDED_NAME, embedded_gguf_path
from xalign.llm.gguf_cache import cache_root
from xalign.llm.loaded import LoadedLLM, freeze_llm
from xalign.llm.loader import load_llm
from xalign.llm.lora import apply_lora

__all__ = [
    "EMBEDDED_NAME",
    "LoadedLLM",
    "apply_lora",
    "cache_root",
    "embedded_gguf_path",
    "freeze_llm",
    "load_llm",
]
