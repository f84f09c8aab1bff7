"""sources.open_pages: every accepted form of a pages argument, split names, config defaults, errors."""

import json

import numpy as np
import pytest

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.dataspec import hf_features, read_pages, to_hf_row, write_json, write_jsonl
from comics_analysis.ingest import ingest, read_manifest
from comics_analysis.sources import (
    DEFAULT_CONFIG,
    TRAINING_CONFIG,
    choose_config,
    open_pages,
    split_name,
)
from comics_analysis.synth import make_library


@pytest.fixture(scope="module")
def annotated(tmp_path_factory):
    """A real ingest folder and the annotate output made from it (2 synthetic CBZ books)."""
    root = tmp_path_factory.mktemp("sources")
    make_library(root / "lib", books=2, seed=5, size=(300, 450), story_pages=(2, 3), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    annotate(root / "ingest", root / "ann", ocr="none", show_progress=False)
    return root


def pixels(image) -> np.ndarray:
    return np.asarray(image, dtype=np.int16)


def test_ingest_folder_gives_its_pages_without_annotations(annotated):
    source = open_pages(annotated / "ingest")
    rows = read_manifest(annotated / "ingest").ok()
    assert source.page_ids == [r["page_id"] for r in rows]
    assert source.image_root == annotated / "ingest"
    page = source.page(0)
    assert page.panels == [] and page.texts == []
    assert source.load_image(page).size == (page.width, page.height)


def test_annotate_folder_takes_the_images_root_it_recorded(annotated):
    source = open_pages(annotated / "ann")
    assert source.image_root == (annotated / "ingest").resolve()  # from images-root.txt
    assert [p.page_id for p in source.pages()] == [p.page_id for p in read_annotations(annotated / "ann")]
    page = source.page(1)
    ingested = open_pages(annotated / "ingest")
    np.testing.assert_array_equal(pixels(source.load_image(page)), pixels(ingested.load_image(page)))
    # an explicit image_root wins, and a wrong one is an error naming the page and the file
    wrong = open_pages(annotated / "ann", image_root=annotated / "lib")
    with pytest.raises(ValueError, match=rf"{page.page_id}.*image file .*{page.image}"):
        wrong.load_image(page)


def test_pss_features_cli_reads_an_annotate_folder_without_image_root(annotated, tmp_path):
    from comics_analysis.cli import main
    from comics_analysis.inference.features import FeatureStore

    out = tmp_path / "features"
    assert main(["-q", "pss", "features", str(annotated / "ann"), "--out", str(out)]) == 0
    store = FeatureStore(out)
    pages = read_annotations(annotated / "ann")
    assert sorted(store.page_ids.tolist()) == sorted(p.page_id for p in pages)
    assert np.abs(store.vision).sum(axis=1).min() > 0  # every page had its image


def test_dataspec_files_and_folders(annotated, tmp_path):
    pages = read_annotations(annotated / "ann")
    jsonl = annotated / "ingest" / "pages.jsonl"  # images beside the file
    write_jsonl(pages, jsonl)
    source = open_pages(jsonl)
    assert source.page_ids == [p.page_id for p in pages] and source.image_root == jsonl.parent
    assert source.load_image(source.page(0)).size == (pages[0].width, pages[0].height)
    folder = tmp_path / "records"
    write_jsonl(pages[1:], folder / "nested" / "rest.jsonl")
    write_json(pages[0], folder / "first.json")
    whole = open_pages(folder, image_root=annotated / "ingest")
    assert sorted(whole.page_ids) == sorted(p.page_id for p in pages)
    assert whole.load_image(whole.page(0)).size == (whole.page(0).width, whole.page(0).height)
    single = open_pages(folder / "first.json")
    assert single.page_ids == [pages[0].page_id]


def test_openmantra_annotation(shared_data):
    from comics_analysis.dataspec import pages_from_openmantra

    annotation = shared_data / "open-mantra" / "annotation.json"
    source = open_pages(annotation)
    expected = pages_from_openmantra(annotation)
    assert source.page_ids == [p.page_id for p in expected]
    assert [t.text for t in source.page(3).texts] == [t.text for t in expected[3].texts]
    page = source.page(0)
    assert source.load_image(page).size == (page.width, page.height)


def test_coco_file(annotated, tmp_path):
    from comics_analysis.metrics.detection import to_coco

    pages = read_annotations(annotated / "ann")
    coco = tmp_path / "pred.json"
    coco.write_text(json.dumps(to_coco(pages)))
    source = open_pages(coco, image_root=annotated / "ingest")
    assert len(source) == len(pages)
    assert sorted(len(p.panels) for p in source.pages()) == sorted(len(p.panels) for p in pages)


def test_saved_dataset_and_dataset_dict_with_a_dev_split(annotated, tmp_path):
    datasets = pytest.importorskip("datasets")
    pages = read_annotations(annotated / "ann")
    rows = [to_hf_row(p, annotated / "ingest", embed_image=True) for p in pages]
    dataset = datasets.Dataset.from_list(rows, features=hf_features())
    dataset.save_to_disk(str(tmp_path / "saved"))
    saved = open_pages(tmp_path / "saved")
    assert saved.page_ids == [p.page_id for p in pages] and saved.split_names == ()
    files = open_pages(annotated / "ann")
    np.testing.assert_array_equal(  # embedded bytes decode to the same pixels as the files
        pixels(saved.load_image(saved.page(2))), pixels(files.load_image(files.page(2)))
    )
    parts = datasets.DatasetDict(
        {"train": dataset.select(range(3)), "dev": dataset.select(range(3, len(pages)))}
    )
    parts.save_to_disk(str(tmp_path / "dict"))
    source = open_pages(tmp_path / "dict")
    assert source.split_names == ("train", "validation") and len(source) == len(pages)
    assert open_pages(tmp_path / "dict", split="val").page_ids == [p.page_id for p in pages[3:]]
    from comics_analysis.training.data import load_page_splits

    splits = load_page_splits(tmp_path / "dict")
    assert (len(splits.train), len(splits.validation)) == (3, len(pages) - 3)
    page, image = splits.validation.item(0)
    assert page.page_id == pages[3].page_id and image.size == (page.width, page.height)


def test_comic_pages_export_configs_and_splits(annotated, tmp_path):
    from comics_analysis.dataset_builders.comic_pages import export_comic_pages

    export_comic_pages(annotated / "ann", tmp_path / "ds", split_ratios=(0.5, 0.5, 0.0), show_progress=False)
    source = open_pages(tmp_path / "ds")
    assert source.config == DEFAULT_CONFIG == "all"
    assert sorted(source.page_ids) == sorted(p.page_id for p in read_annotations(annotated / "ann"))
    assert set(source.split_names) <= {"train", "validation"} and "train" in source.split_names
    assert sum(len(source.split(s)) for s in source.split_names) == len(source)
    page = source.page(0)
    assert source.load_image(page).size == (page.width, page.height)
    # no VLM readings: nothing is aligned, so the export has no aligned config and training reads all
    assert open_pages(tmp_path / "ds", default_config=TRAINING_CONFIG).config == "all"
    with pytest.raises(FileNotFoundError, match=r"config: comic_pages export .*ds has no config 'aligned'"):
        open_pages(tmp_path / "ds", config="aligned")


def test_config_rule():
    assert choose_config(["all", "aligned"], None, DEFAULT_CONFIG, "x") == "all"
    assert choose_config(["all", "aligned"], None, TRAINING_CONFIG, "x") == "aligned"
    assert choose_config(["all"], None, TRAINING_CONFIG, "x") == "all"
    assert choose_config(["all", "aligned", "perfect_match"], "perfect_match", TRAINING_CONFIG, "x") == (
        "perfect_match"
    )
    with pytest.raises(FileNotFoundError, match="no 'aligned' or 'all' config"):
        choose_config(["perfect_match"], None, TRAINING_CONFIG, "x")


def test_synthetic_books(annotated):
    from comics_analysis.training.pss_features import synthetic_pages

    source = open_pages("synthetic:2:5")
    assert source.book_ids()[0] == "synthetic-5-00000" and set(source.book_ids()) == {
        "synthetic-5-00000",
        "synthetic-5-00001",
    }
    assert source.page_ids == [p.page_id for p in synthetic_pages(2, seed=5)]
    assert {p.page_type for p in source.pages()} >= {"cover", "story"}
    page = source.page(4)
    assert source.load_image(page).size == (265, 400)
    assert open_pages("synthetic:1").book_ids()[0] == "synthetic-0-00000"


def test_split_names_and_aliases(annotated):
    assert [split_name(n) for n in ("train", "val", "dev", "Validation", "TEST")] == [
        "train",
        "validation",
        "validation",
        "validation",
        "test",
    ]
    with pytest.raises(
        ValueError, match=r"unknown split name 'holdout'; expected one of train, validation, test"
    ):
        split_name("holdout")
    with pytest.raises(
        ValueError, match=r"split: annotate output .* has no 'validation' split \(it has no splits\)"
    ):
        open_pages(annotated / "ann", split="dev")


def test_unknown_forms_are_errors_naming_the_argument_and_the_path(annotated, tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(
        ValueError, match=r"dataset: .*notes\.txt is a file of no known kind \(expected an ingest"
    ):
        open_pages(tmp_path / "notes.txt", argument="dataset")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"pages: .*empty is a folder of no known kind"):
        open_pages(tmp_path / "empty")
    with pytest.raises(FileNotFoundError, match=r"dataset: .*missing does not exist"):
        open_pages(tmp_path / "missing", argument="dataset")
    with pytest.raises(
        ValueError, match=r"expected synthetic:N_BOOKS\[:SEED\]\[:real\], got 'synthetic:many'"
    ):
        open_pages("synthetic:many")
    with pytest.raises(ValueError, match=r"config: .*ann is not a comic_pages export"):
        open_pages(annotated / "ann", config="aligned")
    with pytest.raises(TypeError, match="cannot read pages from a int"):
        open_pages(3)
    assert len(open_pages(annotated / "ann", config="all")) == len(read_pages(annotated / "ann" / "dataspec"))


def test_a_page_source_must_say_how_to_read_its_pages():
    from comics_analysis.sources import PageSource

    with pytest.raises(TypeError, match="abstract"):
        PageSource("nothing")

    class Partial(PageSource):  # pages but no image loader
        def __len__(self):
            return 0

        @property
        def page_ids(self):
            return []

        def page(self, i):
            raise IndexError(i)

    with pytest.raises(TypeError, match="load_image"):
        Partial("partial")


def test_lazy_annotate_folder_reads_book_by_book(tmp_path):
    """open_pages(..., lazy=True) (embed's one pass): the same pages in the same order, records
    parsed one book file at a time instead of all at open."""
    from comics_analysis.sources.pages import JsonlSource
    from space_helpers import write_collection

    write_collection(tmp_path / "coll", books=2, story=3, prose=1)
    eager = open_pages(tmp_path / "coll")
    lazy = open_pages(tmp_path / "coll", lazy=True)
    assert isinstance(lazy, JsonlSource) and lazy.description == eager.description
    assert lazy.page_ids == eager.page_ids and len(lazy) == 7
    assert [it.page for it in lazy.items(2, 6)] == [it.page for it in eager.items(2, 6)]
    assert lazy._cached[0] == 2 and len(lazy._cached[1]) == 3  # only the last book file read is held
    assert lazy.items(0, 1)[0].load_image().size == eager.items(0, 1)[0].load_image().size
