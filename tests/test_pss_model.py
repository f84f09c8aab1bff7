"""CoSMo PSS: config, remote-code round trip, page features, training with exact resume, segmentation."""

import json

import numpy as np
import pytest
import torch

from comics_analysis.dataspec import PAGE_TYPES, Page, TextBox
from comics_analysis.inference.features import FeatureStore, extract_features, page_text
from comics_analysis.inference.pss import (
    book_segments,
    evaluate_books,
    load_books,
    load_pss_model,
    predict_books,
    segment_books,
    segments_table,
)
from comics_analysis.inference.vision import PIXEL_DIM
from comics_analysis.modeling.cosmo_pss import (
    CosmoPssConfig,
    CosmoPssForPageClassification,
    page_scalars,
)
from comics_analysis.training import cosmo_pss
from comics_analysis.training.cosmo_pss import (
    PssTrainConfig,
    sample_windows,
    split_books,
    sqrt_inverse_weights,
    train_pss,
)
from comics_analysis.training.pss_features import synthetic_pages
from comics_analysis.training.utils import checkpoint_dirs
from remote_code import run_without_package

REMOTE_SCRIPT = """
    import numpy as np, torch
    from transformers import AutoModel

    torch.set_num_threads(1)
    folder, inputs, out = sys.argv[1:4]
    model = AutoModel.from_pretrained(folder, trust_remote_code=True).eval()
    assert type(model).__module__.startswith("transformers_modules."), type(model).__module__
    batch = {k: torch.from_numpy(v) for k, v in np.load(inputs).items()}
    with torch.no_grad():
        result = model(**batch)
        book = model.classify_book(batch["vision_features"][0], batch["text_features"][0], window=3, stride=1)
    np.savez(out, logits=result.logits.numpy(), start=result.story_start_logits.numpy(),
             book=book["logits"].numpy(), labels=np.array(book["labels"]))
"""


# a PSS training run small enough for a test (one thread, a few windows, a 1-layer model)
TINY_TRAINING = dict(
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
)


def tiny(vision_dim=12, text_dim=8, **kwargs):
    kwargs.setdefault("labels", list(PAGE_TYPES))
    config = CosmoPssConfig(
        vision_dim=vision_dim,
        text_dim=text_dim,
        bert_config={
            "hidden_size": 32,
            "num_hidden_layers": 1,
            "num_attention_heads": 2,
            "intermediate_size": 64,
        },
        **kwargs,
    )
    torch.manual_seed(0)
    return CosmoPssForPageClassification(config).eval()


def test_labels_come_from_the_taxonomy_and_cosmo_v4_shapes_fit_the_reference(shared_data):
    # remote code holds no copy of the taxonomy: a new model is given it, a saved one carries it
    assert CosmoPssConfig().labels == []
    with pytest.raises(ValueError, match=r"CosmoPssConfig\.labels"):
        CosmoPssForPageClassification(CosmoPssConfig())
    assert tiny().config.labels == list(PAGE_TYPES)
    dims = json.loads((shared_data / "fixtures/cosmo_v4_reference/dims.json").read_text())
    reference = torch.load(shared_data / "fixtures/cosmo_v4_reference/checkpoint.pt", weights_only=True)
    reference = reference["model_state_dict"]
    config = CosmoPssConfig.cosmo_v4(24, 32, 48, 2, 4, 32)
    assert config.labels == list(dims.get("labels", config.labels))
    ours = CosmoPssForPageClassification(config).state_dict()
    # every weight the published forward uses exists here with the same shape; the unused ones
    # (word embeddings, pooler, `projection`) and our extras are the only differences
    unused = ("bert_encoder.embeddings.word_embeddings", "bert_encoder.pooler", "projection.")
    for key, value in reference.items():
        if key.startswith(unused):
            continue
        assert key in ours, key
        assert tuple(ours[key].shape) == tuple(value.shape), key
    assert set(ours) - set(reference) == {"empty_text", "transitions", "start_transitions"}


def test_remote_code_in_a_fresh_process_gives_identical_outputs(tmp_path):
    torch.set_num_threads(1)
    model = tiny(transitions="counted")
    model.set_counted_transitions([[0, 3, 3, 3, 4, 3, 8], [0, 2, 3, 3, 8]])
    folder = tmp_path / "model"
    model.save_pretrained(folder)
    saved = json.loads((folder / "config.json").read_text())
    assert saved["auto_map"] == {
        "AutoConfig": "configuration_cosmo_pss.CosmoPssConfig",
        "AutoModel": "modeling_cosmo_pss.CosmoPssForPageClassification",
    }
    g = torch.Generator().manual_seed(1)
    batch = {
        "vision_features": torch.randn(2, 5, 12, generator=g),
        "text_features": torch.randn(2, 5, 8, generator=g),
        "text_mask": torch.tensor([[1, 0, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool),
        "page_mask": torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.bool),
        "scalars": torch.stack([page_scalars(torch.arange(5), 5), page_scalars(torch.arange(5), 3)]),
    }
    np.savez(tmp_path / "inputs.npz", **{k: v.numpy() for k, v in batch.items()})
    run_without_package(tmp_path, REMOTE_SCRIPT, str(folder), "inputs.npz", "out.npz")
    remote = np.load(tmp_path / "out.npz")
    with torch.no_grad():
        local = model(**batch)
        book = model.classify_book(batch["vision_features"][0], batch["text_features"][0], window=3, stride=1)
    np.testing.assert_allclose(remote["logits"], local.logits.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(remote["start"], local.story_start_logits.numpy(), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(remote["book"], book["logits"].numpy(), rtol=1e-6, atol=1e-7)
    assert remote["labels"].tolist() == book["labels"]


def test_windows_average_logits_within_one_book_and_padding_does_not_leak():
    model = tiny()
    v, t = torch.randn(7, 12), torch.randn(7, 8)
    full = model.classify_book(v, t)  # one window = the whole book
    with torch.no_grad():
        direct = model(v[None], t[None], scalars=page_scalars(torch.arange(7), 7)[None]).logits[0]
        padded = model(
            torch.cat([v, torch.randn(3, 12)])[None],
            torch.cat([t, torch.randn(3, 8)])[None],
            page_mask=torch.tensor([[True] * 7 + [False] * 3]),
            scalars=torch.cat([page_scalars(torch.arange(7), 7), torch.zeros(3, 4)])[None],
        ).logits[0, :7]
    torch.testing.assert_close(full["logits"], direct)
    torch.testing.assert_close(padded, direct, rtol=1e-5, atol=1e-5)
    windows = model.classify_book(v, t, window=3, stride=2)  # windows start at 0, 2, 4
    with torch.no_grad():
        scal = page_scalars(torch.arange(7), 7)
        parts = [
            model(v[None, s : s + 3], t[None, s : s + 3], scalars=scal[None, s : s + 3]).logits[0]
            for s in (0, 2, 4)
        ]
    expected = torch.stack(
        [
            parts[0][0],
            parts[0][1],
            (parts[0][2] + parts[1][0]) / 2,
            parts[1][1],
            (parts[1][2] + parts[2][0]) / 2,
            parts[2][1],
            parts[2][2],
        ]
    )
    torch.testing.assert_close(windows["logits"], expected)


def test_many_books_share_forward_calls_with_the_same_results():
    model = tiny()
    gen = torch.Generator().manual_seed(1)
    books = [
        (torch.randn(n, 12, generator=gen), torch.randn(n, 8, generator=gen), None) for n in (7, 3, 7, 12)
    ]
    for window, stride in ((None, None), (3, 2), (5, 5)):
        together = model.classify_books(books, window=window, stride=stride, batch_size=4)
        for (v, t, _), joint in zip(books, together, strict=True):
            alone = model.classify_book(v, t, window=window, stride=stride)
            torch.testing.assert_close(joint["logits"], alone["logits"], rtol=1e-5, atol=1e-5)
            assert joint["labels"] == alone["labels"]
    with pytest.raises(ValueError, match="book 1 has no pages"):
        model.classify_books([books[0], (torch.zeros(0, 12), torch.zeros(0, 8), None)])


def test_viterbi_with_counted_transitions_forbids_unseen_moves():
    model = tiny(transitions="counted")
    model.set_counted_transitions([[0, 3, 3, 8]] * 50, smoothing=1e-6)
    # per-page argmax would say cover, story, back_cover, story, back_cover
    logits = torch.full((5, 10), -5.0)
    for page, label, score in ((0, 0, 5), (1, 3, 5), (2, 8, 1), (2, 3, 0.8), (3, 3, 5), (4, 8, 5)):
        logits[page, label] = score
    assert logits.argmax(-1).tolist() == [0, 3, 8, 3, 8]
    assert model.decode(logits) == [0, 3, 3, 3, 8]


def test_learned_transitions_get_gradients_from_the_crf_loss():
    model = tiny(transitions="learned").train()
    out = model(
        torch.randn(2, 4, 12),
        torch.randn(2, 4, 8),
        scalars=torch.zeros(2, 4, 4),
        labels=torch.tensor([[0, 3, 3, 8], [0, 3, 8, -100]]),
        page_mask=torch.tensor([[1, 1, 1, 1], [1, 1, 1, 0]], dtype=torch.bool),
        story_start_labels=torch.tensor([[0, 1, 0, 0], [0, 1, 0, -1]], dtype=torch.float),
    )
    assert set(out.losses) == {"class", "story_start", "crf"}
    out.loss.backward()
    assert model.transitions.grad.abs().sum() > 0


def test_page_text_serialisation_is_deterministic_and_ordered():
    page = Page(
        page_id="b-00000000/p0000",
        book_id="b-00000000",
        page_index=0,
        width=100,
        height=100,
        texts=[
            TextBox(bbox=[10, 50, 10, 10], text="second  line", kind="dialogue"),
            TextBox(bbox=[10, 5, 10, 10], text=" first\n", kind="narration"),
            TextBox(bbox=[0, 0, 5, 5], text="   ", kind="sfx"),
        ],
    )
    assert page_text(page) == "first | second line"
    empty = Page(page_id="b-00000000/p0001", book_id="b-00000000", page_index=1, width=10, height=10)
    assert page_text(empty) == ""


def test_windows_sampling_and_class_weights():
    books = [{"page_ids": list(range(n))} for n in (5, 30)]
    rng = np.random.default_rng(0)
    windows = sample_windows(books, rng, 3, (4, 10))
    assert len(windows) == 6
    for b, start, length in windows:
        n = len(books[b]["page_ids"])
        assert start >= 0 and start + length <= n and length == min(n, length) and length <= 10
    w = sqrt_inverse_weights({"story": 100, "cover": 4, "back_cover": 4})
    assert w[PAGE_TYPES.index("cover")] / w[PAGE_TYPES.index("story")] == pytest.approx(5.0)
    assert np.mean([w[PAGE_TYPES.index(k)] for k in ("story", "cover", "back_cover")]) == pytest.approx(1.0)
    assert split_books([f"b{i}" for i in range(40)], 0.25, 0) == split_books(
        [f"b{i}" for i in range(40)], 0.25, 0
    )


def test_balanced_windows_train_on_a_rare_class_about_as_often_as_on_story_pages():
    # 40 books of 30 story pages; one pin-up page in book 0: uniform windows of 4-6 pages
    # almost never hold it, class-balanced ones hold it in about half of the extra windows
    story, pinup = PAGE_TYPES.index("story"), PAGE_TYPES.index("art_backmatter")
    books = [{"page_ids": list(range(30)), "label_ids": np.full(30, story)} for _ in range(40)]
    books[0]["label_ids"] = books[0]["label_ids"].copy()
    books[0]["label_ids"][17] = pinup
    books[1]["label_ids"] = np.full(30, -100)  # unlabelled pages are never anchors

    def holding_pinup(windows):
        return sum(b == 0 and start <= 17 < start + length for b, start, length in windows)

    plain = sample_windows(books, np.random.default_rng(0), 4, (4, 6))
    assert sample_windows(books, np.random.default_rng(0), 4, (4, 6), balanced=0.0) == plain
    balanced = sample_windows(books, np.random.default_rng(0), 4, (4, 6), balanced=0.5)
    assert len(plain) == 160 and len(balanced) == 240
    assert holding_pinup(plain) <= 3
    assert 25 <= holding_pinup(balanced) <= 55  # ~40 of the 80 extra windows: two classes present
    for _, start, length in balanced:
        assert start >= 0 and start + length <= 30 and 4 <= length <= 6


@pytest.fixture(scope="module")
def feature_store(tmp_path_factory):
    out = tmp_path_factory.mktemp("pss") / "features"
    first = extract_features(synthetic_pages(4, seed=3, size=(265, 400)), out, show_progress=False)
    again = extract_features(synthetic_pages(5, seed=3, size=(265, 400)), out, show_progress=False)
    return out, first, again


def test_features_are_cached_by_page_id_with_an_empty_text_mask(feature_store):
    out, first, again = feature_store
    assert again["skipped"] == first["written"] and again["rows"] == first["written"] + again["written"]
    store = FeatureStore(out)
    assert store.vision.shape == (again["rows"], PIXEL_DIM) and store.text.shape[1] == 384
    books = store.books()
    assert list(books) == [f"synthetic-3-{b:05d}" for b in range(5)]
    book = store.book("synthetic-3-00001")
    assert book["page_types"][0] == "cover" and book["page_types"][-1] == "back_cover"
    norms = np.linalg.norm(store.text, axis=1)
    np.testing.assert_allclose(norms[store.text_mask], 1.0, rtol=1e-5)
    assert (norms[~store.text_mask] == 0).all()
    with pytest.raises(ValueError, match="text_encoder"):
        extract_features(synthetic_pages(1, seed=3), out, text="other-model", show_progress=False)


def test_a_new_run_never_silently_restarts_over_a_previous_one(feature_store, tmp_path):
    """Before: training into a run folder without --resume restarted from step 0 over it, and
    a later --resume could pick up the old run's checkpoint."""
    out, _, _ = feature_store
    config = dict(features=str(out), seed=1, out=str(tmp_path / "run"), epochs=1, **TINY_TRAINING)
    train_pss(PssTrainConfig(**config))
    (old,) = checkpoint_dirs(tmp_path / "run/checkpoints")
    marker = old / "old-run-marker"
    marker.write_text("x")
    with pytest.raises(FileExistsError, match=r"holds a previous run .*--resume.*--overwrite"):
        train_pss(PssTrainConfig(**config))
    assert marker.is_file()  # refused before touching anything
    train_pss(PssTrainConfig(**config, overwrite=True))
    assert not marker.exists() and len(checkpoint_dirs(tmp_path / "run/checkpoints")) == 1


def test_training_resumes_exactly_and_segments(feature_store, tmp_path, monkeypatch):
    out, _, _ = feature_store
    common = dict(features=str(out), seed=1, **TINY_TRAINING)
    straight = train_pss(PssTrainConfig(out=str(tmp_path / "a"), epochs=2, **common))
    train_pss(PssTrainConfig(out=str(tmp_path / "b"), epochs=1, **common))
    (state,) = checkpoint_dirs(tmp_path / "b/checkpoints")  # accelerate state of the end of epoch 0
    assert json.loads((state / "trainer_state.json").read_text())["epoch"] == 1
    assert (state / "random_states_0.pkl").is_file() and not (tmp_path / "b/checkpoint.pt").exists()
    calls = []
    real_sample = cosmo_pss.sample_windows

    def counting(*args, **kwargs):
        calls.append(1)
        return real_sample(*args, **kwargs)

    monkeypatch.setattr(cosmo_pss, "sample_windows", counting)
    resumed = train_pss(PssTrainConfig(out=str(tmp_path / "b"), epochs=2, **common), resume=True)
    assert len(calls) == 1  # only the second epoch ran: the first came from the accelerate state
    assert [h["loss"] for h in straight.history] == [h["loss"] for h in resumed.history]
    assert resumed.step == straight.step and resumed.metrics == straight.metrics
    assert resumed.best == straight.best and resumed.best["metric"] == "selection"  # select_by default
    from safetensors.torch import load_file

    a = load_file(tmp_path / "a/final/model.safetensors")
    b = load_file(tmp_path / "b/final/model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=0, msg=key)
    logged = [json.loads(line) for line in (tmp_path / "b/metrics.jsonl").read_text().splitlines()]
    assert [(r["epoch"], r["split"]) for r in logged] == [
        (0, "train"),
        (0, "validation"),
        (1, "train"),
        (1, "validation"),
    ]
    model = CosmoPssForPageClassification.from_pretrained(tmp_path / "a/best")
    books = load_books(out)
    preds = predict_books(model, books, window=6, stride=3)
    assert [len(p["page_types"]) for p in preds] == [len(b["page_ids"]) for b in books]
    segs = book_segments(preds[0])
    assert segs[0]["first_page"] == 0 and segs[-1]["last_page"] == len(books[0]["page_ids"]) - 1
    assert all(0 <= s["confidence"] <= 1 for s in segs)


def test_checkpoints_keep_the_last_n_and_resume_from_a_named_one(feature_store, tmp_path):
    out, _, _ = feature_store
    cfg = PssTrainConfig(
        features=str(out), out=str(tmp_path / "run"), seed=2, epochs=3, keep_checkpoints=2, **TINY_TRAINING
    )
    result = train_pss(cfg)
    found = checkpoint_dirs(tmp_path / "run/checkpoints")
    states = [json.loads((f / "trainer_state.json").read_text()) for f in found]
    assert [s["epoch"] for s in states] == [2, 3]  # the first of three is gone
    assert states[-1]["step"] == result.step and [f.name for f in found] == [
        f"step-{s['step']:07d}" for s in states
    ]
    assert (
        tmp_path / "run/final/training_info.json"
    ).is_file() and result.final_dir == tmp_path / "run/final"
    again = train_pss(cfg, resume=found[0])  # the older one: epoch 3 runs again
    assert again.metrics == result.metrics and again.history == result.history
    logged = [json.loads(line) for line in (tmp_path / "run/metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in logged if r["split"] == "validation"] == [0, 1, 2]


def test_cli_segment_prints_a_table_writes_json_and_page_types(feature_store, tmp_path, capsys):
    from comics_analysis.cli import main
    from comics_analysis.dataspec import read_pages, write_jsonl
    from comics_analysis.synth.book import make_book

    out, _, _ = feature_store
    assert (
        main(
            [
                "train",
                "pss",
                str(out),
                "--out",
                str(tmp_path / "run"),
                "--epochs",
                "1",
                "--hidden-size",
                "16",
                "--layers",
                "1",
                "--heads",
                "2",
                "--window-range",
                "4-8",
                "--threads",
                "1",
            ]
        )
        == 0
    )
    records = [
        p.record.rekeyed("synthetic-3-00000") for p in make_book((3, 0), kind="issue", size=(265, 400)).pages
    ]
    for r in records:
        r.page_type = None
    write_jsonl(records, tmp_path / "spec" / "book.jsonl")
    code = main(
        [
            "segment",
            "synthetic-3-00000",
            "--features",
            str(out),
            "--model",
            str(tmp_path / "run/best"),
            "--json",
            str(tmp_path / "seg.json"),
            "--dataspec",
            str(tmp_path / "spec"),
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "synthetic-3-00000" in printed and "first" in printed
    result = json.loads((tmp_path / "seg.json").read_text())["books"][0]
    assert len(result["page_types"]) == len(records) and result["segments"]
    written = read_pages(tmp_path / "spec" / "book.jsonl")
    assert [p.page_type for p in written] == result["page_types"]
    assert main(["segment", "nope", "--features", str(out), "--model", str(tmp_path / "run/best")]) == 2

    # eval pss: the model beside both baselines, the same numbers as the library function
    model_dir = str(tmp_path / "run/best")
    argv = ["eval", "pss", "--features", str(out), "--model", model_dir]
    assert main([*argv, "--json", str(tmp_path / "p.json")]) == 0
    printed = capsys.readouterr().out
    assert "all_story" in printed and "cover_first_back_last" in printed and "macro_f1" in printed
    scored = json.loads((tmp_path / "p.json").read_text())
    expected = evaluate_books(load_pss_model(model_dir), load_books(out), 32, 16)
    for system in ("model", "all_story", "cover_first_back_last"):
        for key in ("accuracy", "macro_f1", "pq", "boundary_f1_0", "mndd"):
            assert scored[system][key] == pytest.approx(expected[system][key])
    assert scored["model"]["books"] == 5 and scored["window"] == 32
    assert main([*argv, "--books", "nope"]) == 2


def test_segment_books_predicts_chosen_books_and_writes_json_and_dataspec(feature_store, tmp_path):
    from comics_analysis.dataspec import read_pages, write_jsonl
    from comics_analysis.synth.book import BOOK_KINDS, make_book

    out, _, _ = feature_store
    model_dir = tmp_path / "model"
    tiny(vision_dim=PIXEL_DIM, text_dim=384).save_pretrained(model_dir)
    book = make_book((3, 1), kind=BOOK_KINDS[1], number=2, size=(265, 400))  # as synthetic_pages
    records = [p.record.rekeyed("synthetic-3-00001") for p in book.pages]
    for r in records:
        r.page_type = None
    write_jsonl(records, tmp_path / "spec" / "book.jsonl")
    wanted = ["synthetic-3-00002", "synthetic-3-00001"]
    result = segment_books(
        model_dir, out, wanted, window=0, json_path=tmp_path / "x" / "seg.json", dataspec=tmp_path / "spec"
    )
    assert [b["book_id"] for b in result.books] == wanted  # the order asked for
    # window 0 is the whole book: the same predictions as the pieces called by hand
    expected = predict_books(load_pss_model(model_dir), load_books(out, wanted), None, 16)
    for got, want in zip(result.books, expected, strict=True):
        assert got["page_types"] == want["page_types"] and got["confidence"] == want["confidence"]
        assert got["segments"] == book_segments(want)
    saved = json.loads((tmp_path / "x" / "seg.json").read_text())
    assert saved["model"] == str(model_dir) and saved["books"] == json.loads(json.dumps(result.books))
    types = result.page_types()
    assert len(types) == sum(len(b["page_ids"]) for b in result.books)
    assert result.tables().startswith(segments_table(wanted[0], result.books[0]["segments"]))
    assert result.dataspec_updated == len(records)
    written = read_pages(tmp_path / "spec" / "book.jsonl")
    assert [p.page_type for p in written] == result.books[1]["page_types"]
    windowed = segment_books(model_dir, out, ["all"], window=4, stride=2)
    assert len(windowed.books) == 5 and windowed.json_path is None and windowed.dataspec_updated is None
    with pytest.raises(KeyError, match="nope"):
        segment_books(model_dir, out, ["nope"])
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        load_pss_model(tmp_path / "spec")


def test_run_pss_scores_the_model_and_both_baselines(feature_store, tmp_path):
    from comics_analysis.benchmarks.pss import run_pss

    out, _, _ = feature_store
    model_dir = tmp_path / "model"
    tiny(vision_dim=PIXEL_DIM, text_dim=384).save_pretrained(model_dir)
    run = run_pss(out, model_dir, ["all"], window=0, stride=16)
    assert run.window is None and run.results["model"]["books"] == 5
    full = evaluate_books(load_pss_model(model_dir), load_books(out), None, 16)
    for system in ("model", "all_story", "cover_first_back_last"):
        assert run.results[system]["macro_f1"] == pytest.approx(full[system]["macro_f1"])
    head, *table = run.summary_text().splitlines()
    assert head.startswith("5 books, ") and "scheme ours (macro-F1 over " in head
    assert table[0].split()[:4] == ["system", "accuracy", "macro_f1", "story_start_f1"]
    assert [line.split()[0] for line in table[2:5]] == list(run.results)
    for line, (system, r) in zip(table[2:5], run.results.items()):
        assert line.split()[3] == f"{r['story_start_f1']:.3f}"
        assert table[5:][list(run.results).index(system)] == f"per-class F1, {system}: " + ", ".join(
            f"{k} {r['per_class'][k]['f1']:.3f}" for k in r["macro_f1_labels"]
        )
    payload = run.payload()
    assert (payload["benchmark"], payload["window"]) == ("pss", None)
    assert payload["model"] == run.results["model"]  # the system's results (as `eval pss --json` wrote)
    assert payload["features"] == str(out) and payload["date"]
    with pytest.raises(KeyError, match="books not in the feature store"):
        run_pss(out, model_dir, ["nope"])


def test_segment_into_store_writes_the_predicted_page_types(feature_store, tmp_path):
    pytest.importorskip("zarr")
    from comics_analysis.store import SegmentRun, open_store, segment_into_store, write_store
    from comics_analysis.synth.book import make_book
    from store_embedder import embed_pages

    out, _, _ = feature_store
    tiny(vision_dim=PIXEL_DIM, text_dim=384).save_pretrained(tmp_path / "model")
    records = [
        p.record.rekeyed("synthetic-3-00000") for p in make_book((3, 0), kind="issue", size=(265, 400)).pages
    ]
    write_store(
        records, tmp_path / "s.zarr", embed_pages, model_id="test", chunk_pages=64, show_progress=False
    )
    before = open_store(tmp_path / "s.zarr").page_types.copy()
    run = segment_into_store(
        tmp_path / "model", out, ["synthetic-3-00000"], store=tmp_path / "s.zarr", window=0
    )
    predicted = run.segmentation.page_types()
    store = open_store(tmp_path / "s.zarr")
    assert [store.page_types[store.locate(pid)] for pid in predicted] == list(predicted.values())
    assert run.store_updated == sum(before[store.locate(pid)] != t for pid, t in predicted.items())
    assert run.summary_text() == (
        f"{run.segmentation.tables()}\n"
        f"page_type of {run.store_updated} store rows updated in {tmp_path / 's.zarr'}"
    )
    alone = segment_into_store(tmp_path / "model", out, ["synthetic-3-00000"], window=0)
    assert alone.store is None and alone.summary_text() == alone.segmentation.tables()
    assert SegmentRun(alone.segmentation).summary_text() == alone.segmentation.tables()


def test_a_model_and_features_of_other_sizes_name_both_sizes_and_sources(feature_store, tmp_path, capsys):
    """A model trained on other encoders' vectors: an error naming both sizes and where they came
    from, from `segment` and `eval pss` alike (not a matrix-shape error in the forward pass)."""
    from comics_analysis.benchmarks.pss import run_pss
    from comics_analysis.cli import main
    from comics_analysis.inference.pss import segment_books

    out, _, _ = feature_store
    tiny(vision_dim=1280, text_dim=384).save_pretrained(tmp_path / "effnet-model")
    model = tmp_path / "effnet-model"
    expected = (
        rf"vision: the model {model} takes 1280-d vectors, the feature store {out} holds {PIXEL_DIM}-d "
        r"ones \(encoder 'pixels'\)"
    )
    with pytest.raises(ValueError, match=expected):
        segment_books(model, out, ["all"])
    with pytest.raises(ValueError, match=expected):
        run_pss(out, model)
    assert main(["segment", "all", "--features", str(out), "--model", str(model)]) == 2
    err = capsys.readouterr().err
    assert "1280-d" in err and f"{PIXEL_DIM}-d" in err and "mat1" not in err
