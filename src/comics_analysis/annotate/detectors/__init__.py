"""Panel detectors behind one registry: a name picks a factory, the factory builds a detector.

``get_detector(spec)`` takes the same strings as ``annotate --detector``:

- ``classical``: gutters and frames with OpenCV (:mod:`.classical`; CPU, no weights);
- ``hf:NAME_OR_PATH``: any ``transformers`` object detector (:mod:`.hf`; the ``ml`` extra);
- ``coco:FILE``: panels imported from a COCO predictions file (:mod:`.coco`).

A detector is called as ``detector(image, source)`` and returns :class:`Detection` boxes
(``source``, the page's ``<container>/<entry>`` path, matters only to detectors that look pages
up by path). :func:`register_detector` adds a kind; detectors are built once per process and
spec, so a model or a predictions file loads once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .base import Detection, Detector
from .classical import ClassicalConfig, ClassicalDetector, detect_classical
from .coco import load_coco


@dataclass(frozen=True)
class DetectorKind:
    """A registry entry: ``factory(argument, **options)`` when ``argument`` names what follows the
    colon (``hf:NAME``), else ``factory(**options)``."""

    factory: Callable[..., Detector]
    argument: str | None = None


DETECTORS: dict[str, DetectorKind] = {}


def register_detector(kind: str, factory: Callable[..., Detector], argument: str | None = None) -> None:
    """Make ``kind`` (or ``kind:ARGUMENT`` when ``argument`` is given) a detector spec."""
    if ":" in kind:
        raise ValueError(f"kind: a detector kind has no ':' in it, got {kind!r}")
    DETECTORS[kind] = DetectorKind(factory, argument)


def detector_specs() -> list[str]:
    """The accepted spec forms, e.g. ``["classical", "hf:NAME", "coco:FILE"]``."""
    return [
        kind if entry.argument is None else f"{kind}:{entry.argument}" for kind, entry in DETECTORS.items()
    ]


@lru_cache(maxsize=8)
def _build(spec: str, options: tuple[tuple[str, Any], ...]) -> Detector:
    kind, colon, argument = spec.partition(":")
    entry = DETECTORS.get(kind)
    if entry is None or bool(colon) != (entry.argument is not None) or (colon and not argument):
        raise ValueError(f"unknown panel detector {spec!r}; available: {', '.join(detector_specs())}")
    return entry.factory(argument, **dict(options)) if colon else entry.factory(**dict(options))


def get_detector(spec: str = "classical", **options: Any) -> Detector:
    """The detector named by ``spec`` (``classical``, ``hf:NAME_OR_PATH``, ``coco:FILE``), built
    with ``options`` (``config=`` for classical, ``threshold=`` for hf, ``min_score=`` for coco)."""
    return _build(spec, tuple(sorted(options.items())))


def detect(image, method: str = "classical", **options: Any) -> list[Detection]:
    """Panels of a page with the named detector: ``classical`` or ``hf:NAME_OR_PATH``."""
    return get_detector(method, **options)(image)


def _hf(name_or_path: str, threshold: float = 0.5) -> Detector:
    from .hf import hf_detector  # lazy: torch + transformers, only for hf: detectors

    return hf_detector(name_or_path, threshold)


def _coco(path: str, min_score: float = 0.5) -> Detector:

    return load_coco(path, min_score)


register_detector("classical", ClassicalDetector)
register_detector("hf", _hf, "NAME")
register_detector("coco", _coco, "FILE")

__all__ = [
    "DETECTORS",
    "ClassicalConfig",
    "Detection",
    "Detector",
    "DetectorKind",
    "detect",
    "detect_classical",
    "detector_specs",
    "get_detector",
    "register_detector",
]
