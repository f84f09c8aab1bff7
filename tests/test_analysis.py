"""Analysis of a store: outlier scores on planted groups, noise pages flagged end to end,
the cluster report and plots, and `comics-analysis analyze` with UMAP on a real model's store."""

import json

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("zarr")
pytest.importorskip("sklearn")

from comics_analysis.analysis import (
    analyze_store,
    cluster_pages,
    comic_reference,
    default_clusters,
    embed_2d,
    outlier_scores,
    read_points,
)
from comics_analysis.cli import main
from comics_analysis.store import open_store, write_store
from space_helpers import save_tiny_model, write_collection


def _unit(x):
    return x / np.linalg.norm(x, axis=-1, keepdims=True)


def test_outlier_scores_flag_planted_groups():
    """300 'comics' vectors around 6 centres; 8 prose-like vectors close to EACH OTHER around a
    distant centre (a run of odd pages) and 5 random vectors: exactly the 13 planted rows are
    flagged, because k (5% of rows, >= 10) is larger than the run."""
    rng = np.random.default_rng(0)
    dim = 64
    centres = _unit(rng.standard_normal((6, dim)))
    comics = _unit(centres[rng.integers(0, 6, 300)] + 0.06 * rng.standard_normal((300, dim)))
    prose = _unit(_unit(rng.standard_normal(dim)) + 0.06 * rng.standard_normal((8, dim)))
    noise = _unit(rng.standard_normal((5, dim)))
    vectors = np.concatenate([comics, prose, noise]).astype(np.float32)
    _raw, z = outlier_scores(vectors)
    flagged = set(np.flatnonzero(z > 5).tolist())
    assert flagged == set(range(300, 313))
    # with k smaller than the run, the prose rows vouch for each other and are no longer flagged
    _, z_small = outlier_scores(vectors, k=3)
    assert not (z_small[300:308] > 5).any()


def test_outlier_reference_exposes_a_large_tight_group():
    """400 spread-out 'comic' vectors and 40 prose vectors nearly identical to each other (as a
    trained model embeds text pages): against all pages the prose group looks the MOST typical
    (each has 39 close neighbours); against the comic reference every prose row is flagged and
    few comics are; a row is never its own neighbour."""
    rng = np.random.default_rng(3)
    dim = 64
    centres = _unit(rng.standard_normal((20, dim)))
    comics = _unit(centres[rng.integers(0, 20, 400)] + 0.1 * rng.standard_normal((400, dim)))
    prose = _unit(_unit(rng.standard_normal(dim)) + 0.02 * rng.standard_normal((40, dim)))
    vectors = np.concatenate([comics, prose]).astype(np.float32)
    _, z_all = outlier_scores(vectors)
    assert (z_all[400:] < np.median(z_all[:400])).all()
    reference = np.arange(440) < 400
    raw, z = outlier_scores(vectors, reference=reference)
    assert (z[400:] > 3).all() and (z[:400] > 3).mean() < 0.1 and z[400:].min() > np.percentile(z[:400], 95)
    # the own row is excluded: a duplicate of one comic row scores as the original does
    dup = np.concatenate([vectors, vectors[:1]])
    raw_dup, _ = outlier_scores(dup, reference=np.append(reference, True))
    assert raw_dup[0] == pytest.approx(raw_dup[440]) and raw_dup[0] < raw[0]
    with pytest.raises(ValueError, match="reference mask"):
        outlier_scores(vectors, reference=reference[:10])


def test_comic_reference_falls_back_to_all_pages():
    counts = np.array([0] * 50 + [3] * 50)
    assert comic_reference(counts).tolist() == [False] * 50 + [True] * 50
    few = np.array([0] * 95 + [4] * 5)  # 5% multi-panel pages: too few to stand for the collection
    assert comic_reference(few).all()


def test_default_clusters():
    assert [default_clusters(n) for n in (2, 3, 8, 50, 200, 10**6)] == [1, 2, 2, 5, 10, 12]


def _pixel_embedder(items, panels=16, dim=384):
    """A TEST embedder of page appearance: a 8x16 colour thumbnail (centred at mid-grey)."""
    b = len(items)
    page = np.zeros((b, dim), np.float32)
    panel = np.zeros((b, panels, dim), np.float32)
    mask = np.zeros((b, panels), bool)
    for r, item in enumerate(items):
        image = item.load_image()
        thumb = np.asarray(image.resize((8, 16), Image.Resampling.BILINEAR), np.float32) / 255 - 0.5
        page[r, : thumb.size] = thumb.reshape(-1)
        page[r, -1] = 0.01
        for j, p in enumerate(item.page.panels[:panels]):
            x, y, w, h = p.bbox
            crop = np.asarray(image.crop((x, y, x + w, y + h)).resize((8, 16)), np.float32) / 255 - 0.5
            panel[r, j, : crop.size] = crop.reshape(-1)
            panel[r, j, -1] = 0.01
            mask[r, j] = True
    return page, panel, mask


def test_noise_pages_are_flagged_and_reports_written(tmp_path):
    write_collection(tmp_path / "coll", books=3, story=14, prose=3, noise=3)
    out = tmp_path / "s.zarr"
    write_store(
        tmp_path / "coll",
        out,
        _pixel_embedder,
        model_id="pixels",
        image_root=tmp_path / "coll/images",
        chunk_pages=16,
        show_progress=False,
    )
    result = analyze_store(out, tmp_path / "an", method="pca", clusters=4)
    st = open_store(out)
    types = dict(zip(st.page_ids, st.page_types))
    flagged = {o["page_id"] for o in result.outliers}
    noise = {pid for pid, t in types.items() if t == "other"}
    # the pages of random noise score highest (whatever the threshold); all are flagged, no story page is
    ranked = json.loads((tmp_path / "an" / "outliers.json").read_text())["all"]
    assert {r["page_id"] for r in ranked[: len(noise)]} == noise
    assert noise <= flagged and not any(types[p] == "story" for p in flagged)
    assert all(o["outlier_score"] > 3.0 for o in result.outliers)
    # (prose pages, nearly white, look average to a thumbnail embedder: not flagged here)
    points = read_points(tmp_path / "an")
    assert [p["page_id"] for p in points] == list(st.page_ids)
    assert {p["page_id"] for p in points if p["outlier"]} == flagged
    clusters = json.loads((tmp_path / "an" / "clusters.json").read_text())
    assert len(clusters) == 4 and sum(c["size"] for c in clusters) == len(st)
    assert [c["size"] for c in clusters] == sorted((c["size"] for c in clusters), reverse=True)
    for c in clusters:
        members = [p for p in points if p["cluster"] == c["cluster"]]
        assert c["size"] == len(members)
        assert c["mean_panel_count"] == pytest.approx(np.mean([p["panel_count"] for p in members]))
        assert c["text_share"] == pytest.approx(np.mean([p["has_text"] for p in members]))
        assert 1 <= len(c["examples"]) <= 5 and all(
            e in {p["page_id"] for p in members} for e in c["examples"]
        )
        assert sum(c["page_types"].values()) == c["size"]
    markdown = (tmp_path / "an" / "clusters.md").read_text()
    assert "| cluster | pages | mean panels | text share |" in markdown and "## Outliers (" in markdown
    for name in ("map_cluster.png", "map_panel_count.png", "map_page_type.png"):
        with Image.open(tmp_path / "an" / name) as image:
            assert image.format == "PNG" and image.width > 300
            assert (
                len(np.unique(np.asarray(image.convert("RGB")).reshape(-1, 3), axis=0)) > 20
            )  # drawn points, not a blank canvas


@pytest.mark.slow
def test_analyze_cli_umap_on_a_model_store(tmp_path, capsys):
    pytest.importorskip("umap")
    pytest.importorskip("torch")
    write_collection(tmp_path / "coll", books=2, story=10, prose=2, noise=2)
    model = save_tiny_model(tmp_path / "model")
    out = tmp_path / "s.zarr"
    assert main(["-q", "embed", str(tmp_path / "coll"), "--model", str(model), "--out", str(out)]) == 0
    capsys.readouterr()
    assert main(["-q", "analyze", str(out), "--out", str(tmp_path / "an"), "--clusters", "3"]) == 0
    text = capsys.readouterr().out
    assert "24 pages -> 3 clusters (umap map)" in text
    settings = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert settings["method"] == "umap" and settings["pages"] == 24
    points = read_points(tmp_path / "an")
    xy = np.array([[p["x"], p["y"]] for p in points])
    assert np.isfinite(xy).all() and xy.std(axis=0).min() > 0
    assert {p["cluster"] for p in points} == {0, 1, 2}
    assert main(["-q", "analyze", str(tmp_path / "nope"), "--out", str(tmp_path / "x")]) == 2


def test_large_collections_fit_on_a_sample_and_still_place_every_page():
    """Above max_fit pages the map, k-means and outlier reference are fitted on a seeded sample;
    every row still gets coordinates, a cluster and a score, and the planted odd rows stay on top."""
    rng = np.random.default_rng(5)
    dim = 32
    centres = _unit(rng.standard_normal((4, dim)))
    comics = _unit(centres[rng.integers(0, 4, 3000)] + 0.15 * rng.standard_normal((3000, dim)))
    odd = _unit(rng.standard_normal((20, dim)))
    vectors = np.concatenate([comics, odd]).astype(np.float32)
    full_raw, full_z = outlier_scores(vectors)
    raw, z = outlier_scores(vectors, max_reference=600)
    odd_rows = set(range(3000, 3020))
    assert odd_rows <= set(np.argsort(-z)[:25].tolist()) and odd_rows <= set(
        np.argsort(-full_z)[:25].tolist()
    )
    assert len(set(np.argsort(-z)[:20].tolist()) & set(np.argsort(-full_z)[:20].tolist())) >= 18
    assert np.corrcoef(raw, full_raw)[0, 1] > 0.95
    xy = embed_2d(vectors, "pca", max_fit=500)
    assert xy.shape == (3020, 2) and np.isfinite(xy).all()
    # PCA fitted on all rows and on a sample give nearly the same plane (up to a rotation): the
    # distances between mapped points agree
    full = embed_2d(vectors, "pca")
    a, b = xy[::10], full[::10]
    da = np.linalg.norm(a[:, None] - a[None], axis=-1).ravel()
    db = np.linalg.norm(b[:, None] - b[None], axis=-1).ravel()
    assert np.corrcoef(da, db)[0, 1] > 0.95
    labels, centres_found = cluster_pages(vectors[:3000], 4, max_fit=400)
    assert labels.shape == (3000,) and len(centres_found) == 4
    truth = np.argmax(vectors[:3000] @ centres.T, axis=1)
    # every found cluster is one planted centre
    assert all(len(set(truth[labels == c])) == 1 for c in range(4))


def test_prose_lines_put_illustrated_text_pages_above_comics():
    """Prose lines counted from the pixels: none to a few on synthetic story pages, 10+ on a
    synthetic prose back-matter page and on each document kind (the game-book page has a framed
    picture and a stat box: panels to a detector). With the game-book page's vector planted among
    the comics' (so the outlier score alone misses it) and 2+ panels 'detected' on it,
    not_a_comic_scores still ranks both text pages above every comic page."""
    from comics_analysis.analysis import PROSE_PAGE_LINES, not_a_comic_scores, prose_lines
    from comics_analysis.synth import make_page
    from comics_analysis.synth.documents import DOCUMENT_KINDS, make_document_page

    story = [prose_lines(make_page((0, 0, i), size=(530, 800)).image).lines for i in range(4)]
    backmatter = prose_lines(make_page((0, 99, 0), page_type="text_backmatter", size=(530, 800)).image)
    documents = {k: prose_lines(make_document_page(k, 1, (500, 707))) for k in DOCUMENT_KINDS}
    assert max(story) < PROSE_PAGE_LINES <= backmatter.lines
    assert all(d.lines >= PROSE_PAGE_LINES and 0.1 < d.area < 0.6 for d in documents.values()), documents
    blank = prose_lines(Image.new("RGB", (400, 600), "white"))
    assert (blank.lines, blank.area) == (0, 0.0)

    rng = np.random.default_rng(1)
    centre = _unit(rng.standard_normal(32))
    comics = _unit(centre + 0.3 * rng.standard_normal((40, 32)))
    rpg = _unit(centre + 0.1 * rng.standard_normal((1, 32)))  # among the comics
    odd = _unit(rng.standard_normal((1, 32)))  # a far page without prose: the outlier score's job
    vectors = np.concatenate([comics, rpg, odd])
    detected = np.array([3] * 40 + [2, 0])
    prose = np.array([rng.integers(0, 4) for _ in range(40)] + [documents["rpg"].lines, 0])
    raw, _ = outlier_scores(vectors, reference=comic_reference(detected))
    assert raw[40] < np.median(raw[:40])  # the outlier score alone ranks it among the comics
    scores = not_a_comic_scores(vectors, detected, prose)
    assert scores[40] > scores[:40].max() and scores[41] > scores[:40].max()
    assert np.allclose(
        scores[:40], outlier_scores(vectors, reference=comic_reference(detected) & (prose < 10))[0][:40]
    )


def _with_documents(folder, kinds=("rpg", "scan")):
    """A synthetic collection (2 books of 10 story pages) plus one book of drawn document pages
    (prose); returns the document pages' ids."""
    from comics_analysis.dataspec import Page, write_jsonl
    from comics_analysis.synth.documents import make_document_page
    from space_helpers import _save

    write_collection(folder, books=2, story=10)
    book_id = "bundle-documents-0000d0c5"
    records = []
    for i, kind in enumerate(kinds):
        image = make_document_page(kind, i, (500, 707))
        record = Page(page_id=f"{book_id}/p{i:04d}", book_id=book_id, page_index=i, width=500, height=707)
        records.append(_save(folder, record, image))
    write_jsonl(records, folder / "dataspec" / f"{book_id}.jsonl")
    return {r.page_id for r in records}


def test_embed_keeps_prose_lines_and_analyze_ranks_text_pages_first(tmp_path, caplog):
    """`embed` counts the prose lines of each page image into the store; `analyze` then ranks the
    document pages as the top outliers (flagged), even with an untrained model whose page vectors
    say nothing; a store without the counts (written by an embed_fn that measures none, as every
    store before them) still analyzes, by the image outlier score alone, and says so."""
    pytest.importorskip("torch")
    from comics_analysis.store.embed import embed_store

    documents = _with_documents(tmp_path / "coll")
    model = save_tiny_model(tmp_path / "model")
    out = tmp_path / "s.zarr"
    embed_store(tmp_path / "coll", model, out, chunk_pages=8, show_progress=False, use_accelerate=False)
    st = open_store(out)
    assert st.page_columns == ("prose_lines", "panel_description")
    prose = dict(zip(st.page_ids, st.prose_lines.tolist()))
    assert all(prose[p] >= 10 for p in documents), prose
    assert all(n < 10 for p, n in prose.items() if p not in documents), prose
    assert st.verify() == []

    result = analyze_store(out, tmp_path / "an", method="pca", clusters=3)
    ranked = json.loads((tmp_path / "an" / "outliers.json").read_text())["all"]
    assert {r["page_id"] for r in ranked[: len(documents)]} == documents
    assert documents <= {o["page_id"] for o in result.outliers}
    settings = json.loads((tmp_path / "an" / "analysis.json").read_text())
    assert settings["outlier_score"] == "prose lines, then image outliers"
    assert settings["outlier_reference_pages"] <= len(st) - len(documents)
    points = {p["page_id"]: p for p in read_points(tmp_path / "an")}
    assert all(points[p]["prose_lines"] == prose[p] for p in prose)

    # an old-format store of the same pages: no prose_lines array, image outlier score alone
    old = tmp_path / "old.zarr"
    write_store(
        tmp_path / "coll",
        old,
        _pixel_embedder,
        model_id="pixels",
        image_root=tmp_path / "coll/images",
        show_progress=False,
    )
    st_old = open_store(old)
    assert st_old.prose_lines is None and not (old / "prose_lines").exists()
    with caplog.at_level("INFO", logger="comics_analysis.analysis.maps"):
        analyze_store(old, tmp_path / "an-old", method="pca", clusters=3)
    assert "keeps no prose line counts" in caplog.text
    settings = json.loads((tmp_path / "an-old" / "analysis.json").read_text())
    assert settings["outlier_score"] == "image outliers"
    assert {p["prose_lines"] for p in read_points(tmp_path / "an-old")} == {-1}


def test_a_store_with_page_columns_needs_them_from_the_embed_fn(tmp_path):
    write_collection(tmp_path / "coll", books=1, story=3)
    with pytest.raises(ValueError, match="embed_fn returned no prose_lines per page"):
        write_store(
            tmp_path / "coll",
            tmp_path / "s.zarr",
            _pixel_embedder,
            model_id="pixels",
            show_progress=False,
            page_columns=("prose_lines",),
        )
    with pytest.raises(ValueError, match="unknown page column"):
        write_store(
            tmp_path / "coll", tmp_path / "t.zarr", _pixel_embedder, model_id="p", page_columns=("x",)
        )
