"""`--engine ray` for PSS features and VLM reading (issue 22): on a local 2-CPU Ray cluster they
write the same files as the local engine; a failed feature batch stops the store in order, lists
its pages and a rerun resumes; the VLM run keeps to its concurrency over the whole cluster,
against a real HTTP server on 127.0.0.1."""

import json
import shutil

import numpy as np
import pyarrow.parquet as pq
import pytest

from comics_analysis.cli import main
from comics_analysis.dataspec import read_pages
from comics_analysis.engine import EngineOptions
from comics_analysis.ingest import read_manifest
from pipeline_outputs import TIMES, _timeless, assert_same_store
from ray_helpers import PAGES, RAY, annotated_library, local_cluster


@pytest.fixture(scope="module")
def cluster():
    yield from local_cluster()


@pytest.fixture(scope="module")
def library(tmp_path_factory, cluster):
    """3 books (23 pages) ingested and annotated (panels only)."""
    return annotated_library(tmp_path_factory.mktemp("rayfv"), "none", "annotated")


def test_ray_pss_features_equal_the_local_engine_and_a_failed_batch_resumes(library):
    torch = pytest.importorskip("torch")
    from comics_analysis.inference.features import FeatureStore, extract_features
    from comics_analysis.inference.features_engine import extract_features_engine
    from comics_analysis.training.pss_features import dataset_pages

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray worker of 1 CPU: the same float sums
    try:
        local = extract_features(
            dataset_pages(library / "annotated"), library / "f-local", batch_pages=5, show_progress=False
        )
    finally:
        torch.set_num_threads(threads)
    ray = extract_features_engine(library / "annotated", library / "f-ray", RAY, batch_pages=5)
    assert ray["written"] == local["written"] == ray["rows"] == PAGES
    files = assert_same_store(library / "f-local", library / "f-ray")
    assert "vision/c/0/0" in files and not (library / "f-ray" / "errors.parquet").exists()
    # a page image gone: its batch (the 3rd of 5) fails, the later ones are not appended
    ids = list(FeatureStore(library / "f-local").page_ids)
    book, page = ids[12].split("/p")
    image = next((library / "ingest" / "pages" / book).glob(f"p{page}.*"))
    shutil.move(image, library / "away")
    try:
        with pytest.raises(RuntimeError, match="run the same command again"):
            extract_features_engine(library / "annotated", library / "f-fail", RAY, batch_pages=5)
    finally:
        shutil.move(library / "away", image)
    assert FeatureStore(library / "f-fail").page_ids.tolist() == ids[:10]
    errors = pq.read_table(library / "f-fail" / "errors.parquet").to_pylist()
    assert [e["page_id"] for e in errors] == ids[10:]
    assert {e["kind"] for e in errors[:5]} == {"failed"} and {e["kind"] for e in errors[5:]} == {
        "not_written"
    }
    assert ids[12] in errors[0]["reason"] and "not found" in errors[0]["reason"]
    # the rerun (the CLI, the same engine) appends only the missing pages: the local store again
    args = ["-q", "pss", "features", str(library / "annotated"), "--out", str(library / "f-fail")]
    assert main([*args, "--engine", "ray"]) == 0
    assert_same_store(library / "f-local", library / "f-fail", skip=("errors.parquet",))
    assert not (library / "f-fail" / "errors.parquet").exists()


def test_ray_pss_feature_shards_merge_into_the_local_store(library):
    """Shards on Ray workers (1 thread each) and the merge give the local store of 1 thread."""
    torch = pytest.importorskip("torch")
    from comics_analysis.inference.features import extract_features
    from comics_analysis.inference.features_engine import extract_features_engine
    from comics_analysis.training.pss_features import dataset_pages

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a Ray worker of 1 CPU: the same float sums
    try:
        extract_features(
            dataset_pages(library / "annotated"), library / "s-one", batch_pages=5, show_progress=False
        )
        for i in range(2):
            got = extract_features_engine(
                library / "annotated", library / "s-ray", RAY, batch_pages=5, num_shards=2, shard_index=i
            )
            assert got["written"] == (13 if i == 0 else 10)  # batches 0, 2, 4 (5 + 5 + 3) / 1, 3
        merged = extract_features_engine(
            library / "annotated", library / "s-ray", EngineOptions(), batch_pages=5
        )
    finally:
        torch.set_num_threads(threads)
    assert merged["copied"] == merged["written"] == PAGES
    assert_same_store(library / "s-one", library / "s-ray")


def _answers(library) -> dict[str, str]:
    """A simulated (error-free) VLM answer per page image, by the image's hash."""
    from PIL import Image

    from comics_analysis.annotate.vlm import image_data_uri
    from comics_analysis.synth.vlm import VlmErrors, simulate_vlm

    truth = {p.page_id: p for p in read_pages(library / "lib" / "truth")}
    rng = np.random.default_rng(0)
    answers = {}
    for row in read_manifest(library / "ingest").ok():
        with Image.open(library / "ingest" / row["path"]) as image:
            _, sha = image_data_uri(image, 800)
        answers[sha] = simulate_vlm(
            truth[row["page_id"]], rng, VlmErrors(missing=0, extra=0, wrong_text=0)
        ).text
    return answers


def test_ray_vlm_equals_the_local_engine_within_its_concurrency(library):
    pytest.importorskip("openai", reason="the openai client is not installed")
    from comics_analysis.annotate.vlm import VlmConfig, run_vlm
    from vlm_server import Oracle

    answers = _answers(library)

    def config(server, cache):
        return VlmConfig(
            model="sim-vlm",
            base_url=server.url,
            max_side=800,
            backoff=0.01,
            timeout=5.0,
            price_in=100.0,
            price_out=0.0,
            cache_dir=str(library / cache),
        )

    runs = {}
    for name, engine in (("local", None), ("ray", EngineOptions(engine="ray", workers=2))):
        with Oracle(answers, delay=0.2) as server:
            runs[name] = run_vlm(
                library / "ingest",
                library / f"vlm-{name}",
                config(server, f"cache-{name}"),
                concurrency=2,
                show_progress=False,
                engine=engine,
            )
            assert 1 <= server.max_in_flight <= 2, name  # never more than --concurrency in flight
            assert len(server.requests) == PAGES, name
    local, ray = runs["local"], runs["ray"]
    assert (ray.pages, ray.read, ray.failed, ray.parse_failed) == (PAGES, PAGES, 0, 0)
    assert (ray.input_tokens, ray.cost) == (local.input_tokens, pytest.approx(local.cost))
    names = sorted(
        p.relative_to(library / "vlm-local").as_posix() for p in (library / "vlm-local").rglob("*")
    )
    assert names == sorted(
        p.relative_to(library / "vlm-ray").as_posix() for p in (library / "vlm-ray").rglob("*")
    )
    pages = [n for n in names if n.startswith("pages/") and n.endswith(".json")]
    assert len(pages) == PAGES
    for name in pages:
        left, right = (json.loads((library / f"vlm-{e}" / name).read_text()) for e in ("local", "ray"))
        assert _timeless(left, TIMES) == _timeless(right, TIMES), name
    # a rerun has nothing to do; a budget needs the local engine (one process counts the spend)
    with Oracle(answers) as server:
        again = run_vlm(
            library / "ingest",
            library / "vlm-ray",
            config(server, "cache-ray"),
            engine=RAY,
            show_progress=False,
        )
        assert again.skipped == PAGES and not server.requests
        with pytest.raises(ValueError, match="max_cost needs the local engine"):
            run_vlm(
                library / "ingest",
                library / "vlm-ray",
                config(server, "cache-ray"),
                engine=RAY,
                max_cost=1.0,
                show_progress=False,
            )
