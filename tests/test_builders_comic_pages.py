"""comic_pages: a synthetic library ingested and annotated (with simulated VLM readings merged),
built into configs by book split, exported as Parquet + card, reloaded with plain load_dataset."""

import hashlib
import json
from collections import Counter
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.annotate.align import is_aligned, is_perfect_match
from comics_analysis.annotate.vlm import parse_vlm_json
from comics_analysis.cli import main
from comics_analysis.dataset_builders import BUILDERS, export, load
from comics_analysis.dataset_builders.cards import read_front_matter
from comics_analysis.dataset_builders.comic_pages import (
    ComicPages,
    assign_splits,
    export_comic_pages,
    parse_ratios,
    plan_shards,
    split_of_book,
)
from comics_analysis.dataspec import DataSpecError, Page, from_hf_row, hf_features, read_pages, write_jsonl
from comics_analysis.hub import push_dataset, stage_upload
from comics_analysis.ingest import ingest
from comics_analysis.synth import make_library
from comics_analysis.synth.vlm import simulate_vlm

SPLITS = ("train", "validation", "test")


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """4 small synthetic books -> ingest -> simulated grounded VLM readings -> annotate --vlm."""
    root = tmp_path_factory.mktemp("comic-pages")
    make_library(root / "lib", books=4, seed=3, size=(400, 600), story_pages=(2, 3), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    rng = np.random.default_rng(0)
    for truth in read_pages(root / "lib" / "truth"):
        reading = parse_vlm_json(simulate_vlm(truth, rng).text).page
        path = root / "vlm" / "pages" / f"{truth.page_id}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "page_id": truth.page_id,
            "model": "simulated-vlm",
            "prompt_version": "v2-grounded-1",
            "page": reading.model_dump(mode="json"),
        }
        path.write_text(json.dumps(record))
    annotate(root / "ingest", root / "ann", ocr="none", vlm=root / "vlm", show_progress=False)
    return root


@pytest.fixture(scope="module")
def exported(annotated, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "pages"
    result = export_comic_pages(annotated / "ann", out, shard_rows=8, show_progress=False)
    return out, result


def undecoded(ds):
    features = ds.features.copy()
    features["image"] = datasets.Image(decode=False)
    return ds.cast(features)


def load_folder(folder, tmp_path, name=None):
    return datasets.load_dataset(str(folder), name=name, cache_dir=str(tmp_path / "hf"))


def test_configs_apply_the_align_rules_rows_are_the_records(annotated, tmp_path):
    pages = read_annotations(annotated / "ann")
    rules = {
        "all": lambda p: True,
        "aligned": lambda p: is_aligned(p, min_iou=0.5),
        "perfect_match": is_perfect_match,
    }
    sizes = {}
    for config, rule in rules.items():
        built = load("comic_pages", data_dir=annotated / "ann", config=config, cache_dir=tmp_path)
        assert set(built) <= set(SPLITS) and "train" in built
        expected = {p.page_id: p for p in pages if rule(p)}
        rows = [row for split in built for row in undecoded(built[split])]
        assert sorted(r["page_id"] for r in rows) == sorted(expected)
        for split in built:
            assert built[split].features == hf_features()
        for row in rows:
            assert from_hf_row(row) == expected[row["page_id"]]
            stored = annotated / "ingest" / row["image"]["path"]
            assert row["image"]["bytes"] == stored.read_bytes()  # as stored: never re-encoded
        sizes[config] = len(rows)
    # the fixture exercises all three rules with different answers
    assert sizes["all"] == len(pages) > sizes["aligned"] > 0 and sizes["perfect_match"] > 0
    assert sizes["aligned"] != sizes["perfect_match"]
    assert BUILDERS["comic_pages"] is ComicPages


def test_parquet_folder_reloads_with_plain_load_dataset(annotated, exported, tmp_path):
    out, result = exported
    for config in ("all", "aligned", "perfect_match"):
        built = load("comic_pages", data_dir=annotated / "ann", config=config, cache_dir=tmp_path / "b")
        reloaded = load_folder(out, tmp_path, name=config)
        assert list(reloaded) == list(built)
        for split in built:
            assert reloaded[split].features == hf_features() == built[split].features
            assert undecoded(reloaded[split]).to_list() == undecoded(built[split]).to_list()
        # shards hold at most --shard-rows pages and are named <split>-NNNNN-of-NNNNN
        for split, names in result.files[config].items():
            assert [Path(n).name for n in names] == [
                f"{split}-{i:05d}-of-{len(names):05d}.parquet" for i in range(len(names))
            ]
            rows = [pq.ParquetFile(out / n).metadata.num_rows for n in names]
            assert sum(rows) == built[split].num_rows and max(rows) <= 8
    default = load_folder(out, tmp_path)  # no name: the card marks `all` as the default config
    assert sum(ds.num_rows for ds in default.values()) == result.stats["configs"]["all"]["pages"]
    image = default["train"][0]["image"]
    assert image.size == (default["train"][0]["width"], default["train"][0]["height"])


def test_splits_by_book_without_leakage(annotated, exported, tmp_path):
    out, result = exported
    book_split = {}
    for config in result.files:
        reloaded = load_folder(out, tmp_path, name=config)
        for split, ds in reloaded.items():
            for book in set(ds["book_id"]):
                # a book sits in one split, and the same one in every config
                assert book_split.setdefault(book, split) == split, (config, book)
    # the split is a function of the book id alone: its SHA-256 against the cumulative ratios
    assert len(book_split) == 4 and book_split == assign_splits(book_split)
    for book in book_split:
        u = _hash(book) / 2**64
        assert split_of_book(book) == ("train" if u < 0.8 else "validation" if u < 0.9 else "test")


def test_split_assignment_is_stable_proportional_and_never_leaves_train_empty():
    books = [f"book-{i:05d}-{i:08x}" for i in range(3000)]
    splits = assign_splits(books)
    shares = Counter(splits.values())
    assert abs(shares["train"] / 3000 - 0.8) < 0.03 and abs(shares["test"] / 3000 - 0.1) < 0.02
    # adding books never moves a book that was already there
    assert {b: splits[b] for b in books[:1000]} == assign_splits(books[:1000])
    assert set(assign_splits(books, parse_ratios("0.5,0.5,0")).values()) == {"train", "validation"}
    # tiny collections: books that all hash outside train still give a non-empty train
    outside = [b for b in books if split_of_book(b) != "train"][:2]
    tiny = assign_splits(outside)
    assert sorted(tiny.values()) == sorted(["train", split_of_book(max(outside, key=_hash))])
    assert assign_splits(outside[:1]) == {outside[0]: "train"}
    with pytest.raises(ValueError, match="three numbers"):
        parse_ratios("0.8,0.2")
    with pytest.raises(ValueError, match="train > 0"):
        parse_ratios("0,0.5,0.5")


def _hash(book):
    return int.from_bytes(hashlib.sha256(book.encode()).digest()[:8], "big")


def test_shard_plan_by_rows_and_bytes():
    assert plan_shards([10] * 5, max_rows=2, max_bytes=None) == [range(0, 2), range(2, 4), range(4, 5)]
    assert plan_shards([10, 10, 25, 5], max_rows=None, max_bytes=20) == [
        range(0, 2),
        range(2, 3),
        range(3, 4),
    ]
    assert plan_shards([], max_rows=3, max_bytes=None) == [range(0, 0)]
    with pytest.raises(ValueError, match="shard rows"):
        plan_shards([1], max_rows=0, max_bytes=None)


def _recount(pages):
    """The card's numbers counted again, independently, from reloaded rows."""

    def panel_texted(page, k):
        return any(s.strip() for s in page.panels[k].text.all()) or any(
            t.panel == k and t.text.strip() for t in page.texts
        )

    panels = [(p, k) for p in pages for k in range(len(p.panels))]
    return {
        "pages": len(pages),
        "books": len({p.book_id for p in pages}),
        "panels": len(panels),
        "panels_per_page": {str(n): c for n, c in sorted(Counter(len(p.panels) for p in pages).items())},
        "pages_with_text": sum(
            any(t.text.strip() for t in p.texts) or any(panel_texted(p, k) for k in range(len(p.panels)))
            for p in pages
        ),
        "panels_with_text": sum(panel_texted(p, k) for p, k in panels),
        "page_types": dict(Counter(p.page_type or "(none)" for p in pages)),
        "vlm": dict(Counter(p.provenance.vlm or "(none)" for p in pages)),
        "prompt_version": dict(Counter(p.provenance.prompt_version or "(none)" for p in pages)),
        "detector": dict(Counter(p.provenance.detector or "(none)" for p in pages)),
    }


def test_card_statistics_equal_recomputed_ones(exported, tmp_path):
    out, result = exported
    stats = json.loads((out / "stats.json").read_text())
    assert stats == json.loads(json.dumps(result.stats))
    reloaded = load_folder(out, tmp_path, name="all")
    pages = [from_hf_row(row) for split in reloaded for row in undecoded(reloaded[split])]
    expected = _recount(pages)
    c = stats["collection"]
    for key in ("pages", "books", "panels", "panels_per_page", "pages_with_text", "panels_with_text"):
        assert c[key] == expected[key], key
    assert c["page_types"] == expected["page_types"]
    for name in ("vlm", "prompt_version", "detector"):
        assert c["provenance"][name] == expected[name]
    assert c["provenance"]["vlm"]["simulated-vlm"] > 0
    assert c["page_text_coverage"] == round(expected["pages_with_text"] / expected["pages"], 4)
    # subset sizes per config and split, against the rules and the reloaded folders
    rules = {"all": lambda p: True, "aligned": is_aligned, "perfect_match": is_perfect_match}
    for config, rule in rules.items():
        assert stats["configs"][config]["pages"] == sum(rule(p) for p in pages)
        folder = load_folder(out, tmp_path, name=config)
        assert stats["configs"][config]["splits"] == {
            split: {"pages": ds.num_rows, "books": len(set(ds["book_id"]))} for split, ds in folder.items()
        }
    # the card shows the same numbers
    card = (out / "README.md").read_text()
    assert f"| pages | {expected['pages']:,} |" in card
    assert f"| panels | {expected['panels']:,} |" in card
    for n, count in expected["panels_per_page"].items():
        assert f"| {n} | {count:,} | {count / expected['pages']:.1%} |" in card
    aligned = stats["configs"]["aligned"]
    assert f"| `aligned` | {aligned['pages']:,} | {aligned['pages'] / expected['pages']:.1%} |" in card
    assert f"| pages with lettered text | {expected['pages_with_text']:,} |" in card
    assert "| vlm | simulated-vlm |" in card and "| prompt_version | v2-grounded-1 |" in card
    # parquet bytes ~ image bytes: copied, not re-encoded (zstd even trims the JPEGs a little)
    assert stats["build"]["parquet_bytes"]["all"] == sum(
        (out / n).stat().st_size for names in result.files["all"].values() for n in names
    )
    assert 0.8 < result.parquet_bytes["all"] / result.image_bytes["all"] < 1.1


def test_card_front_matter_lists_configs_and_data_files(exported):
    out, result = exported
    meta = read_front_matter(out / "README.md")
    assert meta["license"] == "unknown" and meta["size_categories"] == ["n<1K"]
    assert "object-detection" in meta["task_categories"] and "comics" in meta["tags"]
    # the page configs, then `books` (one row per book, dataset_builders.books)
    assert [c["config_name"] for c in meta["configs"]] == ["all", "aligned", "perfect_match", "books"]
    assert [c.get("default", False) for c in meta["configs"]] == [True, False, False, False]
    files = {**result.files, "books": result.stats["build"]["books_files"]}
    for entry in meta["configs"]:
        config = entry["config_name"]
        assert [d["split"] for d in entry["data_files"]] == list(files[config])
        for d in entry["data_files"]:
            assert sorted(n for n in files[config][d["split"]]) == sorted(
                p.relative_to(out).as_posix() for p in out.glob(d["path"])
            )


def test_options_min_iou_and_ratios(annotated, tmp_path):
    pages = read_annotations(annotated / "ann")
    strict = load(
        "comic_pages", data_dir=annotated / "ann", config="aligned", min_iou=0.9, cache_dir=tmp_path
    )
    assert sum(ds.num_rows for ds in strict.values()) == sum(is_aligned(p, min_iou=0.9) for p in pages)
    result = export_comic_pages(
        annotated / "ann",
        tmp_path / "one",
        configs=["all"],
        split_ratios="1,0,0",
        max_shard_bytes=1,
        show_progress=False,
    )
    assert list(result.files) == ["all"] and list(result.files["all"]) == ["train"]
    assert result.shards == len(pages)  # a byte cap below one page: one page per shard
    paths = export("comic_pages", tmp_path / "via-export", data_dir=annotated / "ann", config="perfect_match")
    assert {p.parent.name for p in paths} == {"perfect_match"} and all(p.is_file() for p in paths)


def test_errors_name_the_page_field_and_file(annotated, tmp_path):
    pages = read_annotations(annotated / "ann")
    # no VLM readings: aligned / perfect_match are empty; asking for one is a clear error
    plain = tmp_path / "plain"
    write_jsonl([Page.from_dict({**p.to_dict(), "quality": {}}) for p in pages], plain / "a.jsonl")
    with pytest.raises(FileNotFoundError, match="image_dir"):
        export_comic_pages(plain, tmp_path / "x", show_progress=False)
    with pytest.raises(ValueError, match="no page qualifies for config aligned"):
        export_comic_pages(plain, tmp_path / "x", configs=["aligned"], image_dir=annotated / "ingest")
    written = export_comic_pages(plain, tmp_path / "x", image_dir=annotated / "ingest", show_progress=False)
    assert list(written.files) == ["all"] and written.stats["configs"]["aligned"]["pages"] == 0
    # a missing image names the page and the field before anything is written
    broken = pages[3].to_dict() | {"image": "pages/nowhere/p0003.jpg"}
    write_jsonl([*pages[:3], Page.from_dict(broken)], tmp_path / "broken" / "b.jsonl")
    with pytest.raises(DataSpecError, match=rf"page {pages[3].page_id}: field image: image file not found"):
        export_comic_pages(tmp_path / "broken", tmp_path / "y", image_dir=annotated / "ingest")
    assert not (tmp_path / "y").exists()
    with pytest.raises(DataSpecError, match="image file not found"):
        load("comic_pages", data_dir=tmp_path / "broken", image_dir=annotated / "ingest", cache_dir=tmp_path)
    # duplicates across files name both places
    write_jsonl(pages[:2], tmp_path / "dup" / "c.jsonl")
    write_jsonl(pages[1:3], tmp_path / "dup" / "d.jsonl")
    with pytest.raises(
        DataSpecError, match=r"d.jsonl:1: page .*/p0001: field page_id: duplicate page \(also in c.jsonl:2\)"
    ):
        export_comic_pages(tmp_path / "dup", tmp_path / "z", image_dir=annotated / "ingest")
    # a folder that is not an earlier export is never replaced
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError, match="refusing to replace"):
        export_comic_pages(annotated / "ann", tmp_path / "mine", show_progress=False)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"
    with pytest.raises(ValueError, match="unknown comic_pages config"):
        export_comic_pages(annotated / "ann", tmp_path / "w", configs=["best"])


def test_cli_build_then_staged_upload(annotated, tmp_path, capsys, monkeypatch):
    out = tmp_path / "ds"
    args = ["dataset", "build", str(annotated / "ann"), "--out", str(out), "--config", "aligned"]
    assert main(["-q", *args, "--shard-rows", "5", "--license", "cc-by-4.0"]) == 0
    printed = capsys.readouterr().out
    assert "aligned" in printed and "Parquet shards" in printed
    staged = stage_upload(out)
    shards = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))
    assert staged == ["README.md", "stats.json", *shards]
    assert all(s.startswith(("aligned/", "books/")) for s in shards)
    assert "books/train-00000-of-00001.parquet" in shards  # the books config is pushed too
    meta = read_front_matter(out / "README.md")
    assert meta["license"] == "cc-by-4.0"
    assert meta["configs"][0]["config_name"] == "aligned" and meta["configs"][0]["default"] is True
    assert main(["dataset", "push", str(out), "--repo-id", "me/pages", "--dry-run"]) == 0
    assert capsys.readouterr().out.split() == staged
    # rebuilding replaces the earlier export (no stale shards)
    assert main(["-q", *args, "--shard-rows", "100"]) == 0
    assert sorted(p.name for p in out.rglob("*.parquet"))[0].endswith("-of-00001.parquet")
    # no token: a clear error before any network call; a token while offline: the same
    monkeypatch.delenv("HF_TOKEN", raising=False)
    assert main(["dataset", "push", str(out), "--repo-id", "me/pages", "--private"]) == 2
    assert "no Hugging Face token: set the environment variable HF_TOKEN" in capsys.readouterr().err
    monkeypatch.setenv("MY_TOKEN", "hf_not_a_real_token")
    assert main(["dataset", "push", str(out), "--repo-id", "me/pages", "--token-env", "MY_TOKEN"]) == 2
    assert "HF_HUB_OFFLINE is set" in capsys.readouterr().err
    with pytest.raises(ValueError, match="USER/NAME"):
        push_dataset(out, "pages", token_env="MY_TOKEN")
    assert main(["dataset", "build", str(annotated / "ann"), "--out", str(out), "--config", "best"]) == 2
    assert "unknown comic_pages config 'best'" in capsys.readouterr().err


def test_staging_rejects_a_card_whose_data_files_are_missing(exported, tmp_path):
    out, _ = exported
    folder = tmp_path / "copy"
    folder.mkdir()
    card = (out / "README.md").read_text()
    (folder / "README.md").write_text(card)
    with pytest.raises(
        ValueError, match=r"configs\[0\]\.data_files\[0\]\.path: 'all/train-\*\.parquet' matches no"
    ):
        stage_upload(folder)
    (folder / "README.md").write_text("# no front matter\n")
    with pytest.raises(ValueError, match="no YAML front matter"):
        stage_upload(folder)


def test_card_template_ships_as_package_data():
    template = resources.files("comics_analysis") / "model_cards" / "dataset_card.md"
    assert template.is_file() and "{{ card_data }}" in template.read_text()  # a Jinja template
    pyproject = (Path(__file__).parents[1] / "pyproject.toml").read_text()
    package_data = pyproject.split("[tool.setuptools.package-data]")[1].split("\n[")[0]
    assert '"model_cards/*.md"' in package_data and fnmatch("model_cards/dataset_card.md", "model_cards/*.md")


def test_parse_configs():
    from comics_analysis.dataset_builders.comic_pages import parse_configs

    assert parse_configs(None) is None and parse_configs("") is None
    assert parse_configs("aligned, all,aligned") == ["aligned", "all"]
    assert parse_configs(["perfect_match"]) == ["perfect_match"]
    with pytest.raises(ValueError, match="configs: expected a comma list of all, aligned, perfect_match"):
        parse_configs(",")
    with pytest.raises(ValueError, match="unknown comic_pages config 'best'"):
        parse_configs("all,best")


def test_export_summary_text(exported):
    out, result = exported
    lines = result.summary_text().splitlines()
    assert lines[0].split() == ["config", "pages", "books", "train", "val", "test", "shards", "MB"]
    assert len(lines) == 2 + len(result.stats["configs"])
    for line, (name, info) in zip(lines[1:-1], result.stats["configs"].items(), strict=True):
        cells = line.split()
        splits = [info["splits"].get(s, {}).get("pages", 0) for s in ("train", "validation", "test")]
        assert cells[:6] == [name, str(info["pages"]), str(info["books"]), *map(str, splits)]
        if name in result.files:
            assert cells[6] == str(sum(len(f) for f in result.files[name].values()))
            assert cells[7] == f"{result.parquet_bytes[name] / 1e6:.1f}"
        else:
            assert cells[6:] == ["-", "-"]
    assert lines[-1].startswith(f"wrote {result.shards} Parquet shards (")
    assert lines[-1].endswith(f"stats.json and README.md to {out} in {result.seconds:.1f} s")
    assert result.seconds > 0
