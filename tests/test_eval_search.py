"""`eval search` (issue 17.4): each metric on planted answers, the tower on synthetic pages, and a
small real subset through the CLI and into the report."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from PIL import Image

from comics_analysis.benchmarks.report import collect, render_markdown
from comics_analysis.benchmarks.search_encoders import EvalPage
from comics_analysis.benchmarks.search_queries import damage_crop, ocr_noise
from comics_analysis.benchmarks.search_real import (
    crop_queries,
    crop_to_page,
    knn_book_accuracy,
    not_a_comic_auc,
    quote_to_panel,
)
from comics_analysis.dataspec import Page, TextBox
from comics_analysis.synth import make_page
from comics_analysis.synth.documents import DOCUMENT_KINDS, document_pages, make_document_page


def _unit(x):
    x = np.asarray(x, np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_damage_crop_is_seeded_and_within_the_stated_ranges():
    image = make_page(3).image
    box = (100, 120, 400, 300)
    a, info = damage_crop(image, box, random.Random("q"))
    b, _ = damage_crop(image, box, random.Random("q"))
    assert np.array_equal(np.asarray(a), np.asarray(b))
    assert 0.5 <= info["scale"] <= 1.5 and abs(info["angle"]) <= 3 and 30 <= info["jpeg_quality"] <= 70
    # trimmed, rescaled and rotated: the size follows the scale within the trim and the rotation
    assert 0.5 * 0.85 * 400 <= a.width <= 1.5 * 1.1 * 400
    c, _ = damage_crop(image, box, random.Random("other"))
    assert not (a.size == c.size and np.array_equal(np.asarray(a), np.asarray(c)))


def test_ocr_noise_rate_is_what_it_says_and_spaces_survive():
    from rapidfuzz.distance import Levenshtein

    text = "the quick brown fox jumps over the lazy dog " * 40
    letters = len(text.replace(" ", ""))
    noisy = ocr_noise(text, random.Random(1), "abcdefghijklmnopqrstuvwxyz", rate=0.08)
    assert noisy == ocr_noise(text, random.Random(1), "abcdefghijklmnopqrstuvwxyz", rate=0.08)
    assert noisy.count(" ") == text.count(" ")
    rate = Levenshtein.distance(text, noisy) / letters
    assert 0.05 < rate < 0.11, rate
    assert ocr_noise("abc", random.Random(0), "xyz", rate=0.0) == "abc"


def test_crop_to_page_maps_panel_hits_to_pages_and_counts_ranks():
    rng = np.random.default_rng(0)
    panel_vecs = [_unit(rng.normal(size=(n, 16))) for n in (3, 2, 4)]
    page_vecs = _unit(np.stack([v.mean(0) for v in panel_vecs]))
    # queries: noisy copies of page 0 panel 1, page 2 panel 3, page 1 panel 0
    owner = [0, 2, 1]
    query = _unit(
        np.stack([panel_vecs[0][1], panel_vecs[2][3], panel_vecs[1][0]]) + 0.05 * rng.normal(size=(3, 16))
    )
    out = crop_to_page(query, owner, page_vecs, panel_vecs, ["a", "b", "b"])
    assert out["overall"]["recall@1"] == 1.0 and out["overall"]["queries"] == 3
    assert out["books"]["b"]["queries"] == 2
    # the third query now truly comes from page 0: page 1 wins and page 0 is second at best
    wrong = crop_to_page(query, [0, 2, 0], page_vecs, panel_vecs, ["a", "b", "b"])
    assert wrong["overall"]["recall@1"] == pytest.approx(2 / 3, abs=1e-4)
    assert wrong["overall"]["recall@10"] == 1.0


def test_the_lite_tower_finds_the_page_of_damaged_crops_of_synthetic_pages():
    from comics_analysis.benchmarks.search_encoders import TowerEncoder

    synth = [make_page((11, i), book_id="synthetic-0000beef", page_index=i) for i in range(4)]
    pages = [
        EvalPage(s.record.page_id, "synthetic", lambda s=s: s.image, [tuple(p.bbox) for p in s.record.panels])
        for s in synth
    ]
    images = {p.page_id: p.load() for p in pages}
    crops, owner, _damage = crop_queries(pages, images, seed=0)
    encoder = TowerEncoder("lite")
    page_vecs, panel_vecs = encoder.pages(pages, images)
    assert page_vecs.shape == (4, 1280) and [len(v) for v in panel_vecs] == [len(p.panels) for p in pages]
    out = crop_to_page(encoder.images(crops), owner, page_vecs, panel_vecs, [p.book for p in pages])
    assert out["overall"]["queries"] == len(crops) >= 8
    assert out["overall"]["recall@1"] >= 0.9, out


def _quote_page(page_index: int, lines: list[tuple[str, int]], book: str = "book-00000000") -> Page:
    panels = [{"bbox": [0, 100 * k, 100, 90], "source": "gt", "order": k} for k in range(3)]
    texts = [
        TextBox(
            bbox=(5, 100 * max(panel, 0) + 5, 50, 20), text=text, kind="dialogue", panel=panel, source="gt"
        )
        for text, panel in lines
    ]
    return Page(
        page_id=f"{book}/p{page_index:04d}",
        book_id=book,
        page_index=page_index,
        width=100,
        height=300,
        panels=panels,
        texts=texts,
    )


def test_quote_search_finds_the_panel_of_each_line_despite_ocr_errors():
    pages = [
        _quote_page(0, [("The lighthouse keeper never sleeps on Tuesdays.", 0), ("Bring the lantern!", 1)]),
        _quote_page(1, [("Nobody knows the way through the marsh at night.", 2), ("Bring the lantern!", 0)]),
        _quote_page(
            2, [("Seven ravens circled the old mill before dawn.", 1), ("Ha", 2)], book="other-00000000"
        ),
    ]
    out = quote_to_panel(pages, seed=0)
    assert out["skipped_short_lines"] == 1  # "Ha": under three letters, nothing to search
    assert out["overall"]["queries"] == 5
    # a repeated line is found in either panel that holds it
    assert out["overall"]["recall@10"] == 1.0 and out["overall"]["recall@1"] == 1.0
    assert out["overall"]["page_recall@1"] == 1.0
    assert set(out["books"]) == {"book-00000000", "other-00000000"}
    assert 0 < out["mean_char_error_rate"] < 0.2
    assert sum(s["queries"] for s in out["by_length"].values()) == 5 and "30+ characters" in out["by_length"]


def test_knn_book_accuracy_on_planted_books():
    rng = np.random.default_rng(1)
    centres = rng.normal(size=(3, 32)) * 3
    vecs = _unit(np.concatenate([c + rng.normal(size=(8, 32)) for c in centres]))
    books = [b for b in "abc" for _ in range(8)]
    out = knn_book_accuracy(vecs, books, k=5)
    assert out["overall"]["accuracy"] == 1.0 and out["majority_baseline"] == pytest.approx(1 / 3, abs=1e-3)
    shuffled = knn_book_accuracy(_unit(rng.normal(size=(24, 32))), books, k=5)
    assert shuffled["overall"]["accuracy"] < 0.8


def test_not_a_comic_auc_of_the_outlier_score_on_planted_pages():
    rng = np.random.default_rng(2)
    comic = _unit(np.array([1.0] + [0.0] * 15) + 0.15 * rng.normal(size=(40, 16)))
    docs = _unit(np.array([0.0] * 15 + [1.0]) + 0.15 * rng.normal(size=(10, 16)))
    vecs = np.concatenate([comic, docs])
    is_comic = np.array([True] * 40 + [False] * 10)
    detected = np.array([5] * 40 + [1] * 10)
    kinds = ["comic"] * 40 + ["non-comic:textbook", "non-comic:paper"] * 5
    out = not_a_comic_auc(vecs, is_comic, detected, kinds)
    assert out["auc"] == 1.0 and out["reference_pages"] == 40 and out["non_comic_in_reference"] == 0
    assert out["auc_reference_comic_pages"] == 1.0 and out["auc_by_kind"]["non-comic:paper"]["pages"] == 5
    assert set(out["auc_by_kind"]) == {"non-comic:textbook", "non-comic:paper"}
    # documents that look like comics to the encoder are not separated
    mixed = not_a_comic_auc(_unit(rng.normal(size=(50, 16))), is_comic, detected, kinds)
    assert mixed["auc"] < 0.8


def test_document_pages_are_deterministic_and_of_every_kind():
    a = make_document_page("paper", 3, size=(600, 850))
    b = make_document_page("paper", 3, size=(600, 850))
    assert a.size == (600, 850) and np.array_equal(np.asarray(a), np.asarray(b))
    pages = document_pages(4, seed=1, size=(500, 700))
    assert [k for k, _ in pages] == list(DOCUMENT_KINDS)
    for kind, image in pages:
        grey = np.asarray(image.convert("L"), np.float32)
        assert isinstance(image, Image.Image) and grey.std() > 10, kind  # ink on the page
    with pytest.raises(ValueError, match="unknown document kind"):
        make_document_page("poster", 0)


def test_eval_search_cli_on_a_real_subset_and_in_the_report(shared_data, tmp_path):
    from comics_analysis.cli import main

    out = tmp_path / "bench" / "search-real.json"
    args = ["eval", "search", "--data", str(shared_data), "--limit", "2", "--towers", "lite-vit"]
    assert main([*args, "--non-comic", "4", "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert d["pages"] == 6 and len(d["books"]) == 3 and d["commit"]
    (enc,) = d["encoders"]
    assert enc["name"] == "lite-vit" and "untrained" in enc["description"]
    assert enc["crop_page"]["overall"]["queries"] == d["crop_queries"] > 6
    assert enc["not_a_comic"]["non_comic_pages"] == 4 and 0 <= enc["not_a_comic"]["auc"] <= 1
    # every document page has 10+ prose lines, no comic page does: text pages first, AUC 1 even
    # with the untrained tower's vectors
    assert enc["not_a_comic"]["text_pages"] == {"lines": 10, "comic": 0, "non_comic": 4}
    assert enc["not_a_comic"]["auc_prose"] == 1.0
    assert set(d["quote_panel"]) == {"ground truth", "open-mantra en (translations)"}
    assert d["quote_panel"]["ground truth"]["overall"]["queries"] > 10
    # the English translations of the same OpenMantra pages only (4 of the 6 pages)
    english = d["quote_panel"]["open-mantra en (translations)"]
    assert 4 < english["overall"]["queries"] < 60 and len(english["books"]) == 2
    found, _missing = collect(tmp_path / "bench")
    rows = [r for s in found if s["file"] == "search-real.json" for r in s["rows"]]
    assert any("crop -> page R@1" in r.metric for r in rows)
    assert any("quote -> panel" in r.metric for r in rows)
    report = render_markdown(tmp_path / "bench")
    assert "not-a-comic ROC AUC" in report and "text pages (10+ prose lines) first" in report


def test_a_trained_model_folder_is_measured_with_its_store_vectors_and_image_queries(tmp_path):
    from comics_analysis.benchmarks.search_encoders import ModelEncoder
    from space_helpers import save_tiny_model

    folder = save_tiny_model(tmp_path / "model")
    synth = [
        make_page((12, i), size=(330, 500), book_id="synthetic-0000beef", page_index=i) for i in range(3)
    ]
    pages = [
        EvalPage(
            s.record.page_id,
            "synthetic",
            lambda s=s: s.image,
            [tuple(p.bbox) for p in s.record.panels],
            record=s.record,
        )
        for s in synth
    ]
    pages.append(
        EvalPage(
            "doc/p0000", "non-comic:paper", lambda: synth[0].image.convert("L").convert("RGB"), comic=False
        )
    )
    images = {p.page_id: p.load() for p in pages}
    encoder = ModelEncoder(folder)
    page_vecs, panel_vecs = encoder.pages(pages, images)
    assert page_vecs.shape == (4, 64) and [len(v) for v in panel_vecs] == [
        *(len(p.panels) for p in pages[:3]),
        1,
    ]
    np.testing.assert_allclose(np.linalg.norm(page_vecs, axis=1), 1, atol=1e-5)
    crops, owner, _ = crop_queries(pages[:3], images, seed=0)
    out = crop_to_page(encoder.images(crops), owner, page_vecs[:3], panel_vecs[:3], ["s"] * 3)
    assert out["overall"]["queries"] == len(crops) and out["overall"]["recall@10"] == 1.0  # 3 pages only
    assert "trained Closure Lite model" in encoder.description and encoder.name == "model"
