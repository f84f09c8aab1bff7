"""Hostile DataSpec and dataset inputs: paths from data stay inside their root, and a dataset
build keeps every image wherever it runs from."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from PIL import Image

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.dataset_builders.comic_pages import export_comic_pages
from comics_analysis.dataspec import DataSpecError, Page, write_jsonl
from comics_analysis.dataspec.validate import validate_files
from comics_analysis.ingest import ingest
from comics_analysis.sources import open_image
from comics_analysis.synth import make_library


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile-ds")
    make_library(root / "lib", books=2, seed=8, size=(240, 340), story_pages=(2, 2), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    return root


def test_dataset_build_run_from_inside_the_ingest_folder_embeds_every_image(annotated, tmp_path):
    """`datasets`' Image feature drops the bytes of a row whose relative path exists from the
    current folder; run from inside the ingest folder, every row used to lose its image."""
    out = tmp_path / "export"
    result = subprocess.run(
        [
            *(sys.executable, "-m", "comics_analysis", "--quiet", "dataset", "build"),
            *(str(annotated / "ann"), "--out", str(out)),
        ],
        cwd=annotated / "ingest",
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    shards = sorted((out / "all").glob("*.parquet"))
    assert shards
    rows = [r for f in shards for r in pq.read_table(f).to_pylist()]
    assert rows and all(r["image"]["bytes"] for r in rows)
    for row in rows:  # the bytes are the page file, as stored
        assert row["image"]["bytes"] == (annotated / "ingest" / row["image"]["path"]).read_bytes()


def _page_with_image(image: str) -> Page:
    return Page.from_dict(
        {"page_id": "evil-000000000000/p0000", "book_id": "evil-000000000000", "page_index": 0}
        | {"width": 10, "height": 10, "image": image}
    )


@pytest.mark.parametrize("image", ["../secret.jpg", "/etc/passwd", "pages/../../secret.jpg"])
def test_image_paths_that_leave_the_root_are_refused_everywhere(tmp_path, image):
    root = tmp_path / "root"
    root.mkdir()
    Image.new("RGB", (10, 10), "red").save(tmp_path / "secret.jpg")
    page = _page_with_image(image)
    records = tmp_path / "records.jsonl"
    write_jsonl([page], records)

    check = validate_files([records])  # `dataspec validate`
    assert check.failed == 1 and "outside its images root" in check.files[0].error
    assert page.page_id in check.files[0].error

    with pytest.raises(DataSpecError, match="outside the images root"):  # any pages source
        open_image(page.image, image_root=root, page=page)

    ann = tmp_path / "ann"  # `dataset build --images ROOT`
    (ann / "dataspec").mkdir(parents=True)
    write_jsonl([page], ann / "dataspec" / "evil.jsonl")
    with pytest.raises(DataSpecError, match="outside the images root") as info:
        export_comic_pages(ann, tmp_path / "out", image_dir=root, show_progress=False)
    assert info.value.page_id == page.page_id and info.value.field == "image"
    assert not (tmp_path / "out").exists()


def test_a_symlink_out_of_the_root_is_refused(tmp_path):
    root = tmp_path / "root"
    (root / "pages").mkdir(parents=True)
    Image.new("RGB", (10, 10), "red").save(tmp_path / "secret.jpg")
    os.symlink(tmp_path / "secret.jpg", root / "pages" / "p.jpg")
    page = _page_with_image("pages/p.jpg")
    with pytest.raises(DataSpecError, match="outside the images root"):
        open_image(page.image, image_root=root, page=page)


def test_a_manifest_path_that_leaves_the_ingest_folder_is_a_flagged_page(annotated, tmp_path):
    """annotate reads page paths from the manifest: one pointing outside becomes that page's
    error, and the other pages are annotated."""
    import shutil

    import pyarrow as pa

    ingest_dir = tmp_path / "ingest"
    shutil.copytree(annotated / "ingest", ingest_dir)
    table = pq.read_table(ingest_dir / "manifest.parquet")
    paths = table.column("path").to_pylist()
    paths[0] = "../../secret.png"
    table = table.set_column(table.schema.get_field_index("path"), "path", pa.array(paths))
    pq.write_table(table, ingest_dir / "manifest.parquet")
    annotate(ingest_dir, tmp_path / "ann", ocr="none", show_progress=False)
    pages = {p.page_id: p for p in read_annotations(tmp_path / "ann")}
    first = table.column("page_id").to_pylist()[0]
    assert any("outside the images root" in f for f in pages[first].quality.flags)
    others = [p for pid, p in pages.items() if pid != first]
    assert others and not any(f.startswith("image:") for p in others for f in p.quality.flags)
    assert any(p.panels for p in others)  # the other pages were annotated
    json.dumps([p.to_dict() for p in pages.values()])


def test_ingest_and_annotate_agree_on_the_pixel_cap(tmp_path):
    """A 100 M px page (a few KB as PNG): ingest refuses it by default; ingested with a raised
    cap, annotate flags it as too large and annotates the other pages (before: the two stages
    disagreed and a page between the caps ended the annotate run)."""
    import warnings

    lib = tmp_path / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "big.cbz", "w") as archive:
        for name, size in (("p1.png", (10_000, 10_000)), ("p2.png", (300, 420))):
            buf = io.BytesIO()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                Image.new("L", size, 255).save(buf, "PNG")
            archive.writestr(name, buf.getvalue())
    default = ingest([lib], tmp_path / "default", show_progress=False)
    assert [(e["entry"], e["kind"]) for e in default.error_rows()] == [("p1.png", "pixel_cap")]
    raised = ingest([lib], tmp_path / "raised", max_pixels=200_000_000, show_progress=False)
    assert all(r["status"] == "ok" for r in raised.rows()) and len(raised.rows()) == 2
    annotate(tmp_path / "raised", tmp_path / "ann", ocr="none", show_progress=False)
    pages = sorted(read_annotations(tmp_path / "ann"), key=lambda p: p.page_index)
    assert [f.split(" ")[0] for f in pages[0].quality.flags] == ["image:too_large"]
    assert not pages[1].quality.flags or "image:too_large" not in pages[1].quality.flags[0]


def test_a_killed_builds_temporary_folder_is_removed_by_the_next_build(annotated, tmp_path):
    out = tmp_path / "export"
    pid_max = int(Path("/proc/sys/kernel/pid_max").read_text())
    dead = tmp_path / f".export.tmp-{pid_max + 1}"  # no process can have this id
    alive = tmp_path / f".export.tmp-{os.getppid()}"  # a running process: not ours to remove
    for folder in (dead, alive):
        (folder / "all").mkdir(parents=True)
        (folder / "all" / "train-00000-of-00001.parquet").write_bytes(b"half a shard")
    export_comic_pages(annotated / "ann", out, show_progress=False)
    assert not dead.exists() and alive.exists()
    assert (out / "stats.json").is_file()


def test_a_missing_page_image_is_retried_by_the_next_annotate(annotated, tmp_path):
    """An image file that is not there (an unmounted disk, a file being copied) is a transient
    failure: flagged, but the book is not marked done, so the next run annotates it."""
    import shutil

    from comics_analysis.ingest import read_manifest

    ingest_dir = tmp_path / "ingest"
    shutil.copytree(annotated / "ingest", ingest_dir)
    row = read_manifest(ingest_dir).ok()[0]
    moved = tmp_path / "moved.png"
    (ingest_dir / row["path"]).rename(moved)
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "comics_analysis",
            "--quiet",
            "annotate",
            str(ingest_dir),
            "--out",
            str(tmp_path / "ann"),
            "--ocr",
            "none",
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 1 and "run the same command again" in run.stderr  # says so, exits 1
    first = {p.page_id: p for p in read_annotations(tmp_path / "ann")}
    assert first[row["page_id"]].quality.flags[0].startswith("image:unavailable")
    moved.rename(ingest_dir / row["path"])
    annotate(ingest_dir, tmp_path / "ann", ocr="none", show_progress=False)
    second = {p.page_id: p for p in read_annotations(tmp_path / "ann")}
    assert second[row["page_id"]].panels and not any(
        f.startswith("image:") for f in second[row["page_id"]].quality.flags
    )


def test_the_datasets_builder_embeds_images_wherever_it_runs_from(annotated, tmp_path, monkeypatch):
    """`load_comic_pages` goes through `datasets`' own writer: its Image feature used to drop the
    bytes of rows whose relative path exists from the current folder."""
    from comics_analysis.dataset_builders.comic_pages import load_comic_pages

    monkeypatch.chdir(annotated / "ingest")  # every row's image path exists from here
    ds = load_comic_pages(annotated / "ann", split="train", cache_dir=tmp_path / "hf")
    raw = ds.cast_column("image", __import__("datasets").Image(decode=False))
    assert len(raw) and all(row["image"]["bytes"] for row in raw)
    monkeypatch.chdir(tmp_path)
    assert ds[0]["image"].size == (ds[0]["width"], ds[0]["height"])  # decodes from the bytes
