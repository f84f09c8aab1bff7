"""Exact top-k by inner product (= cosine on unit vectors) with an optional allow-mask.

Two interchangeable backends, both exact over the stored values:

- ``numpy``: float32 vectors in RAM (4 * D bytes per vector: 1.5 GB for 10^6 page vectors at
  D = 384), scored by a blocked matrix-vector product (``block_rows`` rows at a time, so the
  temporaries stay bounded) with a running top-k merge.
- ``faiss``: the same vectors kept as float16 (2 * D bytes per vector: 768 MB for 10^6) in
  FAISS flat scalar-quantizer indexes of type fp16, which decode float16 exactly and sum in
  float32 (SIMD); the rows are split into ``threads`` parts scanned in parallel. Stored vectors
  are float16 (or int8 x scale), so no precision is lost against the store. This is the
  backend that meets the 10^6-row latency target on 2 cores (see scripts/bench_store.py).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np


def faiss_available() -> bool:
    try:
        import faiss  # noqa: F401
    except ImportError:
        return False
    return True


def merge_topk(scores: np.ndarray, ids: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``k`` best (score desc, id asc); -inf entries (filtered out) are dropped."""
    keep = np.isfinite(scores)
    scores, ids = scores[keep], ids[keep]
    order = np.lexsort((ids, -scores))[:k]
    return scores[order], ids[order]


class ExactIndex:
    def __init__(
        self, vectors: np.ndarray, backend: str = "auto", threads: int | None = None, block_rows: int = 65536
    ):
        if backend == "auto":
            backend = "faiss" if faiss_available() else "numpy"
        if backend not in ("numpy", "faiss"):
            raise ValueError(f"exact backend must be auto, numpy or faiss, got {backend!r}")
        self.backend = backend
        self.n, self.dim = vectors.shape
        self.block_rows = block_rows
        self.threads = max(1, threads or min(4, os.cpu_count() or 1))
        if backend == "numpy":
            self.vectors = np.ascontiguousarray(vectors, dtype=np.float32)
            self.parts = []
        else:
            import faiss

            bounds = np.linspace(0, self.n, min(self.threads, max(1, self.n)) + 1).astype(np.int64)
            self.parts = []
            for lo, hi in itertools.pairwise(bounds):
                index = faiss.IndexScalarQuantizer(
                    self.dim, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT
                )
                index.add(np.ascontiguousarray(vectors[lo:hi], dtype=np.float32))
                self.parts.append((int(lo), int(hi), index))
            self.pool = ThreadPoolExecutor(len(self.parts)) if len(self.parts) > 1 else None

    @property
    def nbytes(self) -> int:
        """Memory held for the vectors."""
        if self.backend == "numpy":
            return self.vectors.nbytes
        return 2 * self.n * self.dim

    def search(
        self, query: np.ndarray, k: int, allow: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """(scores, row ids) of the ``k`` best rows among ``allow`` (a bool mask over rows)."""
        q = np.ascontiguousarray(query, dtype=np.float32).reshape(-1)
        if q.shape[0] != self.dim:
            raise ValueError(f"query has {q.shape[0]} dims, the store {self.dim}")
        k = min(k, self.n)
        if k <= 0 or self.n == 0:
            return np.zeros(0, np.float32), np.zeros(0, np.int64)
        if self.backend == "numpy":
            return self._numpy(q, k, allow)
        return self._faiss(q, k, allow)

    def _numpy(self, q, k, allow):
        best_s, best_i = np.zeros(0, np.float32), np.zeros(0, np.int64)
        for start in range(0, self.n, self.block_rows):
            scores = self.vectors[start : start + self.block_rows] @ q
            if allow is not None:
                scores = np.where(allow[start : start + len(scores)], scores, -np.inf)
            kk = min(k, len(scores))
            top = np.argpartition(-scores, kk - 1)[:kk]
            best_s, best_i = merge_topk(
                np.concatenate([best_s, scores[top]]), np.concatenate([best_i, top + start]), k
            )
        return best_s, best_i

    def _faiss(self, q, k, allow):
        import faiss

        def one(part):
            lo, hi, index = part
            params = None
            if allow is not None:
                local = np.ascontiguousarray(allow[lo:hi])
                if not local.any():
                    return np.zeros(0, np.float32), np.zeros(0, np.int64)
                bits = np.packbits(local, bitorder="little")
                selector = faiss.IDSelectorBitmap(hi - lo, faiss.swig_ptr(bits))
                params = faiss.SearchParameters(sel=selector)
                scores, ids = index.search(q[None], min(k, hi - lo), params=params)
                del bits  # kept alive until after the search
            else:
                scores, ids = index.search(q[None], min(k, hi - lo))
            keep = ids[0] >= 0
            return scores[0][keep], ids[0][keep].astype(np.int64) + lo

        results = list(self.pool.map(one, self.parts)) if self.pool else [one(p) for p in self.parts]
        scores = np.concatenate([r[0] for r in results]).astype(np.float32)
        ids = np.concatenate([r[1] for r in results])
        return merge_topk(scores, ids, k)
