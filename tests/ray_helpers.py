"""The local Ray cluster and the small synthetic library that the `--engine ray` tests share."""

import logging
from pathlib import Path

import pytest

from comics_analysis.annotate import annotate
from comics_analysis.engine import EngineOptions
from comics_analysis.ingest import ingest
from comics_analysis.synth import make_library

RAY = EngineOptions(engine="ray", cpus_per_worker=1)
PAGES = 23  # of the 3 synthetic books


def local_cluster(ocr: bool = False):
    """A module fixture's body: a local 2-CPU Ray cluster, shut down after the module's tests
    (skipped when the 'ray' extra, or with ``ocr`` the 'ocr' extra, is not installed)."""
    ray = pytest.importorskip("ray", reason="the 'ray' extra is not installed")
    if ocr:
        pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    settings = {
        "include_dashboard": False,
        "object_store_memory": 256 << 20,
        "logging_level": logging.WARNING,
    }
    ray.init(num_cpus=2, **settings)
    yield ray
    ray.shutdown()


def annotated_library(root: Path, ocr: str, out: str) -> Path:
    """3 synthetic books (``PAGES`` pages) under ``root``: made, ingested and annotated by the local
    engine into ``root/out`` (``ocr``: "rapidocr" or "none")."""
    make_library(root / "lib", books=3, seed=4, size=(350, 525), story_pages=(2, 2), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / out, ocr=ocr, show_progress=False)
    return root
