"""The hf detector plumbing with a tiny, randomly initialised RT-DETR saved to a folder (no Hub)."""

import pytest

pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
transformers = pytest.importorskip("transformers", reason="the 'ml' extra is not installed")

from comics_analysis.annotate import annotate, detect, read_annotations  # noqa: E402
from comics_analysis.annotate.detectors.hf import HfDetector  # noqa: E402
from comics_analysis.ingest import ingest  # noqa: E402
from comics_analysis.synth import make_library, make_page  # noqa: E402


def tiny_rtdetr(folder, labels):
    backbone = transformers.RTDetrResNetConfig(
        embedding_size=8,
        hidden_sizes=[8, 16, 32, 64],
        depths=[1, 1, 1, 1],
        layer_type="basic",
        out_features=["stage2", "stage3", "stage4"],
    )
    config = transformers.RTDetrConfig(
        backbone_config=backbone,
        encoder_hidden_dim=16,
        encoder_in_channels=[16, 32, 64],
        encoder_ffn_dim=32,
        encoder_attention_heads=2,
        encoder_layers=1,
        d_model=16,
        decoder_in_channels=[16, 16, 16],
        decoder_ffn_dim=32,
        decoder_attention_heads=2,
        decoder_layers=1,
        num_queries=12,
        num_denoising=0,
        id2label=dict(enumerate(labels)),
        label2id={name: i for i, name in enumerate(labels)},
    )
    transformers.RTDetrForObjectDetection(config).save_pretrained(folder)
    transformers.RTDetrImageProcessor(size={"height": 128, "width": 128}).save_pretrained(folder)
    return folder


def test_tiny_rtdetr_detects_through_the_common_interface(tmp_path):
    folder = str(tiny_rtdetr(tmp_path / "panels", ["panel"]))
    page = make_page(4, size=(400, 600))
    detections = HfDetector(folder, threshold=0.0)(page.image)
    assert len(detections) == 12  # every query of a one-class model is a panel at threshold 0
    for d in detections:
        x, y, w, h = d.bbox
        assert x >= 0 and y >= 0 and w >= 1 and h >= 1 and x + w <= 400 and y + h <= 600
        assert 0.0 <= d.score <= 1.0
    assert detect(page.image, f"hf:{folder}") == HfDetector(folder, threshold=0.5)(page.image)


def test_labels_come_from_the_checkpoint(tmp_path):
    mixed = str(tiny_rtdetr(tmp_path / "mixed", ["character", "frame", "balloon"]))
    detector = HfDetector(mixed, threshold=0.0)
    assert detector.panel_ids == {1}
    assert len(detector(make_page(5, size=(400, 600)).image)) <= 12
    other = str(tiny_rtdetr(tmp_path / "other", ["person", "car"]))
    with pytest.raises(ValueError, match="no panel class"):
        HfDetector(other)


def test_annotate_with_an_hf_folder(tmp_path):
    folder = tiny_rtdetr(tmp_path / "model", ["panel"])
    make_library(tmp_path / "lib", books=1, seed=2, size=(400, 600), story_pages=(2, 2), show_progress=False)
    ingest([tmp_path / "lib" / "books"], tmp_path / "ing", show_progress=False)
    annotate(tmp_path / "ing", tmp_path / "ann", detector=f"hf:{folder}", ocr="none", show_progress=False)
    pages = read_annotations(tmp_path / "ann")
    assert pages and all(p.provenance.detector == f"hf:{folder}" for p in pages)
    assert all(0 <= len(p.panels) <= 12 for p in pages)
    with pytest.raises(OSError):
        annotate(tmp_path / "ing", tmp_path / "x", detector=f"hf:{tmp_path / 'missing'}", ocr="none")
