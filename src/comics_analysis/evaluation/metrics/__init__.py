"""Local ``evaluate`` modules: thin wrappers over this package's metric functions, so users of the
``evaluate`` API get the same numbers as the CLI. Load one with
``evaluate.load(comics_analysis.evaluation.metrics.metric_path("comicspap_accuracy"))``
(works offline: the module is a local folder).

- ``comicspap_accuracy``: per-skill and sample-weighted accuracy (``evaluation.comicspap``);
- ``closure_text_accuracy``: accuracy with a bootstrap 95% interval (``evaluation.closure_text``);
- ``pss``: page stream segmentation metrics (``evaluation.pss``, issue 9). It needs that module,
  which arrives with the PSS branch; until then computing raises a clear error.
"""

from __future__ import annotations

from pathlib import Path

METRICS = ("comicspap_accuracy", "closure_text_accuracy", "pss")


def metric_path(name: str) -> str:
    """The folder of a local ``evaluate`` module, for ``evaluate.load``."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return str(Path(__file__).parent / name)
