"""Data-quality checks of a manifest (``xalign data check``): duplicates, bad files, balance.

See docs/data.md, section "Data-quality report".
"""

from xalign.data.quality.check import (
    INSTRUCTION_THRESHOLD,
    NEAR_RELATIVE,
    NEAR_THRESHOLD,
    check_manifest,
)
from xalign.data.quality.fix import FixSummary, drop_reasons, write_fixed
from xalign.data.quality.report import QualityReport

__all__ = [
    "INSTRUCTION_THRESHOLD",
    "NEAR_RELATIVE",
    "NEAR_THRESHOLD",
    "FixSummary",
    "QualityReport",
    "check_manifest",
    "drop_reasons",
    "write_fixed",
]
