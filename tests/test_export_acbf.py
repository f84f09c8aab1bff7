"""`export acbf`: ACBF 1.1 that validates against the real schema; the Craphound round trip (ACBF ->
ingest ground truth -> ACBF gives the same frames and text); a CBZ annotated, exported into a copy
of itself and ingested again gives its panels back; archives that cannot be rewritten (damaged,
encrypted, read-only) are reported and left byte-identical."""

from __future__ import annotations

import hashlib
import io
import subprocess
import zipfile

import pytest
from PIL import Image

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.cli import main
from comics_analysis.dataspec import Page, read_jsonl
from comics_analysis.dataspec.acbf import pages_from_acbf, parse_polygon
from comics_analysis.ingest import ingest
from comics_analysis.interop import acbf_xml
from comics_analysis.interop.acbf import sidecar_name
from comics_analysis.interop.acbf_info import from_comicinfo
from comics_analysis.synth import make_library
from zip_helpers import zipcrypto  # tests/: on the path through tests/conftest.py

etree = pytest.importorskip("lxml.etree")

NS = {"a": "http://www.acbf.info/xml/acbf/1.1"}
CRAPHOUND = "craphound-acbf/Doctorow, Cory - Craphound-1.1.acbf"


@pytest.fixture(scope="module")
def schema(shared_data):
    return etree.XMLSchema(etree.parse(str(shared_data / "schemas" / "acbf-1.1.xsd")))


def _valid(schema, xml: bytes):
    document = etree.fromstring(xml)
    assert schema.validate(document), schema.error_log
    return document


def _page(index: int, **extra) -> Page:
    return Page(
        page_id=f"b-0123abcd/p{index:04d}",
        book_id="b-0123abcd",
        page_index=index,
        width=300,
        height=400,
        **extra,
    )


def test_documents_validate_one_page_books_embedded_images_and_comicinfo_metadata(schema):
    panels = [
        {"bbox": [10, 10, 100, 100], "order": 0},
        {
            "bbox": [120, 10, 100, 100],
            "order": 1,
            "polygon": [[120, 10], [220, 10], [220, 110.4], [121, 109.6]],
        },
    ]
    texts = [
        {"bbox": [20, 20, 50, 20], "text": "HI & <BYE>", "kind": "dialogue", "panel": 0},
        {"bbox": [130, 20, 50, 20], "text": "LATER", "kind": "narration", "panel": 1},
        {
            "bbox": [20, 300, 50, 20],
            "text": "BOOM",
            "kind": "sfx",
            "polygon": [[20, 300], [70, 300], [45, 320]],
        },
        {"bbox": [200, 380, 20, 15], "text": "7", "kind": "page_number"},
        {"bbox": [100, 200, 40, 20], "text": "", "kind": "unknown"},
    ]
    pages = [_page(0), _page(1, panels=panels, texts=texts)]
    fields = {
        "Title": "Night Tram", "Writer": "Ann Mary Writer, Bob", "Genre": "Mystery, Drama, Science Fiction",
        "Series": "Trams", "Number": "3", "Volume": 2, "Year": 1990, "Month": 2, "Day": 30,
        "Summary": "A tram.", "Characters": "Jo, Al", "Tags": "trains", "AgeRating": "Teen", "Publisher": "P",
    }  # fmt: skip
    meta = from_comicinfo(fields, {})
    assert meta["authors"][:2] == [
        {"first-name": "Ann", "middle-name": "Mary", "last-name": "Writer", "activity": "Writer"},
        {"nickname": "Bob", "activity": "Writer"},
    ]
    assert meta["genres"] == [{"genre": "mystery"}, {"genre": "science_fiction"}]  # Drama is no ACBF genre
    assert meta["publish-date"] == "1990" and "publish-date-value" not in meta  # no 30 February
    xml = acbf_xml(pages, ["c.png", "p1.png"], meta, "en")
    document = _valid(schema, xml)
    page = document.find("a:body/a:page", NS)
    areas = page.findall("a:text-layer/a:text-area", NS)
    assert [a.get("type") for a in areas] == [None, "commentary", "audio", "sign", "sign"]
    assert [a.find("a:p", NS).text for a in areas][:2] == ["HI & <BYE>", "LATER"]
    assert areas[2].get("points") == "20,300 70,300 45,320"
    assert [f.get("points") for f in page.findall("a:frame", NS)] == [
        "10,10 110,10 110,110 10,110",
        "120,10 220,10 220,110 121,110",
    ]
    assert document.find(".//a:coverpage/a:image", NS).get("href") == "c.png"
    assert document.find(".//a:sequence", NS).get("volume") == "2"
    assert [sidecar_name(s, "b-1") for s in ("a/x.cbz", "a/folder", ".")] == [
        "a/x.acbf",
        "a/folder.acbf",
        "b-1.acbf",
    ]
    single = acbf_xml([_page(0, panels=panels[:1])], ["#p0"], {}, "und", {"p0": ("image/png", b"\x89PNG")})
    document = _valid(schema, single)
    assert document.find(".//a:coverpage", NS) is None and len(document.findall("a:body/a:page", NS)) == 1
    assert document.find("a:data/a:binary", NS).get("content-type") == "image/png"


def _clamped(points: str, size) -> list[tuple[float, float]]:
    return [(min(max(x, 0), size[0]), min(max(y, 0), size[1])) for x, y in parse_polygon(points, "x")]


def test_craphound_acbf_to_dataspec_to_acbf_gives_the_same_frames_and_text(shared_data, schema, tmp_path):
    original = shared_data / CRAPHOUND
    ingest([original], tmp_path / "ing", show_progress=False)
    out = tmp_path / "out"
    assert main(["--quiet", "export", "acbf", str(tmp_path / "ing" / "groundtruth"), "--out", str(out)]) == 0
    written = out / original.name
    document = _valid(schema, written.read_bytes())
    source = etree.parse(str(original)).getroot()

    def pages(root):
        return [root.find(".//a:coverpage", NS), *root.findall("a:body/a:page", NS)]

    deviation, frames, areas, same_text = 0.0, 0, 0, 0
    for old, new in zip(pages(source), pages(document), strict=True):
        href = old.find("a:image", NS).get("href")
        assert new.find("a:image", NS).get("href") == href
        with Image.open(original.parent / href) as image:
            size = image.size
        old_areas = old.findall("a:text-layer[@lang='en']/a:text-area", NS)
        pairs = list(zip(old.findall("a:frame", NS), new.findall("a:frame", NS), strict=True))
        pairs += list(zip(old_areas, new.findall("a:text-layer[@lang='en']/a:text-area", NS), strict=True))
        for a, b in pairs:
            # DataSpec keeps points inside the page (clamped, flagged): compare with the clamped original
            want, got = _clamped(a.get("points"), size), parse_polygon(b.get("points"), "y")
            assert len(want) == len(got)
            deviation = max(deviation, *(max(abs(p[0] - q[0]), abs(p[1] - q[1])) for p, q in zip(want, got)))
        frames += len(old.findall("a:frame", NS))
        areas += len(old_areas)
    assert (frames, areas) == (151, 273) and deviation <= 1.0
    # the same pages through the reader: boxes, kinds, panels and text of every unit
    before, after = pages_from_acbf(original), pages_from_acbf(written, image_root=original.parent)
    for a, b in zip(before, after, strict=True):
        assert [p.bbox for p in a.panels] == [p.bbox for p in b.panels]
        assert [(t.bbox, t.kind, t.panel, t.text) for t in a.texts] == [
            (t.bbox, t.kind, t.panel, t.text) for t in b.texts
        ]
        same_text += sum(x.text == y.text for x, y in zip(a.texts, b.texts))
    assert same_text == 273
    # the book's metadata is kept
    assert [t.text for t in document.findall(".//a:book-title", NS)] == ["Craphound", "Craphound (Zberač)"]
    assert len(document.findall("a:meta-data/a:book-info/a:author", NS)) == 7
    assert document.find(".//a:languages/a:text-layer", NS).get("lang") == "en"
    # the Slovak translation layers: ingest keeps them (groundtruth/lang-sk), export writes them back
    layers = [(t.get("lang"), t.get("show")) for t in document.findall(".//a:languages/a:text-layer", NS)]
    assert layers == [("en", "false"), ("sk", "true")]  # en: lettered in the images, the main language
    slovak = read_annotations(tmp_path / "ing" / "groundtruth" / "lang-sk")
    assert len(slovak) == 24 and sum(len(p.texts) for p in slovak) == 273
    before = pages_from_acbf(original, lang="sk")
    after = pages_from_acbf(written, image_root=original.parent, lang="sk")
    for a, b in zip(before, after, strict=True):
        assert [(t.bbox, t.kind, t.panel, t.text) for t in a.texts] == [
            (t.bbox, t.kind, t.panel, t.text) for t in b.texts
        ]
    assert any("Zberač" in t.text or "č" in t.text for p in after for t in p.texts)  # Slovak text


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    root = tmp_path_factory.mktemp("export-acbf")
    make_library(root / "lib", books=1, seed=3, size=(300, 420), story_pages=(2, 2), show_progress=False)
    books = root / "lib" / "books"
    ingest([books], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    return root, books


def test_a_cbz_exported_into_a_copy_of_itself_reads_back_with_its_panels(annotated, schema, tmp_path):
    root, books = annotated
    cbz = next(books.glob("*.cbz"))
    original = cbz.read_bytes()
    out = str(tmp_path / "copy")
    code = main(
        [
            "--quiet",
            "export",
            "acbf",
            str(root / "ann"),
            "--out",
            out,
            "--mode",
            "copy",
            "--library",
            str(books),
        ]
    )
    assert code == 0 and cbz.read_bytes() == original
    copy = tmp_path / "copy" / cbz.name
    with zipfile.ZipFile(cbz) as old, zipfile.ZipFile(copy) as new:
        assert {n: old.read(n) for n in old.namelist()} == {
            n: new.read(n) for n in new.namelist() if n != f"{cbz.stem}.acbf"
        }
        _valid(schema, new.read(f"{cbz.stem}.acbf"))
    ingest([copy], tmp_path / "again", show_progress=False)
    truth = {
        p.provenance.source_entry: p
        for p in read_jsonl(next((tmp_path / "again" / "groundtruth").glob("*.jsonl")))
    }
    pages = read_annotations(root / "ann")
    assert sum(len(p.panels) for p in pages) > 0
    for page in pages:
        got = truth[page.provenance.source_entry].panels
        flat = [v for p in page.panels for v in p.bbox]
        assert [v for p in got for v in p.bbox] == pytest.approx(flat, abs=1.0)
    # embedded: one self-contained .acbf, read on its own with the same page images
    code = main(
        ["--quiet", "export", "acbf", str(root / "ann"), "--out", str(tmp_path / "emb"), "--images", "embed"]
    )
    assert code == 0
    alone = tmp_path / "alone"
    alone.mkdir()
    (alone / "book.acbf").write_bytes(next((tmp_path / "emb").rglob("*.acbf")).read_bytes())
    rows = ingest([alone], tmp_path / "ing-alone", show_progress=False).rows()
    source_rows = ingest([books], root / "ingest", show_progress=False).rows()
    assert [r["sha256"] for r in rows] == [
        r["sha256"] for r in source_rows if r["book_id"] == pages[0].book_id
    ]


def test_archives_that_cannot_be_rewritten_are_left_byte_identical_and_reported(annotated, tmp_path, capsys):
    root, books = annotated
    cbz = next(books.glob("*.cbz"))
    lib = tmp_path / "lib"
    lib.mkdir()
    target = lib / cbz.name
    encrypted = zipcrypto("p1.png", cbz.read_bytes()[:64], b"secret")
    with zipfile.ZipFile(io.BytesIO(encrypted)) as check:  # a real encrypted zip: readable with the password
        assert (
            check.infolist()[0].flag_bits & 1 and check.read("p1.png", pwd=b"secret") == cbz.read_bytes()[:64]
        )
    data = cbz.read_bytes()
    cases = {
        "damaged": data[: len(data) - 30] + b"\0" * 30,  # the central directory's tail is damaged
        "encrypted": encrypted,
        "read-only": data,
    }
    for case, payload in cases.items():
        target.write_bytes(payload)
        target.chmod(0o444 if case == "read-only" else 0o644)
        for mode in ("copy", "in-place"):
            args = [
                "export",
                "acbf",
                str(root / "ann"),
                "--mode",
                mode,
                "--library",
                str(lib),
                "--out",
                str(tmp_path / "o"),
            ]
            code = main(args)
            printed = capsys.readouterr().out
            if case == "read-only" and mode == "copy":
                assert code == 0  # copying a read-only book is fine
                continue
            assert code == 1 and f"error: {cbz.name}" in printed, (case, mode, printed)
            assert hashlib.sha256(target.read_bytes()).digest() == hashlib.sha256(payload).digest(), (
                case,
                mode,
            )
            assert not list(lib.glob(".*.tmp")) and not list((tmp_path / "o").glob(".*.tmp"))
        assert "read-only" in printed or case != "read-only"
    target.chmod(0o644)
    # immutable (chattr +i): the rename itself is refused by the file system, even for root
    if subprocess.run(["chattr", "+i", str(target)], capture_output=True).returncode == 0:
        try:
            code = main(["export", "acbf", str(root / "ann"), "--mode", "in-place", "--library", str(lib)])
            assert code == 1 and target.read_bytes() == data
            assert not list(lib.glob(".*.tmp"))
        finally:
            subprocess.run(["chattr", "-i", str(target)], check=True)
