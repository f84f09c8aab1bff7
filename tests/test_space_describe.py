"""Description search in the Space (issue 17): the Search tab's Description query through
`gradio_client` against a launched app: a planted panel description is found first by a query in
other words (the offline MiniLM), and a store without descriptions answers with the library's
error (embed again). No model is served: description search needs none."""

import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")
pytest.importorskip("gradio")
gradio_client = pytest.importorskip("gradio_client")

from comics_analysis.space import SpaceConfig, launch  # noqa: E402
from space_helpers import PLANTED, QUERIES, described_store  # noqa: E402


def _serve(store):
    demo, url = launch(SpaceConfig(store=store), block=False, quiet=True)
    return demo, gradio_client.Client(url, verbose=False)


def test_space_finds_a_planted_description_by_meaning(tmp_path):
    records = described_store(tmp_path, described=True)
    demo, c = _serve(tmp_path / "s.zarr")
    try:
        for query, index in list(QUERIES.items())[:3]:
            gallery, table, status = c.predict(query, 3, "(any)", "(any)", api_name="/search_describe")
            assert status == "3 result(s)" and len(gallery) == 3
            top = table["data"][0]
            assert top[1] == records[index].page_id, (query, table["data"])
            assert top[2] == 1 and top[5] == PLANTED[index]
            assert top[4] > table["data"][1][4]
        # the book filter: only that book's panels
        book = records[3].book_id
        _, table, _ = c.predict(
            "an aircraft above the sandy wasteland", 5, "(any)", book, api_name="/search_describe"
        )
        ids = {r.page_id for r in records if r.book_id == book}
        assert table["data"][0][1] == records[3].page_id and {row[1] for row in table["data"]} <= ids
        with pytest.raises(Exception, match="describe what a panel shows first"):
            c.predict("  ", 3, "(any)", "(any)", api_name="/search_describe")
    finally:
        demo.close()


def test_space_on_a_store_without_descriptions_says_to_embed_again(tmp_path):
    described_store(tmp_path, described=False)
    demo, c = _serve(tmp_path / "s.zarr")
    try:
        with pytest.raises(Exception, match=r"keeps no panel descriptions.*embed the pages again"):
            c.predict("a red truck", 3, "(any)", "(any)", api_name="/search_describe")
    finally:
        demo.close()
