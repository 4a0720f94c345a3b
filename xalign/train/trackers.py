"""Experiment trackers (``report_to: [tensorboard]``), through accelerate's trackers.

Every tracker accelerate knows can be named; one that is not installed fails before the
run starts with the ``pip install`` line. TensorBoard event files go under the run folder
(``runs/<run>/<recipe name>/events.out.tfevents.*``): ``tensorboard --logdir runs``.
"""

from __future__ import annotations

from collections.abc import Sequence

from xalign.errors import XalignError

# tracker -> (accelerate's availability check, what to pip install)
TRACKERS: dict[str, tuple[str, str]] = {
    "tensorboard": ("is_tensorboard_available", "tensorboard"),
    "trackio": ("is_trackio_available", "trackio"),
    "wandb": ("is_wandb_available", "wandb"),
    "mlflow": ("is_mlflow_available", "mlflow"),
    "comet_ml": ("is_comet_ml_available", "comet_ml"),
    "aim": ("is_aim_available", "aim"),
    "clearml": ("is_clearml_available", "clearml"),
    "dvclive": ("is_dvclive_available", "dvclive"),
    "swanlab": ("is_swanlab_available", "swanlab"),
}


def installed_trackers() -> list[str]:
    """The trackers whose library is importable here."""
    import accelerate.utils

    return [name for name, (check, _) in TRACKERS.items()
            if getattr(accelerate.utils, check, lambda: False)()]


def check_trackers(names: Sequence[str]) -> list[str]:
    """``names`` when every one is installed; otherwise one clear error naming the fix."""
    have = set(installed_trackers())
    missing = [n for n in names if n not in have]
    if missing:
        packages = " ".join(TRACKERS[n][1] for n in missing)
        raise XalignError(f"report_to names {', '.join(missing)}, which is not installed: "
                          f"pip install {packages} (installed trackers: "
                          f"{', '.join(sorted(have)) or 'none'})")
    return list(names)
