"""Description search (issue 17.3, semantic text over VLM descriptions): planted panel
descriptions are stored with the pages, embedded once with the offline MiniLM, and found by a
query in other words; in Python and with `search --describe`."""

from __future__ import annotations

import json

import numpy as np
import pytest

pytest.importorskip("zarr")
pytest.importorskip("torch")

from comics_analysis.cli import main
from comics_analysis.store import open_store, search_descriptions
from comics_analysis.store.describe import INDEX_FILE
from space_helpers import PLANTED, QUERIES, described_store


@pytest.fixture(scope="module")
def described(tmp_path_factory):
    root = tmp_path_factory.mktemp("describe")
    records = described_store(root)
    return root, records


def test_planted_descriptions_are_found_by_meaning(described):
    root, records = described
    store = root / "s.zarr"
    st = open_store(store)
    stored = st.panel_descriptions
    assert stored.shape == (len(records), st.panels)
    assert {(i, j) for i, j in zip(*np.nonzero(stored != ""))} == {(i, 1) for i in PLANTED}
    assert all(stored[i, 1] == PLANTED[i] for i in PLANTED)
    for query, index in QUERIES.items():
        hits = search_descriptions(store, query, k=3)
        assert hits[0].page_id == records[index].page_id, (query, [h.page_id for h in hits])
        assert hits[0].text == [PLANTED[index]] and hits[0].panel == 1
        page = records[index]
        x, y, w, h = page.panels[1].bbox
        box = (x / page.width, y / page.height, w / page.width, h / page.height)
        assert hits[0].bbox == pytest.approx(box)
        assert hits[0].score > hits[1].score
    # only described panels are hits; the index is saved once and reused
    hits = search_descriptions(store, "a truck", k=20)
    assert {h.page_id for h in hits} == {records[i].page_id for i in PLANTED}
    index = store / "index" / INDEX_FILE
    before = index.stat().st_mtime_ns
    book = records[3].book_id
    hits = search_descriptions(store, "an aircraft above the sandy wasteland", k=5, book_id=book)
    assert index.stat().st_mtime_ns == before
    assert all(h.book_id == book for h in hits) and hits[0].page_id == records[3].page_id
    with pytest.raises(ValueError, match="no-such-book': not in"):
        search_descriptions(store, "x", book_id="no-such-book")


def test_search_describe_cli(described, capsys):
    root, records = described
    args = ["-q", "search", str(root / "s.zarr"), "--describe", "a plane over the desert", "-k", "2"]
    assert main([*args, "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert hits[0]["page_id"] == records[3].page_id and hits[0]["text"] == [PLANTED[3]]
    assert main(["-q", "search", str(root / "s.zarr"), "--describe", "x", "--quote", "y"]) == 2
    assert "--describe is its own query" in capsys.readouterr().err


def test_a_store_without_descriptions_says_so(tmp_path):
    described_store(tmp_path, described=False)
    assert open_store(tmp_path / "s.zarr").panel_descriptions is None
    with pytest.raises(ValueError, match="keeps no panel descriptions"):
        search_descriptions(tmp_path / "s.zarr", "a truck")
