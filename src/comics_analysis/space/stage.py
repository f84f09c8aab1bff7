"""``stage_space``: a folder that is the comics-search Space, ready to upload as is.

Layout: ``app.py``, ``README.md`` (front matter: sdk gradio, app_file app.py) and
``requirements.txt`` from ``spaces/comics-search/``, the package source under ``src/`` (the
Space installs only third-party requirements) and the data under ``data/``: ``store.zarr``,
``model`` (optional), ``pages`` (optional: the pages and images the store was embedded from) and
``analysis`` (optional). The app finds them there without any variable set.
"""

from __future__ import annotations

import shutil
from pathlib import Path

SPACE_FILES = ("app.py", "README.md", "requirements.txt")


def space_template() -> Path:
    """``spaces/comics-search`` of the source checkout this package runs from."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        folder = parent / "spaces" / "comics-search"
        if (folder / "app.py").is_file():
            return folder
    raise FileNotFoundError(
        "spaces/comics-search/ not found beside the package; stage the Space from a source checkout"
    )


def stage_space(
    out: str | Path,
    store: str | Path,
    *,
    model: str | Path | None = None,
    pages: str | Path | None = None,
    analysis: str | Path | None = None,
) -> Path:
    """Write the Space folder ``out`` (replaced if it exists) and return it. ``pages``: a folder
    whose images the app shows (e.g. a comic_pages export, images embedded in its Parquet)."""
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    template = space_template()
    out.mkdir(parents=True)
    for name in SPACE_FILES:
        shutil.copy2(template / name, out / name)
    package = Path(__file__).resolve().parents[1]
    shutil.copytree(
        package, out / "src" / package.name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
    )
    data = out / "data"
    data.mkdir()
    shutil.copytree(store, data / "store.zarr")
    for source, name in ((model, "model"), (pages, "pages"), (analysis, "analysis")):
        if source is not None:
            shutil.copytree(source, data / name)
    return out
