"""Full-text ("quote") search over a store's lettering: planted lines found through OCR-like
errors, phrase vs words, no match, the missing-index error, incremental (re)builds, hybrid
fusion and the CLI.

The store holds synthetic pages (``synth.records``: template lettering, so many panels share
most of their words) with two planted lines; vectors come from ``store_embedder`` (a
deterministic TEST embedder).
"""

import json
import sqlite3

import pytest

from comics_analysis.cli import main
from comics_analysis.dataspec import Page
from comics_analysis.store import (
    FulltextMissing,
    build_fulltext,
    normalise,
    open_fulltext,
    rrf,
    search_quote,
    write_store,
)
from comics_analysis.store.fulltext import FULLTEXT_FILE, trigrams
from comics_analysis.synth.records import make_page_records
from store_embedder import embed_pages, text_vector

pytest.importorskip("zarr")

LINE = "I can't believe the lighthouse keeper sold Grandma's accordion!"
OTHER = "The accordion keeper believes the lighthouse was sold"  # the same words, another order


def _with_line(page: Page, panel: int, text: str) -> Page:
    data = page.to_dict()
    data["texts"].append({"bbox": [10, 10, 40, 20], "text": text, "kind": "dialogue", "panel": panel})
    return Page.from_dict(data)


@pytest.fixture(scope="module")
def quote_store(tmp_path_factory):
    pages = make_page_records(6, 20, seed=5)
    slots = [i for i, p in enumerate(pages) if p.page_type == "story" and len(p.panels) >= 3]
    line_slot, other_slot = slots[3], slots[-2]
    pages[line_slot] = _with_line(pages[line_slot], 2, LINE)
    pages[other_slot] = _with_line(pages[other_slot], 1, OTHER)
    out = tmp_path_factory.mktemp("quote") / "s.zarr"
    write_store(pages, out, embed_pages, model_id="test-embedder", chunk_pages=32, show_progress=False)
    build = build_fulltext(out)
    assert build.panels > 100 and not build.removed_chunks
    return out, pages[line_slot], pages[other_slot]


def test_normalise_folds_ocr_confusions_and_punctuation():
    assert normalise("I can't  believe—it's 1T!") == "i cant believe its it"
    assert normalise("Café «0K»") == "cafe ok"
    assert trigrams("abcab") == ["abc", "bca", "cab"]


@pytest.mark.parametrize(
    "query",
    [
        LINE,  # exact
        "I can't believe the lighthouse keeper sold Grandma's accordion",
        "1 cant beleive the lighthouse keper sold Grandmas accordion",  # I->1, apostrophes, letters
        "believe the lighthuose keeper sold",  # a part of the line, two letters swapped
        "CAN'T BELIEVE THE LIGHTHOUSE KEEPER SOLD GRANDMA'S ACC0RDION",  # all caps, O->0
    ],
)
def test_a_line_with_ocr_errors_ranks_its_panel_first(quote_store, query):
    out, page, _other = quote_store
    hits = search_quote(out, query, k=5)
    assert hits, query
    top = hits[0]
    assert (top.page_id, top.panel) == (page.page_id, 2)
    assert LINE in top.text and top.bbox is not None and all(0 <= v <= 1 for v in top.bbox)
    assert top.score > 0.8 and all(h.score <= top.score for h in hits)
    assert top.book_id == page.book_id and top.page_index == page.page_index


def test_phrase_needs_the_words_in_order_words_do_not(quote_store):
    out, page, other = quote_store
    phrase = search_quote(out, "lighthouse keeper sold", mode="phrase")
    assert [(h.page_id, h.panel) for h in phrase] == [(page.page_id, 2)]
    words = search_quote(out, "lighthouse keeper sold", mode="words")
    assert {(h.page_id, h.panel) for h in words} == {(page.page_id, 2), (other.page_id, 1)}
    assert all(h.score > 0 for h in words)


def test_no_match_is_empty_and_short_or_bad_queries_are_refused(quote_store):
    out, _page, _other = quote_store
    assert search_quote(out, "Xylophone quokkas juggle zeppelins") == []
    assert search_quote(out, "zzqv", mode="phrase") == []
    with pytest.raises(ValueError, match="at least 3"):
        search_quote(out, "?!")
    with pytest.raises(ValueError, match="mode"):
        search_quote(out, "lighthouse", mode="regex")


def test_filters_and_hybrid_fusion(quote_store):
    out, page, _other = quote_store
    assert search_quote(out, LINE, book_id="no-such-book") == []
    assert search_quote(out, LINE, book_id=page.book_id)[0].page_id == page.page_id
    with pytest.raises(ValueError, match="vector or the Closure Lite model"):
        search_quote(out, LINE, hybrid=True)
    hits = search_quote(out, "lighthouse keeper sold accordion", hybrid=True, vector=text_vector(LINE), k=5)
    assert (hits[0].page_id, hits[0].panel) == (page.page_id, 2)
    assert hits[0].score == pytest.approx(2 / 61)  # first in both rankings
    assert rrf([["a", "b"], ["b", "c"]])[0][0] == "b"


def test_missing_index_names_the_command(tmp_path):
    pages = make_page_records(1, 4, seed=1)
    out = tmp_path / "bare.zarr"
    write_store(pages, out, embed_pages, model_id="test-embedder", chunk_pages=2, show_progress=False)
    with pytest.raises(FulltextMissing, match=r"store index .* --level text"):
        search_quote(out, "anything at all")


def test_rebuild_is_incremental_and_atomic(tmp_path):
    pages = make_page_records(2, 6, seed=2)
    out = tmp_path / "s.zarr"
    write_store(pages, out, embed_pages, model_id="test-embedder", chunk_pages=4, show_progress=False)
    first = build_fulltext(out)
    assert first.added_chunks == [0, 1, 2] and first.panels > 0
    again = build_fulltext(out)
    assert again.up_to_date and again.panels == first.panels
    # a chunk no longer finished (e.g. `store verify --repair`) leaves the index on the next build
    progress = next((out / "progress").glob("shard-*.json"))
    data = json.loads(progress.read_text())
    progress.write_text(json.dumps({**data, "chunks": [c for c in data["chunks"] if int(c) != 1]}))
    dropped = build_fulltext(out)
    assert dropped.removed_chunks == [1] and 0 < dropped.panels < first.panels
    con = sqlite3.connect(out / FULLTEXT_FILE)
    assert con.execute("SELECT count(*) FROM panels WHERE chunk = 1").fetchone()[0] == 0
    con.close()
    progress.write_text(json.dumps(data))
    with pytest.raises(ValueError, match=r"finished chunks differ.*--level text"):
        search_quote(out, "anything at all")  # the store gained a chunk since the index was built
    back = build_fulltext(out)
    assert back.added_chunks == [1] and back.panels == first.panels
    assert [p.name for p in out.iterdir() if p.name.startswith(".")] == []  # no temp file left
    idx = open_fulltext(out)
    line = pages[5].texts[0].text
    assert pages[5].page_id in {m.page_id for m in idx.search(line, k=100, mode="phrase")}


def test_cli_index_and_quote_search(quote_store, tmp_path, capsys):
    out, page, _other = quote_store
    assert main(["-q", "store", "index", str(out), "--level", "text"]) == 0
    assert "up to date" in capsys.readouterr().out
    assert main(["-q", "search", str(out), "--quote", "1 cant beleive the lighthouse", "-k", "2"]) == 0
    printed = capsys.readouterr().out
    assert printed.splitlines()[0].split()[2] == page.page_id and "lighthouse keeper" in printed
    assert main(["-q", "search", str(out), "--quote", "keeper sold", "--mode", "phrase", "--json"]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert [(h["page_id"], h["panel"]) for h in hits] == [(page.page_id, 2)]
    assert main(["-q", "search", str(out), "--quote", "Xylophone quokkas juggle"]) == 0
    assert "no results" in capsys.readouterr().out
    bare = tmp_path / "bare.zarr"
    write_store(make_page_records(1, 3, seed=1), bare, embed_pages, model_id="t", show_progress=False)
    assert main(["-q", "search", str(bare), "--quote", "anything"]) == 2
    assert "--level text" in capsys.readouterr().err
    assert main(["-q", "search", str(out), "--quote", "x", "--page", page.page_id]) == 2


def test_cli_hybrid_with_a_model(quote_store, tmp_path, capsys):
    """`search --quote --hybrid --model`: a real tiny (untrained) Closure Lite model embeds the
    quote; its vectors live in another space than the test embedder's, so only the plumbing is
    checked, and that the lexical first place stays in the fused top."""
    pytest.importorskip("torch")
    from closure_lite_helpers import tiny_model
    from comics_analysis.modeling.closure_lite import ClosureLiteProcessor

    out, page, _other = quote_store
    model = tiny_model(embed_dim=384)
    model.save_pretrained(tmp_path / "model")
    ClosureLiteProcessor.from_config(model.config).save_pretrained(tmp_path / "model")
    args = ["-q", "search", str(out), "--quote", "lighthouse keeper sold", "--hybrid", "-k", "5", "--json"]
    assert main([*args, "--model", str(tmp_path / "model")]) == 0
    hits = json.loads(capsys.readouterr().out)
    assert len(hits) == 5 and (page.page_id, 2) in [(h["page_id"], h["panel"]) for h in hits]
    assert all(0 < h["score"] <= 2 / 61 for h in hits)
    assert main(args) == 2  # --hybrid without a model
    assert "Closure Lite model" in capsys.readouterr().err
    assert main(["-q", "search", str(out), "--page", page.page_id, "--hybrid"]) == 2
