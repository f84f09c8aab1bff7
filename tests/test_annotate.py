"""annotate: ingested pages -> DataSpec with panels in reading order; eval panels end to end."""

import json
import os
import subprocess
import sys

import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.dataspec import read_pages
from comics_analysis.ingest import ingest
from comics_analysis.metrics.panels import evaluate_panels
from comics_analysis.synth import make_library


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    root = tmp_path_factory.mktemp("annotate")
    make_library(
        root / "lib",
        books=3,
        seed=3,
        formats=("cbz", "pdf"),
        size=(700, 1050),
        story_pages=(4, 5),
        show_progress=False,
    )
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    files = annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    return root, files


def test_records_are_valid_and_point_at_the_ingested_images(annotated):
    root, files = annotated
    assert len(files) == 3 and all(f.is_file() for f in files)
    pages = read_annotations(root / "ann")
    truth = {p.page_id: p for p in read_pages(root / "lib" / "truth")}
    assert {p.page_id for p in pages} == set(truth)
    for page in pages:
        assert (root / "ingest" / page.image).is_file()
        assert page.reading_direction == truth[page.page_id].reading_direction  # from ComicInfo / ltr default
        assert [p.order for p in page.panels] == list(range(len(page.panels)))
        assert page.provenance.detector == "classical" and page.quality.detector_panels == len(page.panels)


def test_parquet_output_reloads_with_datasets(annotated):
    from datasets import load_dataset

    from comics_analysis.dataspec import from_hf_row, hf_features

    root, _ = annotated
    dataset = load_dataset(
        "parquet",
        data_files=str(root / "ann" / "dataspec.parquet"),
        split="train",
        cache_dir=str(root / "hf-cache"),
    )
    assert dataset.features == hf_features()
    rows = dataset.cast_column("image", hf_features(decode_images=False)["image"])
    assert sorted((from_hf_row(r) for r in rows), key=lambda p: p.page_id) == sorted(
        read_annotations(root / "ann"), key=lambda p: p.page_id
    )


def test_story_pages_match_the_ground_truth(annotated):
    root, _ = annotated
    truth = [p for p in read_pages(root / "lib" / "truth") if p.page_type == "story"]
    report = evaluate_panels(truth, read_annotations(root / "ann"))
    overall = report["overall"]
    assert report["missing"] == []
    assert overall.f1 >= 0.95, overall
    assert overall.order_exact >= 0.95, overall
    assert overall.ap50 >= 0.9, overall


def test_rerun_reuses_finished_books(annotated, tmp_path):
    root, files = annotated
    stamps = [f.stat().st_mtime_ns for f in files]
    again = annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    assert again == files and [f.stat().st_mtime_ns for f in files] == stamps
    forced = annotate(root / "ingest", tmp_path / "rtl", direction="rtl", ocr="none", show_progress=False)
    assert all(p.reading_direction == "rtl" for p in read_annotations(tmp_path / "rtl"))
    assert len(forced) == 3
    with pytest.raises(ValueError, match="direction"):
        annotate(root / "ingest", tmp_path / "x", direction="up")
    with pytest.raises(ValueError, match="unknown OCR engine"):
        annotate(root / "ingest", tmp_path / "x", ocr="easyocr")


def test_eval_panels_cli_on_real_openmantra_pages(tmp_path, shared_data):
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}

    def cli(*args):
        result = subprocess.run(
            [sys.executable, "-m", "comics_analysis", "-q", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=600,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    cli(
        "ingest",
        str(shared_data / "open-mantra" / "images"),
        "--out",
        str(tmp_path / "ing"),
        "--workers",
        "2",
    )
    # the folders carry no ComicInfo.xml, so the manga reading direction must be given
    cli(
        "annotate",
        str(tmp_path / "ing"),
        "--out",
        str(tmp_path / "ann"),
        "--workers",
        "2",
        "--direction",
        "rtl",
        "--ocr",
        "none",
    )
    out = cli(
        "eval",
        "panels",
        "--gt",
        str(shared_data / "open-mantra" / "annotation.json"),
        "--pred",
        str(tmp_path / "ann"),
        "--json",
        str(tmp_path / "report.json"),
    )
    report = json.loads((tmp_path / "report.json").read_text())
    assert "overall" in out and report["missing"] == []
    overall = report["overall"]
    assert overall["pages"] == 78 and overall["truth"] == 385
    assert overall["f1"] >= 0.78  # a published classical extractor scores about 0.78 here
    assert overall["order_exact"] >= 0.95
    assert set(report["books"]) == {"images/balloon_dream/ja", "images/tencho_isoro/ja"}


def test_annotate_with_rapidocr_reads_the_lettering(tmp_path):
    pytest.importorskip("rapidocr", reason="the 'ocr' extra is not installed")
    from comics_analysis.metrics.text import evaluate_text

    make_library(tmp_path / "lib", books=1, seed=8, size=(700, 1050), story_pages=(3, 3), show_progress=False)
    ingest([tmp_path / "lib" / "books"], tmp_path / "ingest", show_progress=False)
    annotate(tmp_path / "ingest", tmp_path / "ann", ocr="rapidocr", show_progress=False)
    pages = read_annotations(tmp_path / "ann")
    assert all(p.provenance.ocr == "rapidocr" and p.provenance.ocr_version for p in pages)
    truth = [p for p in read_pages(tmp_path / "lib" / "truth") if p.page_type == "story"]
    report = evaluate_text(truth, pages, kinds=("dialogue",))["overall"]
    assert report.recall >= 0.9 and report.cer <= 0.05, report
    assert report.panel_accuracy >= 0.9, report
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "comics_analysis",
            "eval",
            "text",
            "--gt",
            str(tmp_path / "lib" / "truth"),
            "--pred",
            str(tmp_path / "ann"),
            "--kinds",
            "dialogue",
            "--json",
            str(tmp_path / "text.json"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert "CER" in result.stdout
    cli_report = json.loads((tmp_path / "text.json").read_text())["overall"]
    assert cli_report["truth"] >= report.truth and cli_report["cer"] <= 0.05  # also scores non-story pages
    story = {p.page_id for p in truth}
    for page in pages:
        if page.page_id in story:
            for i, panel in enumerate(page.panels):
                lettered = [t.text for t in page.texts if t.panel == i and t.kind == "dialogue"]
                assert panel.text.dialogue == lettered


def test_coco_import_detector(tmp_path, shared_data):
    from comics_analysis.annotate.detectors.coco import CocoPredictions
    from comics_analysis.dataspec import pages_from_openmantra

    truth = pages_from_openmantra(shared_data / "open-mantra" / "annotation.json")
    images, annotations = [], []
    for i, page in enumerate(truth):
        name = page.provenance.source_entry.removeprefix("images/")  # e.g. balloon_dream/ja/000.jpg
        images.append({"id": i + 1, "file_name": name})
        for panel in page.panels:
            annotations.append({"image_id": i + 1, "category_id": 1, "bbox": list(panel.bbox), "score": 0.9})
        annotations.append(
            {"image_id": i + 1, "category_id": 2, "bbox": [1, 1, 5, 5], "score": 0.99}
        )  # character
        annotations.append(
            {"image_id": i + 1, "category_id": 1, "bbox": [1, 1, 50, 50], "score": 0.2}
        )  # weak
    coco = tmp_path / "pred.json"
    coco.write_text(
        json.dumps(
            {"images": images[:-1], "annotations": [a for a in annotations if a["image_id"] != len(images)]}
        )
    )
    ingest([shared_data / "open-mantra" / "images"], tmp_path / "ing", show_progress=False)
    annotate(
        tmp_path / "ing",
        tmp_path / "ann",
        detector=f"coco:{coco}",
        direction="rtl",
        ocr="none",
        show_progress=False,
    )
    pages = read_annotations(tmp_path / "ann")
    report = evaluate_panels(truth, pages)["overall"]
    assert report.pages == 78 and report.tp == 385 - len(truth[-1].panels)
    assert report.precision == 1.0 and report.order_exact >= 0.9  # our reading order on their boxes
    skipped = [p for p in pages if any(f.startswith("detector:") for f in p.quality.flags)]
    assert len(skipped) == 1 and skipped[0].quality.flags == ["detector:page not in the COCO file"]
    # the true panels of some manga pages overlap: flagged, and only that
    assert {f for p in pages for f in p.quality.flags if p is not skipped[0]} == {"panels:overlap"}
    # a bare results list needs an id map
    results = tmp_path / "results.json"
    results.write_text(json.dumps([a for a in annotations if a["image_id"] == 1]))
    with pytest.raises(ValueError, match="id map"):
        CocoPredictions(results)
    mapped = CocoPredictions(results, id_map={"1": "balloon_dream/ja/000.jpg"})
    assert len(mapped.for_path("images/balloon_dream/ja/000.jpg")) == len(truth[0].panels)
    assert mapped.for_path("other/000.jpg") is None
    with pytest.raises(ValueError, match="not a readable COCO"):
        annotate(tmp_path / "ing", tmp_path / "x", detector=f"coco:{tmp_path / 'missing.json'}", ocr="none")


def test_books_stream_from_the_manifest_one_at_a_time(annotated, tmp_path):
    """annotate reads the manifest book by book (its pages are listed together), not all rows at
    once; a manifest whose books are interleaved is grouped in memory, with the same books."""
    import pyarrow.parquet as pq

    from comics_analysis.annotate.books import ShardBooks

    root, files = annotated
    books = ShardBooks(root / "ingest")
    assert books.grouped and list(books.counts) == [f.stem for f in files]
    streamed = list(books)
    assert len(streamed) == 3
    assert {rows[0]["book_id"]: len(rows) for rows in streamed} == books.counts
    assert all([r["page_index"] for r in rows] == sorted(r["page_index"] for r in rows) for rows in streamed)
    # interleave the books' rows: grouped in memory instead
    table = pq.read_table(root / "ingest" / "manifest.parquet")
    (tmp_path / "shuffled").mkdir()
    pq.write_table(
        table.take(list(range(0, table.num_rows, 2)) + list(range(1, table.num_rows, 2))),
        tmp_path / "shuffled" / "manifest.parquet",
    )
    pq.write_table(
        pq.read_table(root / "ingest" / "errors.parquet"), tmp_path / "shuffled" / "errors.parquet"
    )
    mixed = ShardBooks(tmp_path / "shuffled")
    assert not mixed.grouped and mixed.counts == books.counts
    assert sorted(map(str, mixed)) == sorted(map(str, streamed))
    two = [ShardBooks(root / "ingest", 2, i).counts for i in range(2)]
    assert {**two[0], **two[1]} == books.counts and not set(two[0]) & set(two[1])


def test_engine_units_carry_where_the_rows_are_not_the_rows(annotated, tmp_path):
    """An engine unit (annotate --engine ray) names its book and the manifest rows it spans, a few
    hundred bytes whatever the book's size; the worker reads the same rows the local engine
    streams (grouped and interleaved manifests, small row groups, shards)."""
    import pickle

    import pyarrow.parquet as pq

    from comics_analysis.annotate.books import BookSpan, ShardBooks, read_book
    from comics_analysis.annotate.pipeline import AnnotateOptions, engine_units

    root, _ = annotated
    table = pq.read_table(root / "ingest" / "manifest.parquet")
    layouts = {"grouped": list(range(table.num_rows))}
    layouts["interleaved"] = list(range(0, table.num_rows, 2)) + list(range(1, table.num_rows, 2))
    for name, order in layouts.items():
        folder = tmp_path / name
        folder.mkdir()
        # row groups of 3 rows: a book's rows span several, and books share them
        pq.write_table(table.take(order), folder / "manifest.parquet", row_group_size=3)
        pq.write_table(pq.read_table(root / "ingest" / "errors.parquet"), folder / "errors.parquet")
        for shards, index in ((1, 0), (2, 0), (2, 1)):
            books = ShardBooks(folder, shards, index)
            units = engine_units(books, folder, tmp_path / "out", AnnotateOptions(ocr="none"))
            assert [key for key, _ in units] == [rows[0]["book_id"] for rows in books]
            for (key, unit), rows in zip(units, books):
                span = unit[0]
                assert isinstance(span, BookSpan) and span.book_id == key
                assert not any(isinstance(part, list) for part in unit)  # no rows in the unit
                assert len(pickle.dumps(unit)) < 1200, f"{key}: a unit of {len(pickle.dumps(unit))} bytes"
                got = read_book(span)
                assert sorted(got, key=lambda r: r["page_index"]) == sorted(
                    rows, key=lambda r: r["page_index"]
                )
            if name == "grouped":
                assert all(len(unit[0].runs) == 1 for _, unit in units)
            else:
                assert all(len(unit[0].runs) > 1 for _, unit in units)
    with pytest.raises(ValueError, match="no ok rows of book nope"):
        read_book(BookSpan(str(tmp_path / "grouped" / "manifest.parquet"), "nope", ((0, 2),)))
