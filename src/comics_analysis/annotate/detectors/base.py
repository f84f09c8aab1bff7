"""What every panel detector returns and how the registry calls it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Detection:
    bbox: tuple[float, float, float, float]  # x, y, w, h in pixels
    score: float
    label: str = "panel"


class Detector(Protocol):
    """A panel detector: ``detector(image, source) -> detections``. ``source`` is the page's
    ``<container>/<entry>`` path (detectors that look pages up by path, like ``coco:FILE``, need
    it); None from a detector means it has no answer for this page (``missing`` says why)."""

    name: str

    def __call__(self, image, source: str | None = None) -> list[Detection] | None: ...
