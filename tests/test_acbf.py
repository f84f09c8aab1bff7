"""ACBF ground truth -> DataSpec (dataspec.acbf), through sources.open_pages and `eval panels/text`."""

import json
import os
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from PIL import Image

from comics_analysis.dataspec import DataSpecError, Page, Provenance, book_id_for_file
from comics_analysis.dataspec.acbf import pages_from_acbf, parse_points, text_kind
from comics_analysis.metrics.panels import evaluate_panels, pair_pages
from comics_analysis.sources import open_pages


def run_cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    command = [sys.executable, "-m", "comics_analysis", "--quiet", *args]
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    return result


NS = {"a": "http://www.acbf.info/xml/acbf/1.1"}
CRAPHOUND = "craphound-acbf/Doctorow, Cory - Craphound-1.1.acbf"

SMALL = """<?xml version="1.0" encoding="UTF-8"?>
<ACBF xmlns="http://www.acbf.info/xml/acbf/1.1">
 <meta-data>
  <book-info>
   <author><first-name>Ann</first-name><last-name>Artist</last-name></author>
   <book-title lang="en">Small Book</book-title>
   <genre>humor</genre>
   <coverpage><image href="cover.png"/></coverpage>
   <languages><text-layer lang="en" show="false"/><text-layer lang="fr" show="true"/></languages>
  </book-info>
  <publish-info><publisher>Nobody</publisher></publish-info>
  <document-info>
   <author><nickname>me</nickname></author>
   <creation-date>2024</creation-date>
  </document-info>
 </meta-data>
 <body>
  <page>
   <image href="p1.png"/>
   <text-layer lang="en">
    <text-area points="20,20 80,20 80,40 20,40">
     <p>HELLO <emphasis>THERE</emphasis>,</p>
     <p>FRIEND!<a href="#n1">[*]</a></p>
    </text-area>
    <text-area points="110,10 190,10 190,30 110,30" type="commentary"><p>MEANWHILE...</p></text-area>
    <text-area points="100,150 200,150 200,190 100,190" type="sign"><p>SHOP</p></text-area>
    <text-area points="10,120 60,120 60,140" type="thought"><p>HMM</p></text-area>
   </text-layer>
   <text-layer lang="fr">
    <text-area points="20,20 80,20 80,40 20,40"><p>BONJOUR !</p></text-area>
   </text-layer>
   <frame points="5,5 95,5 95,95 5,95"/>
   <frame points="105,5 195,5 195,95 105,95"/>
   <frame points="5,105 10,100 195,105 195,145 5,145"/>
  </page>
 </body>
</ACBF>
"""


def write_book(folder: Path, xml: str = SMALL, images=("cover.png", "p1.png")) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name in images:
        Image.new("RGB", (200, 200), "white").save(folder / name)
    path = folder / "Small Book.acbf"
    path.write_text(xml, encoding="utf-8")
    return path


def test_small_book_by_hand(tmp_path):
    path = write_book(tmp_path / "small")
    cover, page = pages_from_acbf(path)
    book_id = book_id_for_file(path)
    assert book_id.startswith("small-book-")
    assert [cover.page_id, page.page_id] == [f"{book_id}/p0000", f"{book_id}/p0001"]
    assert (cover.image, page.image, page.width, page.height) == ("cover.png", "p1.png", 200, 200)
    assert cover.panels == [] and cover.texts == []
    assert [p.bbox for p in page.panels] == [(5, 5, 90, 90), (105, 5, 90, 90), (5, 100, 190, 45)]
    assert [p.order for p in page.panels] == [0, 1, 2] and {p.source for p in page.panels} == {"gt"}
    # the first declared language (en); paragraphs joined, inline markup kept, link labels dropped
    assert [(t.text, t.kind, t.panel) for t in page.texts] == [
        ("HELLO THERE, FRIEND!", "dialogue", 0),  # no type: speech
        ("MEANWHILE...", "narration", 1),
        ("SHOP", "unknown", -1),  # half of it lies below every panel
        ("HMM", "dialogue", 2),
    ]
    assert page.texts[1].bbox == (110, 10, 80, 20)
    assert page.panels[0].text.dialogue == ["HELLO THERE, FRIEND!"]
    assert page.panels[1].text.narration == ["MEANWHILE..."]
    assert page.provenance.source_path == "small" and page.provenance.source_entry == "p1.png"
    (_, french) = pages_from_acbf(path, lang="fr")
    assert [t.text for t in french.texts] == ["BONJOUR !"]


def test_text_kinds_and_points():
    assert [text_kind(t) for t in (None, "speech", "Thought", "formal", "commentary", "caption")] == [
        "dialogue",
        "dialogue",
        "dialogue",
        "dialogue",
        "narration",
        "narration",
    ]
    assert [text_kind(t) for t in ("audio", "sfx", "letter", "sign", "whatever")] == [
        "sfx",
        "sfx",
        "unknown",
        "unknown",
        "unknown",
    ]
    assert parse_points("3,4 10.5,4 10.5,9", "x") == (3, 4, 7.5, 5)
    with pytest.raises(ValueError, match="frame\\[2\\]: point '7' is not 'x,y'"):
        parse_points("1,1 7", "frame[2]")
    with pytest.raises(ValueError, match="missing or empty"):
        parse_points("", "frame[1]")


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        (
            '<frame points="105,5 195,5 195,95 105,95"/>',
            '<frame points="105,5 195"/>',
            "body/page\\[1\\]/frame\\[2\\]",
        ),
        ('points="110,10 190,10 190,30 110,30"', 'points="110,10 190,10"', "text-area\\[2\\]: polygon"),
        ('<image href="p1.png"/>', '<image href="missing.png"/>', "image not found: .*missing.png"),
        ('<image href="p1.png"/>', '<image href="#embedded"/>', "embedded or inside an archive"),
        ("</body>", "</bodyx>", "not a well-formed"),
    ],
)
def test_malformed_books_name_file_and_element(tmp_path, old, new, message):
    assert old in SMALL
    path = write_book(tmp_path, SMALL.replace(old, new))
    with pytest.raises(DataSpecError, match=message) as info:
        pages_from_acbf(path)
    assert str(path) in str(info.value)


def test_unknown_language_and_unsafe_xml(tmp_path):
    path = write_book(tmp_path)
    with pytest.raises(DataSpecError, match="no text layer in language 'de'; the file has en, fr"):
        pages_from_acbf(path, lang="de")
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><ACBF>&a;</ACBF>'
    with pytest.raises(DataSpecError, match="safe ACBF"):
        pages_from_acbf(write_book(tmp_path / "bomb", bomb))
    other = write_book(tmp_path / "other", '<ACBF xmlns="urn:x"/>')
    with pytest.raises(DataSpecError, match="unknown ACBF namespace"):
        pages_from_acbf(other)


def test_craphound_counts_match_the_xml(shared_data):
    path = shared_data / CRAPHOUND
    root = ET.parse(path).getroot()  # read independently of the reader under test
    body_pages = root.findall("a:body/a:page", NS)
    pages = pages_from_acbf(path)
    assert len(pages) == 1 + len(body_pages) == 24
    assert pages[0].image == root.find(".//a:coverpage/a:image", NS).get("href") == "cover.jpg"
    assert [p.image for p in pages[1:]] == [p.find("a:image", NS).get("href") for p in body_pages]
    assert [len(p.panels) for p in pages[1:]] == [len(p.findall("a:frame", NS)) for p in body_pages]
    assert sum(len(p.panels) for p in pages) == 151
    english = [len(p.findall("a:text-layer[@lang='en']/a:text-area", NS)) for p in body_pages]
    assert [len(p.texts) for p in pages[1:]] == english and sum(english) == 273
    types = [a.get("type") for p in body_pages for a in p.findall("a:text-layer[@lang='en']/a:text-area", NS)]
    assert [t.kind for p in pages for t in p.texts] == [text_kind(t) for t in types]
    first = [float(v) for v in body_pages[0].find("a:frame", NS).get("points").replace(",", " ").split()]
    xs, ys = first[0::2], first[1::2]
    assert pages[1].panels[0].bbox == (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
    with Image.open(shared_data / "craphound-acbf" / "page1.jpg") as img:
        assert (pages[1].width, pages[1].height) == img.size
    assert pages[1].texts[0].text.startswith("CRAPHOUND HAD WICKED YARD-SALE KARMA")
    # every text-area lies inside a frame on this book's story pages
    assert all(t.panel >= 0 for p in pages[1:] for t in p.texts)
    slovak = pages_from_acbf(path, lang="sk")
    assert [len(p.texts) for p in slovak] == [len(p.texts) for p in pages]
    source = open_pages(path, argument="--gt")
    assert len(source) == 24 and source.page(1).page_id == pages[1].page_id


def test_craphound_is_valid_acbf_1_1(shared_data):
    etree = pytest.importorskip("lxml.etree", reason="lxml is not installed: the XSD is not checked")
    schema = etree.XMLSchema(etree.parse(str(shared_data / "schemas" / "acbf-1.1.xsd")))
    assert schema.validate(etree.parse(str(shared_data / CRAPHOUND))), schema.error_log
    assert schema.validate(etree.fromstring(SMALL.encode("utf-8")).getroottree()), schema.error_log


def test_pairs_with_pages_ingested_from_the_book_folder(tmp_path):
    truth = pages_from_acbf(write_book(tmp_path / "small"))

    def predicted(index: int, name: str) -> Page:
        return Page(
            page_id=f"small-0123abcd/p{index:04d}",
            book_id="small-0123abcd",
            page_index=index,
            width=200,
            height=200,
            provenance=Provenance(source_path=".", source_entry=name),  # `ingest small/`
        )

    pairs, missing = pair_pages(truth, [predicted(0, "p1.png"), predicted(1, "cover.png")])
    assert [(t.image, p.provenance.source_entry) for t, p in pairs] == [
        ("cover.png", "cover.png"),
        ("p1.png", "p1.png"),
    ]
    assert missing == []
    # a file name shared by two predicted books is ambiguous: no pairing on the name alone
    pairs, missing = pair_pages(truth, [predicted(0, "p1.png"), predicted(1, "p1.png")])
    assert pairs == [] and missing == ["small/cover.png", "small/p1.png"]
    report = evaluate_panels(truth, truth, with_ap=False)
    assert report["overall"].order_all == 1.0 and report["overall"].kendall_tau_all == 1.0


def test_eval_panels_and_text_cli_on_an_acbf_book(tmp_path):
    book = write_book(tmp_path / "small")
    run_cli("ingest", str(book.parent), "--out", str(tmp_path / "ingest"))
    run_cli("annotate", str(tmp_path / "ingest"), "--out", str(tmp_path / "ann"), "--ocr", "none")
    result = run_cli(
        "eval",
        "panels",
        "--gt",
        str(book),
        "--pred",
        str(tmp_path / "ann"),
        "--json",
        str(tmp_path / "p.json"),
    )
    assert "order all" in result.stdout
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["missing"] == [] and report["overall"]["pages"] == 2
    assert report["overall"]["truth"] == 3 and report["overall"]["order_all_pages"] == 1
    result = run_cli(
        "eval", "text", "--gt", str(book), "--pred", str(tmp_path / "ann"), "--json", str(tmp_path / "t.json")
    )
    text = json.loads((tmp_path / "t.json").read_text())["overall"]
    assert (text["truth"], text["pred"], text["true_words"], text["matched_words"]) == (4, 0, 6, 0)
    assert text["word_recall"] == 0.0 and text["word_precision"] is None


def test_benchmark_report_renders_acbf_results(tmp_path):
    from comics_analysis.benchmarks.report import collect, render_markdown, write_results
    from comics_analysis.metrics.text import evaluate_text

    truth = pages_from_acbf(write_book(tmp_path / "small"))
    panels = evaluate_panels(truth, truth, with_ap=False)
    write_results(
        tmp_path / "bench" / "craphound.json",
        {
            "book": "Small Book.acbf",
            "detector": "classical",
            "ocr": "rapidocr",
            "panels": {"overall": panels["overall"].as_dict()},
            "text": {"all": evaluate_text(truth, truth)["overall"].as_dict()},
            "openmantra_panels": {"books": {"bd": panels["overall"].as_dict()}},
        },
    )
    found, _ = collect(tmp_path / "bench")
    assert [s["file"] for s in found] == ["craphound.json"]
    text = render_markdown(tmp_path / "bench")
    assert "all panels 1.000 / 1.000 (0 merged, 0 unassigned)" in text
    assert (
        "| ACBF ground truth, Small Book.acbf (2 pages), classical detector, OCR rapidocr, all lettering"
        in text
    )
    assert "units exact @ IoU 0.5 P / R; merged-unit rate | 1.000 / 1.000; 0.000 |" in text
    assert "| OpenMantra bd (2 pages) |" in text
