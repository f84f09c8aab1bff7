"""Approximate search with FAISS (faiss-cpu, MIT): an inverted-file index (IVF) whose lists hold
float16 vectors (``IndexIVFScalarQuantizer`` with ``QT_fp16``, no residual encoding).

``nlist`` defaults to ``sqrt(n)`` (at most 16,384; k-means training cost grows with it),
trained with k-means on up to ``64 * nlist`` sampled vectors. ``nprobe`` (lists scanned per
query), when not given, is calibrated at build time: the smallest value whose recall@10 against
exact search, less two standard errors, reaches ``target_recall`` (default 0.95), measured with
up to 500 stored vectors as queries that are held out of the index until the measurement is done
(so they stand for new queries from the same distribution). The measured
recall is kept in the index metadata either way, so every index says how exact it is. On data
with neighbourhoods (real embeddings, clustered vectors) a few lists suffice; on isotropic
random vectors no inverted-file split helps and the calibrated ``nprobe`` approaches ``nlist``,
i.e. an exhaustive scan, which is the honest answer for such data.

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
        target_recall: float = 0.95,
        calibration_queries: int = 500,
        seed: int = 0,
        meta: dict | None = None,
    ) -> AnnIndex:
        """An index over ``vectors`` whose results are ``ids`` (default: row numbers); ``nprobe``
        None: calibrated to ``target_recall`` (see the module docstring)."""
        import faiss

        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        n, dim = vectors.shape
        if n == 0:
            raise ValueError("cannot build an index over 0 vectors")
        if not 0.0 < target_recall <= 1.0:
            raise ValueError(f"target_recall must be in (0, 1], got {target_recall}")
        nlist = nlist or default_nlist(n)
        quantizer = faiss.IndexFlatIP(dim)
        index = faiss.IndexIVFScalarQuantizer(
            quantizer, dim, nlist, faiss.ScalarQuantizer.QT_fp16, faiss.METRIC_INNER_PRODUCT, False
        )
        rng = np.random.default_rng(seed)
        # calibration queries are held out of k-means training and of the index while it is
        # measured, so they stand for new queries from the same distribution
        held = np.zeros(n, bool)
        held[rng.choice(n, max(0, min(calibration_queries, n // 2, n - nlist)), replace=False)] = True
        pool = np.flatnonzero(~held)
        if len(pool) > 64 * nlist:
            pool = np.sort(rng.choice(pool, 64 * nlist, replace=False))
        index.cp.seed = seed
        index.train(vectors[pool])
        ids = np.arange(n, dtype=np.int64) if ids is None else np.ascontiguousarray(ids, dtype=np.int64)
        index.add_with_ids(vectors[~held], ids[~held])
        built = cls(index, nprobe or nlist, {"nlist": nlist, "n": n, "dim": dim, **(meta or {})})
        calibration = built._calibrate(
            vectors[held], vectors[~held], ids[~held], target_recall if nprobe is None else None
        )
        index.add_with_ids(vectors[held], ids[held])
        built.meta.update(nprobe=built.nprobe, calibration=calibration)
        return built

    def _calibrate(
        self,
        queries: np.ndarray,
        others: np.ndarray,
        other_ids: np.ndarray,
        target: float | None,
        k: int = 10,
    ) -> dict:
        """recall@``k`` of ``queries`` against exact search over the indexed ``others``; with a
        ``target``, ``nprobe`` is first set to the smallest value whose recall, less two standard
        errors, reaches it (recall grows with nprobe; doubling, then bisection)."""
        import faiss

        k = min(k, len(others))
        if len(queries) == 0 or k == 0:
            return {"queries": 0, "k": k, "nprobe": self.nprobe, "recall": None, "target_recall": target}
        _, truth = faiss.knn(queries, others, k, metric=faiss.METRIC_INNER_PRODUCT)
        truth = other_ids[truth].tolist()

        def per_query(nprobe: int) -> np.ndarray:
            found = self.search_many(queries, k, nprobe=nprobe)[1].tolist()
            return np.array([len(set(t) & set(f)) / k for t, f in zip(truth, found)])

        def lower(r: np.ndarray) -> float:
            return float(r.mean() - 2.0 * r.std(ddof=1) / np.sqrt(len(r))) if len(r) > 1 else float(r.mean())

        if target is not None:
            lo, hi = 0, 1  # nprobe lo misses the target; hi = nlist scans every list
            while hi < self.nlist and lower(per_query(hi)) < target:
                lo, hi = hi, min(self.nlist, 2 * hi)
            while hi - lo > 1:
                mid = (lo + hi) // 2
                lo, hi = (lo, mid) if lower(per_query(mid)) >= target else (mid, hi)
            self.nprobe = hi
        r = per_query(self.nprobe)
        return {
            "queries": len(queries),
            "k": k,
            "nprobe": self.nprobe,
            "recall": float(r.mean()),
            "recall_lower_bound": lower(r),
            "target_recall": target,
        }

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
