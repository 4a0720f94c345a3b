"""Test-wide settings: never touch the network, keep CPU threads bounded."""

from __future__ import annotations

import os

# No test may download weights: fail fast instead of hanging on the hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

import torch

# One intra-op thread per test process: on 2 cores, torch's own threads mostly
# spin against each other (measured 3-4x slower suites with the default).
torch.set_num_threads(1)
