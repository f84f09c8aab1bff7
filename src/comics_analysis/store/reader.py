"""Reading a store: :func:`open_store` -> :class:`EmbeddingStore`.

Only rows of finished chunks (listed in a progress file) are visible through this class; a
store being written, or left by a killed writer, shows its finished rows and nothing else.
``xarray.open_zarr(path)`` reads the same arrays with named dims; on an incomplete store
(``attrs["complete"]`` false) rows of unfinished chunks hold fill values (empty page_id),
and :meth:`EmbeddingStore.to_xarray` selects the finished rows for you.
"""

from __future__ import annotations

import json
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from ..dataspec import atomic_write
from .layout import PAGE_COLUMNS, PROGRESS_DIR, TEXT_DIR, all_arrays
from .progress import finished_chunks, read_progress
from .quantize import dequantize_int8


class StoreError(ValueError):
    """A damaged store: the message names the store, the array, the chunk and the file."""


def open_store(path: str | Path) -> EmbeddingStore:
    return EmbeddingStore(path)


def verify_store(path: str | Path, repair: bool = False) -> list[dict[str, Any]]:
    """Check every finished chunk of the store at ``path`` (see :meth:`EmbeddingStore.verify`).

    Opens the store without the start-up check, so a store with missing chunk files can be
    verified. ``repair`` removes the damaged chunks from the progress files: their rows stop
    being visible, and the next `embed` with the same settings rewrites exactly those chunks.
    """
    problems = EmbeddingStore(path, check=False).verify()
    if repair and problems:
        damaged = {p["chunk"] for p in problems}
        for progress in sorted((Path(path) / PROGRESS_DIR).glob("shard-*.json")):
            data = read_progress(progress)
            kept = [c for c in data["chunks"] if int(c) not in damaged]
            if len(kept) != len(data["chunks"]):
                with atomic_write(progress) as handle:
                    json.dump({**data, "chunks": kept}, handle)
    return problems


class EmbeddingStore:
    def __init__(self, path: str | Path, check: bool = True):
        """``check``: refuse a store whose finished chunks lack their vector or id files."""
        import zarr

        self.path = Path(path)
        if not (self.path / "zarr.json").is_file():
            raise FileNotFoundError(f"{self.path}: not an embedding store (no zarr.json)")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            self.group = zarr.open_group(str(self.path), mode="r")
        self.attrs: dict[str, Any] = dict(self.group.attrs)
        if "row_count" not in self.attrs or "page_embedding" not in self.group:
            raise ValueError(
                f"{self.path}: a Zarr group but not an embedding store (no row_count/page_embedding)"
            )
        self.chunk_pages = int(self.attrs["chunk_pages"])
        self.panels = int(self.attrs["panels"])
        self.dim = int(self.attrs["dim"])
        self.dtype = self.attrs["embedding_dtype"]
        #: the store keeps image-only panel vectors (``panel_image_embedding``) for crop queries
        self.image_vectors = "panel_image_embedding" in self.group
        #: the per-page values measured at embed time that the store keeps (``layout.PAGE_COLUMNS``)
        self.page_columns = tuple(c for c in PAGE_COLUMNS if c in self.group)
        self.finished = sorted(finished_chunks(self.path))
        total = int(self.attrs["row_count"])
        rows = [
            np.arange(c * self.chunk_pages, min((c + 1) * self.chunk_pages, total)) for c in self.finished
        ]
        #: store row numbers of the visible (finished) pages, ascending
        self.rows = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        missing = [
            str(self._chunk_file(name, c))
            for c in (self.finished if check else [])
            for name in ("page_embedding", "page_id")  # never only fill values
            if not self._chunk_file(name, c).is_file()
        ]
        if missing:
            raise StoreError(
                f"{self.path}: {len(missing)} chunk file(s) of finished chunks are missing, e.g. "
                f"{missing[0]}; run `comics-analysis store verify {self.path} --repair`, then `embed` "
                "again to rewrite them"
            )

    def _chunk_file(self, name: str, chunk: int) -> Path:
        array = self.group[name]
        key = array.metadata.encode_chunk_key((chunk,) + (0,) * (array.ndim - 1))
        return self.path / name / key

    def __len__(self) -> int:
        return len(self.rows)

    @property
    def complete(self) -> bool:
        return len(self.finished) == int(self.attrs["num_chunks"])

    def _chunk(self, name: str, chunk: int) -> np.ndarray:
        """One chunk of one array; a chunk that does not decode raises naming both."""
        try:
            return self.group[name][chunk * self.chunk_pages : (chunk + 1) * self.chunk_pages]
        except Exception as exc:
            raise StoreError(
                f"{self.path}: chunk {chunk} of array {name} ({self._chunk_file(name, chunk)}) cannot be "
                f"read: {type(exc).__name__}: {exc}; run `comics-analysis store verify {self.path} --repair`"
            ) from None

    def _read(self, name: str) -> np.ndarray:
        """A whole array restricted to the finished rows, read chunk by chunk."""
        array = self.group[name]
        parts = [self._chunk(name, c) for c in self.finished]
        if not parts:
            return np.zeros((0, *array.shape[1:]), dtype=array.dtype if array.dtype != object else object)
        return np.concatenate(parts)

    # --- metadata (cached; small next to the vectors) ---------------------------------------
    @cached_property
    def page_ids(self) -> np.ndarray:
        return self._read("page_id").astype(object)

    @cached_property
    def book_ids(self) -> np.ndarray:
        return self._read("book_id").astype(object)

    @cached_property
    def page_types(self) -> np.ndarray:
        return self._read("page_type").astype(object)

    @cached_property
    def page_index(self) -> np.ndarray:
        return self._read("page_index")

    @cached_property
    def panel_mask(self) -> np.ndarray:
        return self._read("panel_mask")

    @cached_property
    def panel_bbox(self) -> np.ndarray:
        return self._read("panel_bbox")

    @cached_property
    def reading_order(self) -> np.ndarray:
        return self._read("reading_order")

    @cached_property
    def prose_lines(self) -> np.ndarray | None:
        """Lines of body text per page, counted on the page image at embed time
        (:func:`comics_analysis.inference.prose.prose_lines`); -1 where not measured; None for a
        store written before stores kept them."""
        return self._read("prose_lines") if "prose_lines" in self.page_columns else None

    @cached_property
    def panel_descriptions(self) -> np.ndarray | None:
        """The VLM scene description of each stored panel [n, P] ("" none); None for a store
        without them."""
        if "panel_description" not in self.page_columns:
            return None
        return self._read("panel_description").astype(object)

    @cached_property
    def position(self) -> dict[str, int]:
        """page_id -> position among the visible rows."""
        return {pid: i for i, pid in enumerate(self.page_ids)}

    def locate(self, page_id: str) -> int:
        try:
            return self.position[page_id]
        except KeyError:
            raise KeyError(
                f"{self.path}: page {page_id!r} is not in the store (or its chunk is unfinished)"
            ) from None

    # --- vectors ------------------------------------------------------------------------------
    def page_vectors(self, positions: np.ndarray | None = None) -> np.ndarray:
        """Unit page vectors as float32 [n, D] (all visible rows, or those at ``positions``)."""
        return self._vectors("page_embedding", "page_scale", positions)

    def panel_vectors(self, positions: np.ndarray | None = None, image: bool = False) -> np.ndarray:
        """Panel vectors as float32 [n, P, D]; empty slots are zero (see ``panel_mask``). ``image``:
        the image-only panel vectors (a store with ``image_vectors``)."""
        if image:
            self._need_image_vectors()
            return self._vectors("panel_image_embedding", "panel_image_scale", positions)
        return self._vectors("panel_embedding", "panel_scale", positions)

    def _need_image_vectors(self) -> None:
        if not self.image_vectors:
            raise ValueError(
                f"{self.path}: the store has no image-only panel vectors (written before they were "
                "stored, or by an embed_fn without them); embed the pages again into a new folder "
                "(`comics-analysis embed PAGES --model MODEL --out NEW`) for crop queries"
            )

    def _vectors(self, name: str, scale_name: str, positions: np.ndarray | None) -> np.ndarray:
        if positions is None:
            codes = self._read(name)
            scale = self._read(scale_name) if self.dtype == "int8" else None
        else:
            rows = self.rows[np.asarray(positions, dtype=np.int64)]
            codes = self.group[name].get_orthogonal_selection((rows,))
            scale = self.group[scale_name].get_orthogonal_selection((rows,)) if self.dtype == "int8" else None
        if self.dtype == "int8":
            return dequantize_int8(codes, scale)
        return codes.astype(np.float32)

    def iter_panel_chunks(self, image: bool = False):
        """(first position, panel vectors float32 [n, P, D], mask [n, P]) per finished chunk
        (``image``: the image-only panel vectors)."""
        if image:
            self._need_image_vectors()
        name, scale_name = (
            ("panel_image_embedding", "panel_image_scale") if image else ("panel_embedding", "panel_scale")
        )
        position = 0
        for c in self.finished:
            codes = self._chunk(name, c)
            if self.dtype == "int8":
                vectors = dequantize_int8(codes, self._chunk(scale_name, c))
            else:
                vectors = codes.astype(np.float32)
            yield position, vectors, self._chunk("panel_mask", c)
            position += len(codes)

    # --- text -----------------------------------------------------------------------------------
    @cached_property
    def text_table(self):
        """The lettered text of the finished chunks (pyarrow Table: page_id, panel, kind, order, text)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        files = [self.path / TEXT_DIR / f"chunk-{c:06d}.parquet" for c in self.finished]
        missing = [str(f) for f in files if not f.is_file()]
        if missing:
            raise FileNotFoundError(f"{self.path}: text table of a finished chunk is missing: {missing[0]}")
        if not files:
            return pa.table(
                {
                    "page_id": pa.array([], pa.string()),
                    "panel": pa.array([], pa.int16()),
                    "kind": pa.array([], pa.string()),
                    "order": pa.array([], pa.int32()),
                    "text": pa.array([], pa.string()),
                }
            )
        return pa.concat_tables([pq.read_table(f) for f in files])

    @cached_property
    def _texts(self) -> dict[str, list[tuple[int, str, str]]]:
        table = self.text_table
        out: dict[str, list[tuple[int, str, str]]] = {}
        for pid, panel, kind, text in zip(
            table["page_id"].to_pylist(),
            table["panel"].to_pylist(),
            table["kind"].to_pylist(),
            table["text"].to_pylist(),
        ):
            out.setdefault(pid, []).append((panel, kind, text))
        return out

    def texts(self, page_id: str, panel: int | None = None) -> list[str]:
        """Lettered text of a page (in order), or of one of its panels."""
        return [t for p, _k, t in self._texts.get(page_id, []) if panel is None or p == panel]

    @cached_property
    def page_has_text(self) -> np.ndarray:
        return np.array([pid in self._texts for pid in self.page_ids], bool)

    @cached_property
    def panel_has_text(self) -> np.ndarray:
        out = np.zeros((len(self), self.panels), bool)
        for pid, items in self._texts.items():
            i = self.position.get(pid)
            if i is None:
                continue
            for panel, _kind, _text in items:
                if 0 <= panel < self.panels:
                    out[i, panel] = True
        return out

    # --- views --------------------------------------------------------------------------------
    def to_xarray(self):
        """The store as an ``xarray.Dataset`` (lazy), restricted to finished rows."""
        import xarray as xr

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            ds = xr.open_zarr(str(self.path))
        return ds if self.complete else ds.isel(page=self.rows)

    def verify(self) -> list[dict[str, Any]]:
        """Every finished chunk of every array and its text file: present and decodable.

        Returns the problems, each ``{chunk, array, file, problem}``. In a store written before
        every chunk became a file (no ``every_chunk_written`` attribute), a missing chunk of an
        array other than page_embedding / page_id may be all fill values, so it is not reported.
        """
        strict = bool(self.attrs.get("every_chunk_written"))
        names = list(all_arrays(self.dtype, self.image_vectors, self.page_columns))
        problems = []
        for chunk in self.finished:
            for name in names:
                path = self._chunk_file(name, chunk)
                if not path.is_file():
                    if strict or name in ("page_embedding", "page_id"):
                        problems.append(
                            {"chunk": chunk, "array": name, "file": str(path), "problem": "missing"}
                        )
                    continue
                try:
                    self._chunk(name, chunk)
                except StoreError as exc:
                    problems.append({"chunk": chunk, "array": name, "file": str(path), "problem": str(exc)})
            text = self.path / TEXT_DIR / f"chunk-{chunk:06d}.parquet"
            try:
                import pyarrow.parquet as pq

                pq.read_table(text)
            except Exception as exc:
                problem = "missing" if not text.is_file() else f"{type(exc).__name__}: {exc}"
                problems.append({"chunk": chunk, "array": TEXT_DIR, "file": str(text), "problem": problem})
        return problems

    def info(self) -> dict[str, Any]:
        """Attributes, progress, and bytes on disk per part of the store."""
        sizes: dict[str, int] = {}
        for child in sorted(self.path.iterdir()):
            if child.is_dir():
                sizes[child.name] = sum(f.stat().st_size for f in child.rglob("*") if f.is_file())
            else:
                sizes[child.name] = child.stat().st_size
        mask = self.panel_mask
        return {
            "path": str(self.path),
            "attrs": self.attrs,
            "finished_chunks": len(self.finished),
            "num_chunks": int(self.attrs["num_chunks"]),
            "visible_rows": len(self),
            "complete": self.complete,
            "real_panels": int(mask.sum()),
            "books": len(set(self.book_ids)),
            "bytes_on_disk": sum(sizes.values()),
            "bytes_by_part": sizes,
        }

    def info_text(self, as_json: bool = False) -> str:
        """:meth:`info` as a readable summary (or, with ``as_json``, as JSON)."""
        info = self.info()
        if as_json:
            return json.dumps(info, indent=2, default=str)
        attrs = info["attrs"]
        lines = [f"store {info['path']}"]
        for key in (
            "model_id",
            "model_revision",
            "config_hash",
            "created_utc",
            "schema_version",
            "embedding_dtype",
        ):
            lines.append(f"  {key}: {attrs.get(key)}")
        lines.append(
            f"  rows: {info['visible_rows']} visible of {attrs['row_count']} planned; "
            f"chunks {info['finished_chunks']}/{info['num_chunks']} finished "
            f"({'complete' if info['complete'] else 'INCOMPLETE'})"
        )
        lines.append(
            f"  books: {info['books']}, real panels: {info['real_panels']}, "
            f"dims: P={attrs['panels']} D={attrs['dim']}"
        )
        vectors = info["visible_rows"] + info["real_panels"]
        total = info["bytes_on_disk"]
        lines.append(
            f"  bytes on disk: {total:,} ({total / max(1, info['visible_rows']):.0f} B/page, "
            f"{total / max(1, vectors):.0f} B per stored vector)"
        )
        lines += [f"    {part}: {size:,}" for part, size in info["bytes_by_part"].items()]
        return "\n".join(lines)
