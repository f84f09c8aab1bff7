"""Annotation: panels, reading order, text (OCR / VLM) and their alignment into DataSpec."""

from .detectors import DETECTORS, ClassicalConfig, Detection, detect, detect_classical, get_detector
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
    "get_detector",
    "read_annotations",
    "reading_order",
]
