"""Annotation: panels, reading order, text (OCR / VLM) and their alignment into DataSpec."""

from .panels import DETECTORS, ClassicalConfig, Detection, detect, detect_classical
from .pipeline import annotate, annotate_page, read_annotations
from .reading_order import reading_order

__all__ = [
    "DETECTORS",
    "ClassicalConfig",
    "Detection",
    "annotate",
    "annotate_page",
    "detect",
    "detect_classical",
    "read_annotations",
    "reading_order",
]
