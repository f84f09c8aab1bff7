"""Vector helpers: L2 normalisation and the int8 variant (one float32 scale per vector).

int8 codes are the absmax rounding of the unit vector (``round(127 * x / max|x|)``); the
stored scale is ``1 / ||codes||`` so that ``codes * scale`` is again a unit vector. Cosine
depends only on direction, and renormalising removes the rounding's norm error, which makes
the top-10 agree more with float32 search (measured in scripts/bench_store.py).
"""

from __future__ import annotations

import numpy as np


def l2_normalise(vectors: np.ndarray, eps: float = 1e-12) -> tuple[np.ndarray, np.ndarray]:
    """Rows scaled to unit length (float32) and a mask of rows that had a non-zero norm."""
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=-1, keepdims=True)
    ok = norms[..., 0] > eps
    return np.where(norms > eps, vectors / np.maximum(norms, eps), 0.0).astype(np.float32), ok


def quantize_int8(unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes int8 [..., D], scale float32 [...]) of unit vectors; zero vectors get scale 0."""
    unit = np.asarray(unit, dtype=np.float32)
    peak = np.abs(unit).max(axis=-1, keepdims=True)
    codes = np.zeros(unit.shape, dtype=np.int8)
    nonzero = peak[..., 0] > 0
    codes[nonzero] = np.clip(np.rint(127.0 * unit[nonzero] / peak[nonzero]), -127, 127).astype(np.int8)
    norms = np.linalg.norm(codes.astype(np.float32), axis=-1)
    scale = np.where(norms > 0, 1.0 / np.maximum(norms, 1e-12), 0.0).astype(np.float32)
    return codes, scale


def dequantize_int8(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    return codes.astype(np.float32) * np.asarray(scale, dtype=np.float32)[..., None]
