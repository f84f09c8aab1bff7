"""Page types where users look (issue 18.6): `segment` on a real CBZ (ingest -> annotate with OCR ->
`pss features --page-stats` -> `segment`, zero-shot) writes them into the DataSpec records and the
embedding store; `export comicinfo` puts them into the CBZ's ComicInfo `<Pages>` and a re-ingest
reads the same types back; the served Space shows them on the book strip (gradio_client)."""

import json
import zipfile
from pathlib import Path

import pytest

from comics_analysis.annotate import read_annotations
from comics_analysis.cli import main
from comics_analysis.ingest.comicinfo import parse
from comics_analysis.ingest.manifest import read_manifest
from comics_analysis.synth.book import make_book, write_cbz

gradio_client = pytest.importorskip("gradio_client")


def _cli(*args) -> None:
    assert main(["--quiet", *map(str, args)]) == 0, args


@pytest.fixture(scope="module")
def segmented(tmp_path_factory):
    from comics_analysis.store.embed import embed_store
    from space_helpers import save_tiny_model

    root = tmp_path_factory.mktemp("pss-output")
    lib = root / "lib"
    lib.mkdir()
    book = make_book((4, 11), style="real", size=(530, 800))  # cover, ad, two stories, a prose page
    write_cbz(book, lib / "night-tram.cbz")
    _cli("ingest", lib, "--out", root / "ingest")
    _cli("annotate", root / "ingest", "--out", root / "ann", "--detector", "classical", "--ocr", "rapidocr")
    model = save_tiny_model(root / "model", embed_dim=384)
    embed_store(root / "ann", model, root / "store.zarr", chunk_pages=8, show_progress=False)
    _cli("pss", "features", root / "ann", "--out", root / "features", "--page-stats")
    _cli(
        "segment", "all", "--features", root / "features", "--dataspec", root / "ann",
        "--store", root / "store.zarr", "--json", root / "segments.json",
    )  # fmt: skip
    (predicted,) = json.loads((root / "segments.json").read_text())["books"]
    truth = [(p.record.page_type, p.record.story_start) for p in book.pages]
    return root, lib, predicted, truth


def test_segment_writes_page_types_into_the_records(segmented):
    root, _, predicted, truth = segmented
    types = predicted["page_types"]
    assert len(set(types)) >= 3 and types[0] == "cover"  # not a constant answer
    # the zero-shot segmenter on this book: right on most pages (the figures of docs/pss.md)
    assert sum(t == p for (t, _), p in zip(truth, types)) >= len(truth) - 1
    records = sorted(read_annotations(root / "ann"), key=lambda p: p.page_index)
    assert [r.page_type for r in records] == types
    assert [bool(r.story_start) for r in records] == predicted["story_start"]
    assert {r.provenance.page_type_source for r in records} == {"pss:zero-shot"}


def test_comicinfo_pages_from_segment_read_back_by_ingest(segmented, tmp_path):
    root, lib, predicted, _ = segmented
    original = (lib / "night-tram.cbz").read_bytes()
    _cli("export", "comicinfo", root / "ann", "--out", tmp_path / "copy", "--mode", "copy", "--library", lib)
    assert (lib / "night-tram.cbz").read_bytes() == original
    copy = tmp_path / "copy" / "night-tram.cbz"
    with zipfile.ZipFile(copy) as archive:
        info = parse(archive.read("ComicInfo.xml"))
    assert [p.page_type for p in info.pages] == predicted["page_types"]
    assert [p.image for p in info.pages] == list(range(len(predicted["page_types"])))
    _cli("ingest", tmp_path / "copy", "--out", tmp_path / "again")
    rows = read_manifest(tmp_path / "again").pages.to_pylist()
    rows.sort(key=lambda r: r["page_index"])
    assert [r["page_type"] for r in rows] == predicted["page_types"]
    assert {r["page_type_source"] for r in rows} == {"comicinfo"}


def test_the_space_book_strip_shows_the_segmented_types(segmented):
    from comics_analysis.space import SpaceConfig, launch

    root, _, predicted, _ = segmented
    config = SpaceConfig.from_env(store=root / "store.zarr", model=root / "model")
    demo, url = launch(config, block=False, quiet=True)
    try:
        client = gradio_client.Client(url, verbose=False)
        strip, title = client.predict(predicted["book_id"], api_name="/book_strip")
    finally:
        demo.close()
    assert f"### {predicted['book_id']}" in title
    assert [s["caption"] for s in strip] == [f"p{i} · {t}" for i, t in enumerate(predicted["page_types"])]
    assert all(Path(s["image"]).is_file() for s in strip)
