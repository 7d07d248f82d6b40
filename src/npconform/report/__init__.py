"""The run's evidence: results.json, a self-contained report.html and a terminal summary."""

from npconform.report.bundle import (
    AREA_CONTROLS,
    CONTROLS,
    compute_controls,
    compute_verdict,
    finalize,
    verdict_reason,
    write_bundle,
)
from npconform.report.html import render_html
from npconform.report.terminal import summary_table

__all__ = [
    "AREA_CONTROLS",
    "CONTROLS",
    "compute_controls",
    "compute_verdict",
    "finalize",
    "render_html",
    "summary_table",
    "verdict_reason",
    "write_bundle",
]
