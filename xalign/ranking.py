"""Candidate losses of many examples at once: what every closed-vocabulary ranking calls.

Held-out accuracy during training, DisCRn's ``rank``/``debiased`` answers and its per-input
probe all ask "which candidate answer does the LLM find likeliest?" for many examples. An
:class:`~xalign.model.XAlignModel` answers that in a few large batches
(:meth:`~xalign.model.XAlignModel.candidate_losses_many`); anything else that ranks (a
test's fake model, an external ranker) needs only ``candidate_losses(example, candidates)``
and is asked one example at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

ROWS_PER_CALL = 32  # (example, candidate) rows per LLM call: large batches, bounded memory


def rank_losses(model: Any, examples: Sequence[Any], candidates: Sequence[Sequence[str]],
                batch_size: int = ROWS_PER_CALL) -> list[torch.Tensor]:
    """Mean per-token NLL of each example's candidates (lower = likelier), one tensor each."""
    many = getattr(model, "candidate_losses_many", None)
    if many is not None:
        return many(examples, candidates, batch_size)
    return [model.candidate_losses(example, list(cands))
            for example, cands in zip(examples, candidates, strict=True)]
