"""The DataSpec books table (issue 20.1): ComicInfo, calibre and ACBF book metadata carried past
the manifest into ``books.parquet`` (ingest and annotate folders), the ``books`` config of a
``comic_pages`` export (loaded with ``datasets`` from the folder) and the Space's Page and Book
views (a served app driven by ``gradio_client``). Real archives: a namespaced-ComicInfo CBZ, a
calibre book folder (metadata.opf + cover.jpg + CBZ + PDF) and the Craphound ACBF."""

from __future__ import annotations

import json
import zipfile

import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.dataset_builders import export_comic_pages
from comics_analysis.dataspec.books import BookRecord, read_books
from comics_analysis.ingest import ingest
from test_comicinfo import FULL, NS, OPF, _png

CRAPHOUND = "craphound-acbf"


@pytest.fixture(scope="module")
def collection(tmp_path_factory, shared_data):
    """A library of three books, ingested and annotated (no OCR); their records by kind."""
    from comics_analysis.synth import make_book, write_cbz, write_pdf

    root = tmp_path_factory.mktemp("books")
    lib = root / "lib"
    lib.mkdir()
    with zipfile.ZipFile(lib / "tagged.cbz", "w") as archive:
        archive.writestr("ComicInfo.xml", FULL.format(ns=NS, manga="YesAndRightToLeft"))
        for i, colour in enumerate(["red", "green", "blue", "white"]):
            archive.writestr(f"p{i + 1}.png", _png(colour))
    folder = lib / "Calibre Library" / "A. Writer" / "Night Tram #3_ The Depot (7)"
    folder.mkdir(parents=True)
    book = make_book(71, kind="issue", size=(300, 420), story_pages=(3, 3))
    write_cbz(book, folder / "Night Tram 3.cbz")
    write_pdf(book, folder / "Night Tram 3.pdf")
    book.pages[0].image.save(folder / "cover.jpg")
    (folder / "metadata.opf").write_text(OPF)
    ingest([lib, shared_data / CRAPHOUND], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    books = read_books(root / "ingest" / "books.parquet")
    by_kind = {b.container_format: b for b in books.values()}
    by_kind["calibre"] = next(b for b in books.values() if "Night Tram" in (b.source_path or ""))
    by_kind["comicinfo"] = next(b for b in books.values() if (b.source_path or "").endswith("tagged.cbz"))
    return root, books, by_kind


def test_ingest_writes_one_book_record_per_book_with_the_source_of_each_field(collection):
    root, books, kinds = collection
    assert len(books) == 3
    tagged = kinds["comicinfo"]
    assert (tagged.title, tagged.series, tagged.number, tagged.volume, tagged.count) == (
        "The Lost Page",
        "Night Tram",
        "3",
        2,
        12,
    )
    assert [(c.name, c.role) for c in tagged.credits] == [
        ("A. Writer", "writer"),
        ("B. Pencil", "penciller"),
        ("C. Letter", "letterer"),
        ("D. Trans", "translator"),
    ]
    assert (tagged.year, tagged.month, tagged.day, tagged.publisher) == (1987, 6, 31, "Small Press")
    assert (tagged.languages, tagged.genres, tagged.tags) == (["fr"], ["Mystery", "Drama"], ["trains"])
    assert (tagged.manga, tagged.reading_direction, tagged.page_count) == ("YesAndRightToLeft", "rtl", 4)
    assert tagged.summary == "A tram that never arrives." and set(tagged.sources.values()) == {"comicinfo"}
    assert json.loads(tagged.metadata)["comicinfo"]["GTIN"] == "9780000000000"  # every field kept

    night = kinds["calibre"]  # calibre wins; the CBZ's own ComicInfo fills what the OPF lacks
    assert (night.title, night.series, night.number, night.publisher) == (
        "Night Tram #3: The Depot",
        "Night Tram",
        "3",
        "Calibre Press",
    )
    assert [(c.name, c.role) for c in night.credits] == [("A. Writer", "author"), ("B. Pencil", "author")]
    assert (night.year, night.month, night.day) == (1988, 3, 1)
    assert (night.languages, night.tags) == (["fra"], ["trains", "mystery"])
    assert night.sources["title"] == night.sources["credits"] == "calibre"
    assert night.container_format == "cbz" and night.page_count > 0  # the PDF is the duplicate

    acbf = kinds["acbf"]
    assert (acbf.title, acbf.number, acbf.publisher, acbf.year) == (
        "Craphound",
        "3",
        "Róbert Pastierovič",
        2012,
    )
    assert acbf.series == "Cory Doctorow's Futuristic Tales of the Here and Now"
    assert acbf.credits[0].name == "Cory Doctorow" and acbf.credits[0].role == "writer"
    assert ("Paul Pope", "cover_artist") in [(c.name, c.role) for c in acbf.credits]
    assert (acbf.languages, acbf.genres, acbf.page_count) == (["en", "sk"], ["science_fiction"], 24)
    assert acbf.characters == ["Craphound", "Jerry Abington", "Scott"]
    assert acbf.summary.startswith("This is the third part") and acbf.sources["title"] == "acbf"
    # annotate writes the same table beside its pages; every page's book has a record
    assert read_books(root / "ann" / "books.parquet") == books
    assert {p.book_id for p in read_annotations(root / "ann")} == set(books)


def test_the_dataset_has_a_books_config_that_joins_the_pages(collection, tmp_path):
    import datasets

    root, books, _ = collection
    result = export_comic_pages(root / "ann", tmp_path / "ds", show_progress=False)
    assert set(result.files) == {"all"} and result.stats["books"]["books"] == 3
    assert result.stats["build"]["books_files"] == {
        split: [f"books/{split}-00000-of-00001.parquet"] for split in result.files["all"]
    }  # a split with pages has its books
    assert result.stats["books"]["metadata_sources"] == {"acbf": 1, "calibre": 1, "comicinfo": 2}
    card = (tmp_path / "ds" / "README.md").read_text(encoding="utf-8")
    assert "config_name: books" in card and "### Fields of the `books` config" in card
    pages = datasets.load_dataset(str(tmp_path / "ds"), name="all")
    shelf = datasets.load_dataset(str(tmp_path / "ds"), name="books")
    assert set(shelf) == set(pages)  # books are split like their pages
    for split in pages:
        assert set(shelf[split]["book_id"]) == set(pages[split]["book_id"])
    rows = [row for split in shelf for row in shelf[split]]
    assert len(rows) == 3
    for row in rows:
        assert BookRecord.from_dict(row) == books[row["book_id"]]  # nothing lost on the way
    craphound = next(r for r in rows if r["title"] == "Craphound")
    assert {"field": "credits", "source": "acbf"} in craphound["sources"]
    assert shelf[next(iter(shelf))].features["credits"].feature["role"].dtype == "string"
    # a page source opened on the export reads pages, never the books config
    from comics_analysis.sources import open_pages

    assert len(open_pages(tmp_path / "ds")) == sum(len(pages[s]) for s in pages)


def test_the_space_shows_title_series_and_credits_beside_the_book(collection):
    pytest.importorskip("zarr")
    pytest.importorskip("torch")
    pytest.importorskip("gradio")
    gradio_client = pytest.importorskip("gradio_client")
    from comics_analysis.space import SpaceConfig, launch
    from comics_analysis.store.embed import embed_store
    from space_helpers import save_tiny_model

    root, _, kinds = collection
    model = save_tiny_model(root / "model", embed_dim=384)
    embed_store(root / "ann", model, root / "store.zarr", chunk_pages=16, show_progress=False)
    demo, url = launch(SpaceConfig(store=root / "store.zarr", model=model), block=False, quiet=True)
    try:
        client = gradio_client.Client(url, verbose=False)
        acbf = kinds["acbf"]
        strip, title = client.predict(acbf.book_id, api_name="/book_strip")
        assert len(strip) == 24 and f"### {acbf.book_id}" in title
        assert "**Craphound**" in title and "Cory Doctorow's Futuristic Tales of the Here and Now #3" in title
        assert "by Cory Doctorow, Dara Naraghi, Paul McCaffrey, Robbie Robbins et al." in title
        assert "2012 · Róbert Pastierovič" in title
        night = kinds["calibre"]
        _, title = client.predict(night.book_id, api_name="/book_strip")
        assert "**Night Tram #3: The Depot**" in title and "by A. Writer, B. Pencil" in title
        page_id = f"{kinds['comicinfo'].book_id}/p0001"
        _, markdown = client.predict(page_id, api_name="/view_page")
        assert "**The Lost Page** · Night Tram #3 · vol. 2 · 1987 · Small Press" in markdown
        assert "by A. Writer, B. Pencil, C. Letter, D. Trans" in markdown
    finally:
        demo.close()
