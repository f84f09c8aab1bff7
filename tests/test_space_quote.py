"""Hybrid quote search in the Space (issue 17): the Quote tab's "hybrid (+ meaning)" box through
`gradio_client` against a launched app. A line planted in one panel of a synthetic collection,
embedded by a tiny untrained Closure Lite model: the lexical index alone finds that one panel;
hybrid mode fuses it with the model's text search of the quote (reciprocal rank fusion), so the
planted panel comes first with both rankings' score and the other places are the embedding
ranking's. A Space served without a model answers hybrid with a clear error."""

from collections import defaultdict

import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")
pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from comics_analysis.dataspec import Page, write_jsonl  # noqa: E402
from comics_analysis.inference.closure_lite import load_closure_lite, query_vector  # noqa: E402
from comics_analysis.space import SpaceConfig, launch  # noqa: E402
from comics_analysis.store import StoreSearch, build_fulltext, rrf, search_quote  # noqa: E402
from comics_analysis.store.embed import embed_store  # noqa: E402
from space_helpers import save_tiny_model, write_collection  # noqa: E402

LINE = "I can't believe the lighthouse keeper sold Grandma's accordion!"
QUERY = "lighthouse keeper sold accordion"
ANY = "(any)"


@pytest.fixture(scope="module")
def quote_space(tmp_path_factory):
    root = tmp_path_factory.mktemp("space-quote")
    pages = write_collection(root / "coll", books=2, story=4)
    planted = pages[5]
    assert len(planted.panels) >= 2
    data = planted.to_dict()
    data["texts"].append({"bbox": [10, 10, 40, 20], "text": LINE, "kind": "dialogue", "panel": 1})
    pages[5] = Page.from_dict(data)
    books = defaultdict(list)
    for page in pages:
        books[page.book_id].append(page)
    for book_id, records in books.items():  # the collection again, with the planted line
        write_jsonl(records, root / "coll" / "dataspec" / f"{book_id}.jsonl")
    model = save_tiny_model(root / "model", embed_dim=384)
    embed_store(root / "coll", model, root / "store.zarr", chunk_pages=4, show_progress=False)
    build_fulltext(root / "store.zarr")
    return root, planted


def _serve(config):
    demo, url = launch(config, block=False, quiet=True)
    return demo, gradio_client.Client(url, verbose=False)


def test_hybrid_quote_fuses_lettering_and_meaning(quote_space):
    root, planted = quote_space
    store = root / "store.zarr"
    # the expected fusion, from the library's parts: the lexical ranking and the model's text search
    lexical = search_quote(store, QUERY, k=50)
    assert [(h.page_id, h.panel) for h in lexical] == [(planted.page_id, 1)]  # only the planted line
    vector = query_vector(load_closure_lite(root / "model"), text=QUERY)
    dense = StoreSearch(store).search(vector=vector, k=50, level="panel")
    assert (planted.page_id, 1) in [(h.page_id, h.panel) for h in dense]  # every panel is ranked
    expected = rrf([[(h.page_id, h.panel) for h in lexical], [(h.page_id, h.panel) for h in dense]])[:5]

    demo, c = _serve(SpaceConfig(store=store, model=root / "model"))
    try:
        _, table, status = c.predict(QUERY, "fuzzy", 5, ANY, ANY, False, api_name="/search_quote")
        assert status == "1 result(s)" and [(r[1], r[2]) for r in table["data"]] == [(planted.page_id, 1)]
        assert table["data"][0][4] > 0.6  # a lexical score, not a fused one

        gallery, table, status = c.predict(QUERY, "fuzzy", 5, ANY, ANY, True, api_name="/search_quote")
        assert status.startswith("5 result(s) (hybrid") and len(gallery) == 5
        rows = table["data"]
        assert [(r[1], r[2]) for r in rows] == [key for key, _ in expected]
        assert [r[4] for r in rows] == pytest.approx([s for _, s in expected], abs=1e-4)  # the table rounds
        top = rows[0]
        assert (top[1], top[2]) == (planted.page_id, 1) and LINE in top[5]
        assert 1 / 61 < top[4] <= 2 / 61  # first lexically plus its place in the embedding ranking
        assert all(r[4] <= 1 / 61 + 1e-4 for r in rows[1:])  # the others: embedding ranking only
        # filters apply to both rankings
        _, table, _ = c.predict(QUERY, "fuzzy", 5, ANY, planted.book_id, True, api_name="/search_quote")
        assert table["data"][0][1] == planted.page_id
        assert {r[1].split("/")[0] for r in table["data"]} == {planted.page_id.split("/")[0]}
    finally:
        demo.close()


def test_hybrid_quote_without_a_model_says_so(quote_space):
    root, planted = quote_space
    demo, c = _serve(SpaceConfig(store=root / "store.zarr"))
    try:
        _, table, _ = c.predict(QUERY, "fuzzy", 5, ANY, ANY, False, api_name="/search_quote")
        assert table["data"][0][1] == planted.page_id  # lexical search needs no model
        with pytest.raises(Exception, match=r"hybrid quote search .*Closure Lite model.*--model"):
            c.predict(QUERY, "fuzzy", 5, ANY, ANY, True, api_name="/search_quote")
    finally:
        demo.close()
