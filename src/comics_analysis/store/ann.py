"""Approximate search with FAISS (faiss-cpu, MIT): an inverted-file index (IVF) whose lists hold
float16 vectors (``IndexIVFScalarQuantizer`` with ``QT_fp16``, no residual encoding).

``nlist`` defaults to ``sqrt(n)`` (at most 16,384; k-means training cost grows with it),
trained with k-means on up to ``64 * nlist`` sampled vectors; ``nprobe`` (lists scanned per query) defaults to
``max(8, nlist // 16)``. Recall@10 against exact search is measured by
:func:`recall_at_k` and reported by scripts/bench_store.py.

An index is saved beside its sidecar (``.json``: level, row plan and finished chunks of the
store when built). Loading against a store that has changed since is an error.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from ..dataspec import atomic_write


def default_nlist(n: int) -> int:
    return int(max(1, min(16384, round(math.sqrt(max(n, 1))), n // 39 or 1)))


class AnnIndex:
    def __init__(self, index, nprobe: int, meta: dict):
        self.index = index
        self.meta = meta
        self.nprobe = nprobe

    @classmethod
    def build(
        cls,
        vectors: np.ndarray,
        *,
        ids: np.ndarray | None = None,
        nlist: int | None = None,
        nprobe: int | None = None,
        seed: int = 0,
        meta: dict | None = None,
    ) -> AnnIndex:
        """An index over ``vectors`` whose results are ``ids`` (default: row numbers)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if n == 0:
            raise ValueError("cannot build an index over 0 vectors")
        nlist = nlist or default_nlist(n)
        nprobe = nprobe or max(8, nlist // 16)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
        )
        rng = np.random.default_rng(seed)
        sample = vectors if n <= 64 * nlist else vectors[np.sort(rng.choice(n, 64 * nlist, replace=False))]
        index.cp.seed = seed
        index.train(sample)
        if ids is None:
            index.add(vectors)
        else:
            index.add_with_ids(vectors, np.ascontiguousarray(ids, dtype=np.int64))
        return cls(index, nprobe, {"nlist": nlist, "nprobe": nprobe, "n": n, "dim": dim, **(meta or {})})

    @property
    def nlist(self) -> int:
        return self.index.nlist

    def search(
        self, query: np.ndarray, k: int, allow: np.ndarray | None = None, nprobe: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        import faiss

        q = np.ascontiguousarray(query, dtype=np.float32).reshape(1, -1)
        bits = None
        params = faiss.SearchParametersIVF(nprobe=int(nprobe or self.nprobe))
        if allow is not None:  # a bool mask over the id space
            bits = np.packbits(np.ascontiguousarray(allow), bitorder="little")
            params.sel = faiss.IDSelectorBitmap(len(allow), faiss.swig_ptr(bits))
        scores, ids = self.index.search(q, k, params=params)
        del bits
        keep = ids[0] >= 0
        return scores[0][keep], ids[0][keep].astype(np.int64)

    def search_many(self, queries: np.ndarray, k: int, nprobe: int | None = None):
        import faiss

        params = faiss.SearchParametersIVF(nprobe=int(nprobe or self.nprobe))
        return self.index.search(np.ascontiguousarray(queries, dtype=np.float32), k, params=params)

    def save(self, path: str | Path) -> Path:
        import faiss

        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        faiss.write_index(self.index, str(tmp))
        tmp.replace(path)
        with atomic_write(path.with_suffix(".json")) as handle:
            json.dump({**self.meta, "nprobe": self.nprobe}, handle, indent=2)
        return path

    @classmethod
    def load(cls, path: str | Path) -> AnnIndex:
        import faiss

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no FAISS index (build one with `comics-analysis store index`)")
        meta = json.loads(path.with_suffix(".json").read_text())
        return cls(faiss.read_index(str(path)), int(meta["nprobe"]), meta)


def recall_at_k(truth: np.ndarray, found: np.ndarray, k: int = 10) -> float:
    """Mean share of the true top-``k`` ids found in the returned top-``k`` (per query row)."""
    total = 0.0
    for t, f in zip(np.atleast_2d(truth), np.atleast_2d(found)):
        total += len(set(t[:k].tolist()) & set(f[:k].tolist())) / max(1, min(k, len(t)))
    return total / max(1, len(np.atleast_2d(truth)))
