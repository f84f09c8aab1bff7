"""Hostile requests to the Space: lettering that is HTML is shown as text, a huge text query and
an oversized upload are refused, through a real launched app and `gradio_client`."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")
pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from comics_analysis.dataspec import Page, read_jsonl, write_jsonl  # noqa: E402
from comics_analysis.space import SpaceConfig, launch  # noqa: E402
from comics_analysis.space.backend import MAX_QUERY_CHARS, plain  # noqa: E402
from comics_analysis.store.embed import embed_store  # noqa: E402
from space_helpers import save_tiny_model, write_collection  # noqa: E402 - tests/ via conftest

EVIL = '<img src="http://127.0.0.1:9/leak.png"> [click](http://127.0.0.1:9/) **LOUD**'


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    root = tmp_path_factory.mktemp("space-hostile")
    pages = write_collection(root / "coll", books=1, story=3)
    target = next(p for p in pages if p.texts)
    path = next((root / "coll" / "dataspec").glob("*.jsonl"))
    records = read_jsonl(path)
    for i, page in enumerate(records):
        if page.page_id == target.page_id:
            data = page.to_dict()
            data["texts"][0]["text"] = EVIL
            records[i] = Page.from_dict(data)
    write_jsonl(records, path)
    model = save_tiny_model(root / "model", embed_dim=384)
    embed_store(root / "coll", model, root / "store.zarr", chunk_pages=8, show_progress=False)
    demo, url = launch(SpaceConfig(store=root / "store.zarr", model=root / "model"), block=False, quiet=True)
    try:
        yield gradio_client.Client(url, verbose=False), target.page_id, root
    finally:
        demo.close()


def test_lettering_that_is_html_is_shown_as_text(app):
    client, page_id, _ = app
    _, markdown = client.predict(page_id, api_name="/view_page")
    assert "<img" not in markdown  # HTML escaped: nothing for the browser to fetch
    assert not re.search(r"(?<!\\)\]\(", markdown)  # no live link
    assert not re.search(r"(?<!\\)\*\*LOUD", markdown)  # no emphasis from the data
    assert plain(EVIL) in markdown and "&lt;img" in markdown


def test_a_huge_text_query_is_refused(app):
    client, _, _ = app
    with pytest.raises(Exception, match="at most 1000 characters"):
        client.predict("x" * (MAX_QUERY_CHARS * 20), 5, "page", "(any)", "(any)", api_name="/search_text")


def test_an_oversized_upload_is_refused(app, tmp_path):
    client, _, _ = app
    big = tmp_path / "big.png"
    big.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(21 << 20))  # past the 20 MB upload limit
    with pytest.raises(Exception, match=r"(?i)too large|exceeds|maximum|size"):
        client.predict(
            gradio_client.handle_file(str(big)), 4, "page", "(any)", "(any)", api_name="/search_image"
        )
