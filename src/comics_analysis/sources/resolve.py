"""``open_pages(arg)``: what pages an argument means, decided in one place.

Accepted forms, tried in this order (a path is looked at, never guessed from its name alone):

====================================  ===========================================================
``synthetic:N[:SEED][:real]``         N synthetic books with labels (seed 0 unless given; ``real``:
                                      books closer to real ones, ``synth.realistic``)
a folder with ``manifest.parquet``    an ``ingest`` output: its ok pages, without annotations;
                                      images under the folder
a folder with ``dataspec/`` or        an ``annotate`` output: ``dataspec/*.jsonl``; images under
``images-root.txt``                   the root recorded in ``images-root.txt`` (else the folder)
a folder with ``dataset_dict.json``   a ``datasets`` folder written by ``save_to_disk``
or ``state.json``                     (a DatasetDict has splits)
a folder of Parquet shards            a ``comic_pages`` export (``dataset build``):
                                      ``<config>/<split>-NNNNN-of-NNNNN.parquet``, or the shards
                                      directly in the folder; images embedded
a folder of ``.json`` / ``.jsonl``    DataSpec records (searched recursively); images under it
a ``.jsonl`` file                     DataSpec records; images beside the file
a ``.json`` file                      a CoMix COCO file (a dict with ``images`` and
                                      ``annotations``), an OpenMantra ``annotation.json`` (a list
                                      of books) or one DataSpec page; images beside the file
a ``.acbf`` file                      an ACBF book: frames, text-areas of one language
                                      (:func:`~comics_analysis.dataspec.acbf.pages_from_acbf`);
                                      images beside the file
a ``.parquet`` file                   rows with the DataSpec features (e.g. ``dataspec.parquet``)
a ``datasets.Dataset`` / ``DatasetDict``, a list of ``Page``, a :class:`PageSource`
====================================  ===========================================================

``image_root`` always wins over the recorded or implied root. ``split`` (``train``,
``validation``, ``test``; ``val`` and ``dev`` mean ``validation``) picks one split of a source
that has them; without it every page is returned.

comic_pages configs: ``config=None`` means :data:`DEFAULT_CONFIG` (``all``, every page: what
embedding, search and evaluation want). Training asks for ``default_config=TRAINING_CONFIG``
(``aligned``, the subset DESIGN 3.3 trains on, when the export has it, else ``all``). Sources
that are not exports have no configs: ``all`` is accepted (it is every page), any other name is
an error (write a subset with ``dataspec subsets --write`` first).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..annotate.align import SUBSETS
from ..annotate.pipeline import IMAGES_ROOT_FILE, annotation_files, read_annotations, recorded_images_root
from ..dataspec import DataSpecError, Page, Provenance, pages_from_openmantra, read_pages
from ..dataspec.acbf import pages_from_acbf
from ..ingest.manifest import MANIFEST_FILE, read_manifest
from .pages import DatasetSource, JsonlSource, PageSource, RecordSource, SyntheticSource, split_name

DEFAULT_CONFIG = "all"
TRAINING_CONFIG = "aligned"
SYNTHETIC = re.compile(r"synthetic:(?P<n>\d+)(?::(?P<seed>\d+))?(?::(?P<style>plain|real))?$")
_SHARD = re.compile(r"(?P<split>[A-Za-z_]+)-\d{5}-of-\d{5}\.parquet$")
FORMS = (
    "an ingest folder (manifest.parquet), an annotate folder, DataSpec .json/.jsonl files or folders, "
    "an OpenMantra annotation.json, an ACBF .acbf file, a CoMix COCO .json, a datasets save_to_disk "
    "folder, a comic_pages export folder, or synthetic:N[:SEED]"
)


def choose_config(available: Sequence[str], config: str | None, default_config: str, where: str) -> str:
    """The comic_pages config to read of an export that has ``available`` (module docstring)."""
    if config is not None:
        if config not in available:
            raise FileNotFoundError(
                f"config: {where} has no config {config!r}; it has {', '.join(available)}"
            )
        return config
    for name in (default_config, DEFAULT_CONFIG):
        if name in available:
            return name
    raise FileNotFoundError(
        f"config: {where} has no {default_config!r} or {DEFAULT_CONFIG!r} config; it has "
        f"{', '.join(available)}: pass config="
    )


def open_pages(
    arg: Any,
    config: str | None = None,
    image_root: str | Path | None = None,
    split: str | None = None,
    *,
    default_config: str = DEFAULT_CONFIG,
    lang: str | None = None,
    argument: str = "pages",
    lazy: bool = False,
) -> PageSource:
    """The :class:`PageSource` that ``arg`` means (module docstring). ``lang`` picks the text of an
    OpenMantra file (default ``ja``) or an ACBF file (default: its first text layer); ``argument`` is
    the caller's parameter name, used in errors. ``lazy``: an annotate folder is read book by
    book as pages are asked for (:class:`JsonlSource`; for one pass in order, e.g. ``embed``)."""
    source = _open(arg, config, image_root, default_config, lang, argument, lazy)
    if split is not None:
        return source.split(split)
    return source


def _open(arg, config, image_root, default_config, lang, argument, lazy=False) -> PageSource:
    if isinstance(arg, PageSource):
        return arg
    if isinstance(arg, str) and (
        arg.startswith("synthetic:") or (arg == "synthetic" and not Path(arg).exists())
    ):
        match = SYNTHETIC.match(arg)
        if not match:
            raise ValueError(f"{argument}: expected synthetic:N_BOOKS[:SEED][:real], got {arg!r}")
        _no_config(config, arg)
        return SyntheticSource(int(match["n"]), seed=int(match["seed"] or 0), style=match["style"] or "plain")
    if isinstance(arg, (str, Path)):
        return _open_path(Path(arg), config, image_root, default_config, lang, argument, lazy)
    root = Path(image_root) if image_root is not None else None
    if _is_dataset_dict(arg):
        return _dataset_dict(arg, "datasets.DatasetDict", root)
    if hasattr(arg, "column_names") and hasattr(arg, "select"):
        return DatasetSource(lambda: arg, type(arg).__name__, image_root=root)
    if isinstance(arg, Sequence) and not isinstance(arg, (str, bytes)):
        return RecordSource(arg, "pages", image_root=root)
    raise TypeError(f"{argument}: cannot read pages from a {type(arg).__name__}; expected a path, {FORMS}")


def _no_config(config: str | None, where: Any) -> None:
    if config not in (None, DEFAULT_CONFIG):
        raise ValueError(
            f"config: {where} is not a comic_pages export, so it has no config {config!r} (only "
            f"{DEFAULT_CONFIG!r}, every page); write that subset first (dataspec subsets --write)"
        )


def _open_path(path: Path, config, image_root, default_config, lang, argument, lazy=False) -> PageSource:
    if not path.exists():
        raise FileNotFoundError(f"{argument}: {path} does not exist (expected {FORMS})")
    given = Path(image_root) if image_root is not None else None
    if path.is_dir():
        if (path / MANIFEST_FILE).is_file():
            _no_config(config, path)
            return RecordSource(
                _manifest_pages(path), f"ingest folder {path}", path=path, image_root=given or path
            )
        if (path / "dataspec").is_dir() or (path / IMAGES_ROOT_FILE).is_file():
            _no_config(config, path)
            root = given or recorded_images_root(path) or path
            if lazy:
                description = f"annotate output {path} (images under {root})"
                return JsonlSource(annotation_files(path), description, path=path, image_root=root)
            return RecordSource(
                read_annotations(path),
                f"annotate output {path} (images under {root})",
                path=path,
                image_root=root,
            )
        if (path / "dataset_dict.json").is_file() or (path / "state.json").is_file():
            import datasets

            _no_config(config, path)
            data = datasets.load_from_disk(str(path))
            if _is_dataset_dict(data):
                return _dataset_dict(data, f"datasets folder {path}", given, path)
            return DatasetSource(lambda: data, f"datasets folder {path}", path=path, image_root=given)
        if any(path.glob("*.parquet")) or any(path.glob("*/*.parquet")):
            return _export(path, config, given, default_config)
        if any(p.suffix in {".json", ".jsonl"} for p in path.rglob("*") if p.is_file()):
            _no_config(config, path)
            return RecordSource(
                read_pages(path), f"DataSpec folder {path}", path=path, image_root=given or path
            )
        raise ValueError(f"{argument}: {path} is a folder of no known kind (expected {FORMS})")
    _no_config(config, path)
    root = given or path.parent
    if path.suffix == ".jsonl":
        return RecordSource(read_pages(path), f"DataSpec file {path}", path=path, image_root=root)
    if path.suffix == ".json":
        return _json_file(path, given, root, lang or "ja")
    if path.suffix.lower() == ".acbf":
        pages = pages_from_acbf(path, image_root=given, lang=lang)
        return RecordSource(pages, f"ACBF book {path}", path=path, image_root=root)
    if path.suffix == ".parquet":
        import datasets

        return DatasetSource(
            lambda: datasets.Dataset.from_parquet(str(path)),
            f"Parquet file {path}",
            path=path,
            image_root=root,
        )
    raise ValueError(f"{argument}: {path} is a file of no known kind (expected {FORMS})")


def _json_file(path: Path, given: Path | None, root: Path, lang: str) -> PageSource:
    try:
        head = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise DataSpecError(f"not valid JSON: {exc}", file=str(path)) from None
    if isinstance(head, dict) and "images" in head and "annotations" in head:
        from ..dataset_builders.comix import pages_from_coco  # lazy: `datasets`, only for CoMix COCO files

        pages = pages_from_coco(path, image_dir=given, require_images=False)
        return RecordSource(pages, f"COCO file {path}", path=path, image_root=root)
    if isinstance(head, list):
        pages = pages_from_openmantra(path, lang=lang, image_root=given)
        return RecordSource(pages, f"OpenMantra annotation {path} ({lang})", path=path, image_root=root)
    return RecordSource(read_pages(path), f"DataSpec file {path}", path=path, image_root=root)


def _manifest_pages(folder: Path) -> list[Page]:
    """The ok pages of an ingest run, as DataSpec records without annotations."""
    pages = []
    for row in read_manifest(folder).ok():
        pages.append(
            Page(
                page_id=row["page_id"],
                book_id=row["book_id"],
                page_index=row["page_index"],
                image=row["path"],
                width=row["width"],
                height=row["height"],
                reading_direction=row.get("reading_direction") or "ltr",
                provenance=Provenance(
                    source_path=row["source_path"],
                    source_entry=row["source_entry"],
                    image_sha256=row["sha256"],
                ),
            )
        )
    return pages


def _is_dataset_dict(value: Any) -> bool:
    return hasattr(value, "column_names") and isinstance(value.column_names, dict)


def _dataset_dict(data, description: str, root: Path | None, path: Path | None = None) -> PageSource:
    """A DatasetDict: the splits by canonical name; all of them, in split order, when none is asked."""
    import datasets

    parts = {split_name(name): part for name, part in data.items()}
    ordered = [parts[name] for name in sorted(parts, key=lambda s: _SPLIT_ORDER[s])]

    def split_loader(name):
        return lambda: DatasetSource(
            lambda: parts[name], f"{description} ({name})", path=path, image_root=root, split_name=name
        )

    return DatasetSource(
        lambda: datasets.concatenate_datasets(ordered) if len(ordered) > 1 else ordered[0],
        description,
        path=path,
        image_root=root,
        splits={name: split_loader(name) for name in parts},
    )


_SPLIT_ORDER = {"train": 0, "validation": 1, "test": 2}


def _export(folder: Path, config: str | None, root: Path | None, default_config: str) -> PageSource:
    """A comic_pages export: the config's shards, all splits (in file-name order) or one split."""
    configs = sorted(  # `books` holds one row per book, not pages (dataset_builders.books)
        p.name for p in folder.iterdir() if p.is_dir() and p.name != "books" and any(p.glob("*.parquet"))
    )
    chosen = None
    base = folder
    if configs and not any(folder.glob("*.parquet")):
        ordered = [c for c in SUBSETS if c in configs] + [c for c in configs if c not in SUBSETS]
        chosen = choose_config(ordered, config, default_config, f"comic_pages export {folder}")
        base = folder / chosen
    else:
        _no_config(config, folder)
    files = sorted(base.glob("*.parquet"))
    by_split: dict[str, list[str]] = defaultdict(list)
    for file in files:
        match = _SHARD.search(file.name)
        try:
            by_split[split_name(match["split"]) if match else "train"].append(str(file))
        except ValueError as exc:
            raise ValueError(f"{file}: {exc}") from None
    described = f"comic_pages export {folder}" + (f" (config {chosen})" if chosen else "")

    def parquet(names: list[str]):
        import datasets

        return lambda: datasets.Dataset.from_parquet(names)

    def split_loader(name):
        return lambda: DatasetSource(
            parquet(by_split[name]),
            f"{described}, {name} split",
            path=folder,
            image_root=root,
            config=chosen,
            split_name=name,
        )

    return DatasetSource(
        parquet([str(f) for f in files]),
        f"{described}, {len(files)} shard(s)",
        path=folder,
        image_root=root,
        config=chosen,
        splits={name: split_loader(name) for name in by_split},
    )
