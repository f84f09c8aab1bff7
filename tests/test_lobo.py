"""Leave-one-book-out selection of detector constants (benchmarks/lobo.py) on made-up per-page
counts (truth, pred, tp), and the README panel table's LOBO column."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from comics_analysis.benchmarks.extractors import panels_table
from comics_analysis.benchmarks.lobo import (
    agreed,
    brittle,
    choose,
    f1,
    grid_values,
    lobo_cells,
    lobo_rows,
    sensitivity,
)
from comics_analysis.benchmarks.report import update_readme_panels

BOOKS = {"a/p0": "a", "a/p1": "a", "b/p0": "b", "s/p0": "synthetic"}
PERFECT = {"a/p0": (4, 4, 4), "a/p1": (3, 3, 3), "b/p0": (5, 5, 5), "s/p0": (2, 2, 2)}


def _with(**pages):
    return {**PERFECT, **pages}


def test_pooled_f1_sums_counts_over_pages():
    assert f1([(4, 4, 4), (6, 2, 2)]) == pytest.approx(2 * 6 / (10 + 6))
    assert f1([]) == 0.0
    assert f1([(3, 0, 0)]) == 0.0


def test_a_value_that_helps_only_the_left_out_book_is_not_chosen():
    # x=2 fixes book b's page (1 of 5 found by default) and harms nothing else
    results = {"x": {1: _with(**{"b/p0": (5, 1, 1)}), 2: PERFECT}}
    assert choose(results, {"x": 1}, BOOKS, left_out="a") == {"x": 2}  # b is in development: chosen
    assert choose(results, {"x": 1}, BOOKS, left_out="b") == {"x": 1}  # b left out: no evidence, default


def test_a_value_chosen_on_the_other_books_is_kept_even_when_it_hurts_the_left_out_one():
    base = _with(**{"a/p0": (4, 6, 3)})
    results = {"y": {0.5: base, 0.7: _with(**{"b/p0": (5, 5, 3)})}}
    # on a + synthetic, y=0.7 fixes a's page; it hurts b, which is left out: chosen all the same
    assert choose(results, {"y": 0.5}, BOOKS, left_out="b") == {"y": 0.7}
    assert choose(results, {"y": 0.5}, BOOKS, left_out="a") == {"y": 0.5}


def test_ties_keep_the_default_then_the_nearest_value():
    results = {"z": {10: PERFECT, 7: PERFECT, 14: PERFECT}}
    assert choose(results, {"z": 10}, BOOKS, left_out="a") == {"z": 10}
    worse = _with(**{"a/p1": (3, 3, 2)})
    results = {"z": {10: worse, 7: PERFECT, 14: PERFECT, 12: PERFECT}}
    assert choose(results, {"z": 10}, BOOKS, left_out="b") == {"z": 12}  # nearest to 10 of the best


def test_fields_are_chosen_one_at_a_time_from_the_defaults():
    results = {
        "x": {1: _with(**{"a/p0": (4, 5, 3)}), 2: PERFECT},
        "flag": {True: PERFECT, False: _with(**{"s/p0": (2, 1, 1)})},
    }
    assert choose(results, {"x": 1, "flag": True}, BOOKS, left_out="b") == {"x": 2, "flag": True}
    with pytest.raises(ValueError, match=r"'x'.*default 3"):
        choose(results, {"x": 3, "flag": True}, BOOKS, left_out="b")


def test_grid_rounds_ints_caps_shares_and_drops_repeats():
    assert grid_values(800, (0.7, 0.85, 1.2, 1.4)) == {0.7: 560, 0.85: 680, 1.0: 800, 1.2: 960, 1.4: 1120}
    assert grid_values(2, (0.7, 0.85, 1.2, 1.4)) == {0.7: 1, 1.0: 2, 1.4: 3}
    assert grid_values(0.97, (0.7, 1.2, 1.4)) == {0.7: 0.679, 1.0: 0.97, 1.2: 1.0}
    assert grid_values(1.5, (1.4,)) == {1.0: 1.5, 1.4: 2.1}
    assert grid_values(True, (0.7, 1.4)) == {0.0: False, 1.0: True}


def test_sensitivity_and_brittle_fields():
    results = {
        "x": {  # moves book a near the default, b only far from it
            1.0: PERFECT,
            1.2: _with(**{"a/p0": (4, 2, 2)}),
            1.4: _with(**{"b/p0": (5, 1, 1)}),
        },
        "w": {1: PERFECT, 2: PERFECT},
    }
    sens = sensitivity(results, BOOKS, near={"x": [1.0, 1.2], "w": [1, 2]})
    a, b = sens["x"]["a"], sens["x"]["b"]
    assert a["max"] == 1.0 and a["min"] == pytest.approx(2 * 5 / (7 + 5)) and a["near"] == a["range"]
    assert b["range"] == pytest.approx(1 - 2 / 6) and b["near"] == 0.0
    assert sens["w"]["a"]["range"] == 0.0
    assert brittle(sens) == [("x", "a", pytest.approx(a["near"]))]
    assert brittle(sens, limit=0.5) == []


def test_agreed_fields_move_the_same_way_in_every_fold():
    defaults = {"up": 0.3, "split": 0.08, "kept": 10, "flag": True}
    choices = {
        "a": {"up": 0.36, "split": 0.112, "kept": 12, "flag": False},
        "b": {"up": 0.42, "split": 0.068, "kept": 10, "flag": False},
        "c": {"up": 0.42, "split": 0.112, "kept": 12, "flag": False},
    }
    assert agreed(choices, defaults) == {"up": [0.36, 0.42, 0.42]}  # booleans are passes, not constants
    assert agreed({}, defaults) == {}


LOBO = {
    "books": {
        "craphound": {
            "key": "craphound-acbf",
            "changed": {"ink_threshold": 34},
            "dev": {"f1": 0.907},
            "lobo": {
                "f1": 0.891,
                "precision": 0.9,
                "recall": 0.88,
                "ap50": 0.85,
                "exact_count": 0.7,
                "order_all": 0.8,
            },
        }
    },
    "brittle": [{"field": "ink_threshold", "book": "craphound", "near_range": 0.031}],
    "agreed": {"changed": {"edge_cover": 0.72}, "books": {"craphound": {"f1": 0.91}}},
}
DEV = {
    "craphound-acbf": {
        "pages": 24,
        "truth": 151,
        "precision": 0.9,
        "recall": 0.9,
        "f1": 0.907,
        "ap50": 0.8,
        "exact_count": 0.75,
    },
    "synthetic": {
        "pages": 54,
        "truth": 253,
        "precision": 1.0,
        "recall": 1.0,
        "f1": 0.972,
        "ap50": 0.9,
        "exact_count": 0.9,
    },
    "config": {"work_height": 800},  # eval_panels_dev.py's JSON holds more than the books
}


def test_readme_panel_table_has_a_lobo_column_only_when_the_result_exists(tmp_path):
    assert lobo_cells(LOBO, ["craphound-acbf", "synthetic"]) == ["0.891", "-"]
    assert lobo_cells(None, ["craphound-acbf"]) == ["-"]
    without, with_lobo = panels_table(DEV), panels_table(DEV, lobo=LOBO)
    assert "LOBO" not in without
    header, _, crap, synth = with_lobo.splitlines()
    assert header.endswith("| F1 left out (LOBO) |")
    assert crap.endswith("| 0.907 | 0.800 | 0.750 | - (tau -) | 0.891 |") and synth.endswith("| - |")

    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "panels-dev.json").write_text(json.dumps(DEV))
    readme = tmp_path / "README.md"
    start, end = (
        "<!-- panels-table: generated by `comics-analysis eval report --readme README.md` -->",
        "<!-- /panels-table -->",
    )
    readme.write_text(f"intro\n{start}\nold\n{end}\nrest\n")
    assert update_readme_panels(readme, bench)
    assert without in readme.read_text() and "LOBO" not in readme.read_text()
    (bench / "panels-lobo.json").write_text(json.dumps(LOBO))
    assert update_readme_panels(readme, bench)
    assert readme.read_text() == f"intro\n{start}\n{with_lobo}\n{end}\nrest\n"


def test_benchmark_rows_of_the_lobo_result():
    rows = lobo_rows(LOBO)
    assert ("F1@0.5 left out (dev: chosen on all books)", "0.891 (0.907)") in [(r[1], r[2]) for r in rows]
    assert rows[1][2] == "0.900 / 0.880; 0.850; 0.700; 0.800"
    assert rows[2][2] == "ink_threshold=34"
    assert rows[-2][1:] == ("F1@0.5 per book with edge_cover=0.72", "craphound 0.910")
    assert rows[-1][2] == "ink_threshold on craphound (0.031)"


def test_committed_lobo_result_names_every_real_dev_book():
    path = Path(__file__).resolve().parents[1] / "docs" / "bench" / "panels-lobo.json"
    if not path.exists():
        pytest.fail(f"{path} is missing: run scripts/lobo_panels.py --json {path}")
    result = json.loads(path.read_text())
    dev = json.loads(path.with_name("panels-dev.json").read_text())
    books = {k for k, v in dev.items() if isinstance(v, dict) and "f1" in v} - {"synthetic"}
    assert {b["key"] for b in result["books"].values()} == books
    for b in result["books"].values():
        assert 0.0 <= b["lobo"]["f1"] <= 1.0 and set(b["changed"]) <= set(result["grid"])
