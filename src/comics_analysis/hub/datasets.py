"""Publishing a dataset folder (Parquet shards + card) to the Hugging Face Hub.

:func:`stage_upload` decides, without any network, exactly which files a push uploads: the card
(``README.md``, whose YAML front matter must list configs whose ``data_files`` match files in
the folder), ``stats.json`` when present, and every Parquet file those ``data_files`` match.
:func:`push_dataset` checks the token and offline mode before touching the network, then calls
``HfApi.create_repo`` and ``HfApi.upload_folder`` with exactly the staged files (Parquet files
of an earlier push that this one no longer has are deleted in the same commit). DESIGN 4.3:
datasets go to the Hub as Parquet with a card, never with a loading script.
"""

from __future__ import annotations

import logging
from pathlib import Path

from ..dataset_builders.cards import read_front_matter
from .api import check_repo_id, upload, warn_left_local

log = logging.getLogger(__name__)

CARD = "README.md"
EXTRA_FILES = ("stats.json",)


def stage_upload(folder: str | Path) -> list[str]:
    """The files (paths relative to ``folder``, POSIX) a push of ``folder`` uploads, card first.
    Raises ValueError naming the file and field when the card or its data files are wrong."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"dataset folder not found: {folder}")
    card = folder / CARD
    if not card.is_file():
        raise FileNotFoundError(
            f"{card}: no dataset card (build the folder with `comics-analysis dataset build`)"
        )
    try:
        meta = read_front_matter(card)
    except ValueError as exc:
        raise ValueError(f"{card}: {exc}") from None
    configs = meta.get("configs")
    if not isinstance(configs, list) or not configs:
        raise ValueError(f"{card}: field configs: the front matter lists no configs")
    data: set[str] = set()
    for c, config in enumerate(configs):
        where = f"{card}: field configs[{c}]"
        if not isinstance(config, dict) or not isinstance(config.get("config_name"), str):
            raise ValueError(f"{where}.config_name: missing")
        entries = config.get("data_files")
        if not isinstance(entries, list) or not entries:
            raise ValueError(f"{where}.data_files: no data files for config {config['config_name']!r}")
        for d, entry in enumerate(entries):
            pattern = entry.get("path") if isinstance(entry, dict) else None
            if not isinstance(pattern, str) or pattern.startswith("/") or ".." in Path(pattern).parts:
                raise ValueError(f"{where}.data_files[{d}].path: expected a relative path, got {pattern!r}")
            matched = sorted(p for p in folder.glob(pattern) if p.is_file())
            if not matched:
                raise ValueError(f"{where}.data_files[{d}].path: {pattern!r} matches no file in {folder}")
            data.update(p.relative_to(folder).as_posix() for p in matched)
    staged = [CARD, *(name for name in EXTRA_FILES if (folder / name).is_file()), *sorted(data)]
    others = sorted(
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.relative_to(folder).as_posix() not in staged
    )
    warn_left_local(folder, others, "dataset")
    return staged


def push_dataset(
    folder: str | Path,
    repo_id: str,
    private: bool = False,
    token_env: str = "HF_TOKEN",
    commit_message: str | None = None,
) -> str:
    """Upload the staged files of ``folder`` to the dataset repo ``repo_id`` (created if needed;
    ``private`` applies when it is created). Returns the commit URL."""
    check_repo_id(repo_id)
    files = stage_upload(folder)
    return upload(
        folder,
        repo_id,
        "dataset",
        files,
        private=private,
        token_env=token_env,
        commit_message=commit_message or f"Upload {len(files) - 1} data files and the dataset card",
        delete_patterns=["*.parquet"],
    )
