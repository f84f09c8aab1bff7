"""PSS training that transfers (issue 18.4): the `real` synthetic books (print, structure, page kinds
closer to real books), `train pss` reading the page statistics beside the vectors and training on
extra labelled stores with held-out books left out."""

import json

import numpy as np
import pytest
import torch

from comics_analysis.inference.features import FeatureStore, extract_features
from comics_analysis.inference.page_stats import STAT_NAMES, page_stats
from comics_analysis.inference.pss import (
    book_arrays,
    check_features_fit,
    load_pss_model,
    model_vision,
    predict_books,
    segment_books,
)
from comics_analysis.modeling.cosmo_pss import page_scalars
from comics_analysis.sources import open_pages
from comics_analysis.synth.book import make_book
from comics_analysis.synth.realistic import plan_real_book
from comics_analysis.training.cosmo_pss import PssTrainConfig, split_books, train_pss
from comics_analysis.training.pss_features import dataset_pages

TINY = dict(
    val_fraction=0.3,
    windows_per_book=2,
    window_range=(4, 8),
    batch_size=4,
    hidden_size=16,
    layers=1,
    heads=2,
    patience=10,
    threads=1,
    show_progress=False,
    epochs=1,
)


def test_real_style_plans_vary_like_real_books():
    plans = [plan_real_book(np.random.default_rng([7, b])) for b in range(200)]
    firsts = [p[0][0] for p in plans]
    assert firsts.count("cover") > 140 and firsts.count("story") > 10  # chapters start on the story
    assert sum(p[1] == ("advertisement", False, "ad") for p in plans) > 60  # inside-cover ads
    starts = [sum(s for _, s, _ in p) for p in plans]
    assert max(starts) >= 4 and min(starts) == 1  # several stories, each opening once
    mid = sum(any(s and i > 5 for i, (_, s, _) in enumerate(p)) for p in plans)
    assert mid > 60  # stories that start mid-book
    ends = [p[-1][0] for p in plans]
    assert ends.count("back_cover") > 80 and ends.count("back_cover") < 180
    kinds = {k for p in plans for _, _, k in p}
    assert {"title", "mixed", "prose", "letters", "ad", "blank", "pinup"} <= kinds
    for p in plans:  # every story page run opens on a story start
        for i, (t, s, _) in enumerate(p):
            if t == "story" and not s:
                prev = [x for x in p[:i] if x[0] == "story"]
                assert prev, p


def test_real_style_pages_carry_the_cues_of_their_kind():
    book = make_book((3, 4), style="real", size=(265, 400))
    again = make_book((3, 4), style="real", size=(265, 400))
    assert len(book.pages) == len(again.pages)
    assert all(
        np.array_equal(np.asarray(p.image), np.asarray(q.image)) for p, q in zip(book.pages, again.pages)
    )
    plain = make_book((3, 4), size=(265, 400))
    assert [p.record.page_type for p in plain.pages] != [p.record.page_type for p in book.pages]
    names = list(STAT_NAMES)
    seen = {}
    for b in range(8):
        for page in make_book((3, b), style="real", size=(530, 800)).pages:
            r = page.record
            stats = dict(zip(names, page_stats(r, page.image)))
            key = r.page_type + ("*" if r.story_start else "")
            seen.setdefault(key, []).append((stats, page))
    # prose pages: dense prose; story titles: big lettering; ads: prices
    assert np.mean([s["prose"] > 0.5 for s, _ in seen["text_backmatter"]]) > 0.8
    assert np.mean([s["title"] > 0.5 for s, _ in seen["story*"]]) > 0.5
    assert np.mean([s["title"] > 0.5 for s, _ in seen["story"]]) < 0.1
    assert np.mean([s["price"] > 0 for s, _ in seen["advertisement"]]) > 0.9
    assert np.mean([s["coupon"] > 0 for s, _ in seen["advertisement"]]) > 0.4
    # the print: most books on toned paper (the page corner is not white), a few grey
    corners = [np.asarray(p.image)[:4, :4].reshape(-1, 3).mean(0) for v in seen.values() for _, p in v]
    assert np.mean([c.min() < 245 for c in corners]) > 0.5
    assert np.mean([abs(c[0] - c[2]) < 3 for c in corners]) > 0.1


def _colour_off_one_tone(image) -> float:
    """How far a page's colours are from one paper tone: 0 for grey ink on any paper (every
    pixel a multiple of the tone, so the pixels have rank 1), 0.1+ for a page in colour."""
    x = np.asarray(image.convert("RGB").resize((64, 96)), dtype=np.float64).reshape(-1, 3)
    s = np.linalg.svd(x, compute_uv=False)
    return float(np.sqrt((s[1] ** 2 + s[2] ** 2) / (s**2).sum()))


def test_real_style_back_covers_differ_from_ads_inside_the_book():
    """A back cover is told from an ad inside the book by what the page shows, as in print (no
    folio, one product, cover stock in colour), not only by being last: earlier, half the back
    covers were drawn by the inside mail-order renderer on the same paper."""
    back, inside, folios, grey_back = [], [], [], []
    for b in range(30):
        book = make_book((6, b), style="real", size=(133, 200))
        types = [p.record.page_type for p in book.pages]
        grey = _colour_off_one_tone(book.pages[types.index("story")].image) < 0.02
        for i, page in enumerate(book.pages):
            r = page.record
            numbers = [t.text for t in r.texts if t.kind == "page_number"]
            if numbers:  # a folio: the page's printed number, never on a cover
                folios.append((i, int(numbers[0])))
                assert r.page_type not in ("cover", "back_cover", "credits_indicia", "other"), (b, i)
            entry = (len([t for t in r.texts if t.kind != "page_number"]), bool(numbers))
            if r.page_type == "back_cover":
                back.append(entry)
                if grey:
                    grey_back.append(_colour_off_one_tone(page.image))
            elif r.page_type == "advertisement" and not (i == 1 and types[0] == "cover"):
                inside.append(entry)
    assert len(back) > 12 and len(inside) > 30
    # one product: at most a headline and a coupon's three lines (an inside order ad lists 4+ items)
    assert all(n <= 4 for n, _ in back), back
    assert np.mean([n >= 8 for n, _ in inside]) > 0.3
    assert not any(f for _, f in back)
    assert 0.4 < np.mean([f for _, f in inside]) < 0.9  # books that number their pages
    assert all(number - i in (0, 1) for i, number in folios)  # page number = index (+1)
    # cover stock is printed in colour, also in a grey book
    assert grey_back and min(grey_back) > 0.05, grey_back


def test_synthetic_real_spec_opens_real_style_books():
    source = open_pages("synthetic:2:5:real")
    pages = [source.page(i) for i in range(len(source))]
    assert {p.book_id for p in pages} == {"synthetic-real-5-00000", "synthetic-real-5-00001"}
    book = make_book((5, 0), kind="issue", number=1, size=(265, 400), style="real")
    assert [p.page_type for p in pages if p.book_id.endswith("0")] == [p.record.page_type for p in book.pages]
    with pytest.raises(ValueError, match="synthetic:N_BOOKS"):
        open_pages("synthetic:2:5:fancy")
    with pytest.raises(ValueError, match="style 'fancy'"):
        make_book(0, style="fancy")


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    root = tmp_path_factory.mktemp("transfer")
    main = root / "synthetic"
    extract_features(dataset_pages("synthetic:4:2:real"), main, show_progress=False, with_page_stats=True)
    extra = root / "extra"
    extract_features(dataset_pages("synthetic:3:9"), extra, show_progress=False, with_page_stats=True)
    plain = root / "plain"
    extract_features(dataset_pages("synthetic:2:9"), plain, show_progress=False)
    return main, extra, plain


def test_training_reads_page_statistics_and_extra_books(stores, tmp_path):
    main, extra, plain = stores
    held = "synthetic-9-00001"
    result = train_pss(
        PssTrainConfig(
            features=str(main),
            out=str(tmp_path / "run"),
            extra_features=[str(extra)],
            exclude_books=[held],
            extra_repeat=2,
            **TINY,
        )
    )
    info = json.loads((tmp_path / "run" / "run_info.json").read_text())["data"]
    assert info["extra_books"] == ["synthetic-9-00000", "synthetic-9-00002"]
    assert info["excluded_books"] == [held] and info["page_stats"] == list(STAT_NAMES)
    assert result.metrics["macro_f1"] >= 0
    model = load_pss_model(tmp_path / "run" / "final")
    assert model.config.page_stats == list(STAT_NAMES)
    store = FeatureStore(extra)
    assert model.config.vision_dim == store.vision.shape[1] + len(STAT_NAMES)
    books = book_arrays(store, [held])
    vision = model_vision(books[0], model.config.page_stats)
    np.testing.assert_array_equal(vision[:, : store.vision.shape[1]], books[0]["vision"])
    np.testing.assert_allclose(vision[:, store.vision.shape[1] :], np.nan_to_num(books[0]["stats"]))
    (pred,) = predict_books(model, books, 6, 3)
    assert len(pred["page_types"]) == len(books[0]["page_ids"])
    # the statistics have their own projection: with the shared projection blind to them (its
    # statistic columns zeroed) the page logits still move with the statistics
    assert model.config.stats_projection and model.stats_projection[0].in_features == len(STAT_NAMES)
    with torch.no_grad():
        model.visual_projection[0].weight[:, store.vision.shape[1] :] = 0
        x = torch.from_numpy(vision).unsqueeze(0)
        text = torch.from_numpy(books[0]["text"]).unsqueeze(0)
        n = x.shape[1]
        scalars = page_scalars(torch.arange(n), n).unsqueeze(0)
        flipped = x.clone()
        flipped[..., store.vision.shape[1] :] = 1 - flipped[..., store.vision.shape[1] :]
        a = model(vision_features=x, text_features=text, scalars=scalars).logits
        b = model(vision_features=flipped, text_features=text, scalars=scalars).logits
    assert (a - b).abs().max() > 1e-3
    seg = segment_books(tmp_path / "run" / "final", extra, [held])
    assert seg.books[0]["page_types"] == pred["page_types"]
    # a store without statistics cannot feed it: an error naming the store and the fix
    with pytest.raises(ValueError, match=r"reads page statistics.*--page-stats"):
        check_features_fit(model, FeatureStore(plain), "run/final")
    with pytest.raises(ValueError, match="--page-stats"):
        segment_books(tmp_path / "run" / "final", plain)


def test_training_without_statistics_and_store_mismatches(stores, tmp_path):
    main, _, plain = stores
    train_pss(PssTrainConfig(features=str(main), out=str(tmp_path / "a"), page_stats=False, **TINY))
    assert not load_pss_model(tmp_path / "a" / "final").config.page_stats
    # a store without statistics among the training stores: none are read, the vectors still are
    train_pss(
        PssTrainConfig(features=str(main), out=str(tmp_path / "b"), extra_features=[str(plain)], **TINY)
    )
    assert not load_pss_model(tmp_path / "b" / "final").config.page_stats
    with pytest.raises(ValueError, match=r"no labelled book left .*exclude_books: synthetic-9-00000"):
        train_pss(
            PssTrainConfig(
                features=str(main),
                out=str(tmp_path / "c"),
                extra_features=[str(plain)],
                exclude_books=["synthetic-9-00000", "synthetic-9-00001"],
                **TINY,
            )
        )
    with pytest.raises(ValueError, match="extra_repeat must be >= 1"):
        PssTrainConfig(features="x", out="y", extra_repeat=0)


def test_eval_report_lists_story_start_and_per_class_f1(tmp_path):
    from comics_analysis.benchmarks.report import render_markdown
    from comics_analysis.metrics.pss import evaluate_with_baselines

    truth = [
        {
            "book_id": "b",
            "page_types": ["cover", "story", "story", "story", "advertisement", "story", "back_cover"],
            "story_start": [False, True, False, False, False, True, False],
        }
    ]
    pred = [
        {
            "book_id": "b",
            "page_types": [
                "cover",
                "story",
                "story",
                "advertisement",
                "advertisement",
                "story",
                "back_cover",
            ],
            "story_start": [False, True, False, False, False, False, False],
        }
    ]
    results = evaluate_with_baselines(truth, pred)
    assert results["model"]["story_start_f1"] == pytest.approx(2 / 3)
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "pss-synthetic.json").write_text(
        json.dumps(
            {
                "benchmark": "pss",
                "date": "2026-12-02T00:00:00+00:00",
                "machine": "m",
                "cores": 2,
                "commit": "abc",
                **results,
            }
        )
    )
    text = render_markdown(bench)
    m = results["model"]
    assert (
        f"| CoSMo PSS, synthetic books (held out): model | accuracy / macro-F1 / story-start F1 / PQ | "
        f"{m['accuracy']:.3f} / {m['macro_f1']:.3f} / 0.667 / {m['pq']:.3f} |"
    ) in text
    assert "per-class F1: cover 1.000, story 0.857, advertisement 0.667, back_cover 1.000" in text
    assert "| CoSMo PSS, synthetic books (held out): cover_first_back_last |" in text


def test_best_epoch_breaks_macro_f1_ties_by_validation_nll(stores, tmp_path):
    """Macro-F1 on a few validation books saturates at 1.0 within a few epochs; the best model is
    then the epoch of that macro-F1 with the lowest validation NLL, not the first one to reach it."""
    main, _, _ = stores
    cfg = {**TINY, "epochs": 4, "val_fraction": 0.5}
    train_pss(PssTrainConfig(features=str(main), out=str(tmp_path / "run"), **cfg))
    lines = [json.loads(x) for x in (tmp_path / "run" / "metrics.jsonl").read_text().splitlines()]
    val = [x for x in lines if x["split"] == "validation"]
    assert len(val) == 4 and all(x["nll"] > 0 for x in val)
    top = max(x["macro_f1"] for x in val)
    chosen = min((x for x in val if x["macro_f1"] == top), key=lambda x: x["nll"])
    info = json.loads((tmp_path / "run" / "best" / "training_info.json").read_text())
    assert info["epoch"] == chosen["epoch"] and info["best_metric"] == "selection"
    # the logged NLL is the best model's mean -log p(true type) over the validation books
    model = load_pss_model(tmp_path / "run" / "best")
    store = FeatureStore(main)
    run_info = json.loads((tmp_path / "run" / "run_info.json").read_text())
    assert run_info["data"]["val_books"] >= 1
    _, val_ids = split_books(list(store.books()), 0.5, 0)
    books = book_arrays(store, val_ids)
    preds = predict_books(model, books, 32, 16, probabilities=True)
    labels = model.config.labels
    nll = np.mean(
        [
            -np.log(p["probabilities"][i, labels.index(t)])
            for b, p in zip(books, preds)
            for i, t in enumerate(b["page_types"])
            if t
        ]
    )
    assert nll == pytest.approx(chosen["nll"], rel=1e-4)
    # select_by macro_f1 (runs before): the first epoch of the highest macro-F1
    train_pss(PssTrainConfig(features=str(main), out=str(tmp_path / "old"), select_by="macro_f1", **cfg))
    lines = [json.loads(x) for x in (tmp_path / "old" / "metrics.jsonl").read_text().splitlines()]
    val = [x for x in lines if x["split"] == "validation"]
    first = next(x for x in val if x["macro_f1"] == max(v["macro_f1"] for v in val))
    assert (
        json.loads((tmp_path / "old" / "best" / "training_info.json").read_text())["epoch"] == first["epoch"]
    )
    with pytest.raises(ValueError, match="select_by"):
        PssTrainConfig(features="x", out="y", select_by="loss")
