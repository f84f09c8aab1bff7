"""Local ``evaluate`` modules: thin wrappers over this package's metric functions, so users of the
``evaluate`` API get the same numbers as the CLI. Load one with
``evaluate.load(comics_analysis.benchmarks.evaluate_modules.metric_path("comicspap_accuracy"))``
(works offline: the module is a local folder).

- ``comicspap_accuracy``: per-skill and sample-weighted accuracy (``metrics.comicspap``);
- ``closure_text_accuracy``: accuracy with a bootstrap 95% interval (``metrics.intervals``);
- ``pss``: page stream segmentation metrics (``metrics.pss``).
"""

from __future__ import annotations

from pathlib import Path

METRICS = ("comicspap_accuracy", "closure_text_accuracy", "pss")


def metric_path(name: str) -> str:
    """The folder of a local ``evaluate`` module, for ``evaluate.load``."""
    if name not in METRICS:
        raise ValueError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    return str(Path(__file__).parent / name)


def metric_info(description: str, citation: str, inputs: str, features: dict[str, str]):
    """The ``evaluate.MetricInfo`` of a module here; ``features``: ``{column: datasets.Value dtype}``."""
    import datasets
    import evaluate

    return evaluate.MetricInfo(
        description=description,
        citation=citation,
        inputs_description=inputs,
        features=datasets.Features({name: datasets.Value(dtype) for name, dtype in features.items()}),
    )
