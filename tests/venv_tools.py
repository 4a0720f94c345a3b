"""Fresh virtual environments for packaging tests, without reinstalling torch.

The fresh venv sees this project's venv through a ``.pth`` file placed *after*
its own site-packages, so whatever is pip-installed into the fresh venv wins,
and heavy dependencies (torch, transformers) are reused instead of downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
from pathlib import Path


def make_overlay_venv(root: Path) -> Path:
    """Create a venv at ``root`` that falls back to the running interpreter's packages."""
    venv.EnvBuilder(with_pip=False).create(root)
    python = root / "bin" / "python"
    site = Path(subprocess.check_output(
        [python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], text=True,
    ).strip())
    # an "import" line makes site process the parent's own .pth files (editable installs)
    parent = sysconfig.get_paths()["purelib"]
    (site / "zz_parent_env.pth").write_text(f"import site; site.addsitedir({parent!r})\n")
    return python


def pip(python: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run this interpreter's pip against the venv of ``python``."""
    return subprocess.run([sys.executable, "-m", "pip", "--python", str(python), *args],
                          capture_output=True, text=True, check=False)
