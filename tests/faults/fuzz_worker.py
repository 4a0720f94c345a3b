"""Child process of the loader fuzzer: loads one file per request, under limits.

``python -m tests.faults.fuzz_worker MODALITY EXTRA_BYTES RESULT_FD``: imports the
plugin's loader, caps its address space at (current size + ``EXTRA_BYTES``) with
``RLIMIT_AS``, then reads one path per line on stdin and writes one JSON line per
path to ``RESULT_FD`` (stdout is left to decoders that print, as open3d does):
``{"outcome": "ok" | "media" | "error", "type": ..., "message": ..., "cpu_s": ...}``.
"error" is any other exception, or a loaded item that breaks the raw-item contract;
``cpu_s`` is the CPU time the load took (the parent's hang limit, robust to a busy machine).
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import resource
import sys
import time
import traceback
from typing import Any

LOADERS = {"image": "xalign_plugin_image.loading", "video": "xalign_plugin_video.loading",
           "audio": "xalign_plugin_audio.loading", "3d": "xalign_plugin_3d.loading"}
WARM = {"image": ("PIL.PngImagePlugin",), "video": ("av", "decord"),
        "audio": ("av", "soundfile"), "3d": ("open3d",)}


def contract_problem(modality: str, item: Any) -> str | None:
    """Why a loaded item is not a valid raw item of ``modality`` (``None`` when it is)."""
    import numpy as np

    if modality == "image":
        from PIL import Image

        if not isinstance(item, Image.Image) or item.mode != "RGB" or min(item.size) < 1:
            return f"image loader returned {type(item).__name__} {getattr(item, 'mode', '')}"
        return None
    if modality == "video":
        from xalign_plugin_video.sampling import num_frames

        ok = (isinstance(item, np.ndarray) and item.dtype == np.uint8 and item.ndim == 4
              and item.shape[0] == num_frames() and item.shape[-1] == 3 and min(item.shape) > 0)
        return None if ok else f"video frames {getattr(item, 'shape', type(item))}"
    if modality == "audio":
        import torch

        ok = (isinstance(item, torch.Tensor) and item.dtype == torch.float32 and item.ndim == 1
              and item.numel() > 0 and bool(torch.isfinite(item).all()))
        return None if ok else f"waveform {getattr(item, 'shape', type(item))}"
    ok = (isinstance(item, np.ndarray) and item.dtype == np.float32 and item.ndim == 2
          and item.shape[0] >= 3 and item.shape[1] >= 3
          and bool(np.isfinite(item[:, :3]).all()))
    return None if ok else f"points {getattr(item, 'shape', type(item))}"


def _vm_bytes() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def main() -> None:
    modality, extra, fd = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    loader = importlib.import_module(LOADERS[modality])
    from xalign.errors import MediaError

    # warm the decoders before the cap, so their own import is not counted as the input's
    for name in WARM[modality]:
        with contextlib.suppress(Exception):  # optional here; the loader reports what it needs
            importlib.import_module(name)
    limit = _vm_bytes() + extra
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    out = os.fdopen(fd, "w", buffering=1)
    out.write(json.dumps({"ready": True, "limit": limit}) + "\n")
    for line in sys.stdin:
        path = line.rstrip("\n")
        cpu = time.process_time()
        try:
            item = loader.load(path)
        except MediaError as exc:
            result = {"outcome": "media", "type": "MediaError", "message": str(exc)[:300]}
        except BaseException as exc:  # every other type is what the fuzzer looks for
            tb = traceback.format_exc(limit=-6)
            result = {"outcome": "error", "type": type(exc).__name__,
                      "message": f"{exc}"[:500], "traceback": tb[-3000:]}
        else:
            problem = contract_problem(modality, item)
            result = ({"outcome": "ok"} if problem is None else
                      {"outcome": "error", "type": "contract", "message": problem})
            del item
        result["cpu_s"] = round(time.process_time() - cpu, 3)  # all threads of the worker
        out.write(json.dumps(result) + "\n")


if __name__ == "__main__":
    main()
