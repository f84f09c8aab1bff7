"""Closure Lite processor: letterboxed crops, layout features, text presence, collate, save/load."""

import math

import numpy as np
import pytest
from PIL import Image

torch = pytest.importorskip("torch", reason="the 'ml' extra (torch, transformers) is not installed")
pytest.importorskip("transformers", reason="the 'ml' extra is not installed")

from closure_lite_helpers import synth_pages, tiny_config  # noqa: E402
from comics_analysis.dataspec import Page  # noqa: E402
from comics_analysis.modeling.closure_lite import (  # noqa: E402
    LAYOUT_FEATURES,
    ClosureLiteProcessor,
    letterbox,
    panel_text,
)


def _processor(max_panels=16, **kwargs):
    return ClosureLiteProcessor.from_config(tiny_config(max_panels=max_panels), **kwargs)


def _page(panels, width=200, height=100, direction="ltr"):
    return Page(
        page_id="test-book-0000abcd/p0000",
        book_id="test-book-0000abcd",
        page_index=0,
        width=width,
        height=height,
        reading_direction=direction,
        panels=[{"bbox": bbox, "order": i, "text": text} for i, (bbox, text) in enumerate(panels)],
    )


def test_letterbox_keeps_the_aspect_and_centres_the_crop():
    image = Image.new("RGB", (200, 100), "white")
    image.paste((255, 0, 0), (20, 10, 120, 60))  # a 100 x 50 red panel
    crop = np.asarray(letterbox(image, (20, 10, 100, 50), 32, (255, 255, 255)))
    red = (crop[..., 0] > 200) & (crop[..., 1] < 60)
    rows, cols = np.nonzero(red)
    assert cols.min() == 0 and cols.max() == 31  # full width
    assert rows.min() == 8 and rows.max() == 23  # 16 rows high, centred: aspect 2:1 kept
    assert (crop[:7] == 255).all() and (crop[25:] == 255).all()  # white letterbox bars


def test_layout_features_by_hand():
    processor = _processor()
    page = _page([((20, 10, 100, 50), {}), ((120, 60, 80, 40), {"dialogue": ["HI"]})], direction="rtl")
    out = processor.process_page(Image.new("RGB", (200, 100), "white"), page)
    row = dict(zip(LAYOUT_FEATURES, out["layout"][0].tolist()))
    expected = {
        "x": 0.1,
        "y": 0.1,
        "w": 0.5,
        "h": 0.5,
        "cx": 0.35,
        "cy": 0.35,
        "area": 0.25,
        "log_aspect": math.log(0.5),
        "rtl": 1.0,
        "n_panels": 2 / 16,
        "panel_index": 0.0,
    }
    assert row == pytest.approx(expected)
    assert out["layout"][1, LAYOUT_FEATURES.index("panel_index")] == pytest.approx(1 / 16)
    assert out["order"].tolist() == [0, 1]


def test_panel_without_text_has_a_presence_mask_not_an_empty_string():
    processor = _processor()
    page = _page([((0, 0, 100, 100), {}), ((100, 0, 100, 100), {"narration": ["Later..."], "sfx": ["BAM"]})])
    out = processor.process_page(Image.new("RGB", (200, 100), "white"), page)
    assert out["text_mask"].tolist() == [False, True]
    assert out["attention_mask"][0].sum() == 0
    assert (out["input_ids"][0] == processor.tokenizer.pad_token_id).all()
    decoded = processor.tokenizer.decode(out["input_ids"][1], skip_special_tokens=True)
    assert decoded.replace(" ", "").replace("##", "") == "later...bam"
    assert panel_text({"text": {"dialogue": ["hi"], "narration": ["Later"], "sfx": []}}) == "Later hi"


def test_page_without_panels_is_one_panel_covering_the_page():
    out = _processor().process_page(Image.new("RGB", (200, 100), "white"), _page([]))
    assert out["panel_mask"].tolist() == [True] and out["text_mask"].tolist() == [False]
    assert out["layout"][0, :4].tolist() == [0.0, 0.0, 1.0, 1.0]


def test_record_larger_than_the_image_is_scaled():
    """A record written for the full scan, used with a half-size image, gives the same crop."""
    processor = _processor()
    image = Image.new("RGB", (200, 100), "white")
    image.paste((0, 0, 255), (20, 10, 120, 60))
    small = processor.process_page(image, _page([((20, 10, 100, 50), {})]))
    big_record = _page([((40, 20, 200, 100), {})], width=400, height=200)
    big = processor.process_page(image, big_record)
    assert torch.equal(small["pixel_values"], big["pixel_values"])
    assert torch.allclose(small["layout"], big["layout"])


def test_normalisation_uses_the_backbone_statistics():
    processor = ClosureLiteProcessor(
        _processor().tokenizer, 8, image_mean=(0.2, 0.4, 0.6), image_std=(0.5, 0.25, 0.1)
    )
    pixels = processor.normalise([Image.new("RGB", (8, 8), (255, 0, 51))])
    assert pixels.shape == (1, 3, 8, 8)
    assert pixels[0, :, 0, 0].tolist() == pytest.approx(
        [(1 - 0.2) / 0.5, (0 - 0.4) / 0.25, (0.2 - 0.6) / 0.1]
    )


def test_collate_pads_panels_and_text_and_truncates_to_max_panels():
    processor = _processor(max_panels=4)
    pages = synth_pages(range(4))
    batch = processor([p.image for p in pages], [p.record for p in pages])
    counts = [min(len(p.record.panels), 4) for p in pages]
    assert batch["panel_mask"].sum(-1).tolist() == counts
    p = max(counts)
    assert batch["pixel_values"].shape == (4, p, 3, 32, 32)
    for i, n in enumerate(counts):
        assert batch["order"][i, :n].tolist() == list(range(n))
        assert (batch["order"][i, n:] == -100).all()
        assert not batch["text_mask"][i, n:].any() and (batch["pixel_values"][i, n:] == 0).all()
    assert batch["input_ids"].shape[:2] == batch["attention_mask"].shape[:2] == (4, p)


def test_save_and_load_give_the_same_tensors(tmp_path):
    processor = _processor(max_text_length=24)
    processor.save_pretrained(tmp_path)
    loaded = ClosureLiteProcessor.from_pretrained(tmp_path)
    assert loaded.to_dict() == processor.to_dict()
    pages = synth_pages(range(2))
    a = processor([p.image for p in pages], [p.record for p in pages])
    b = loaded([p.image for p in pages], [p.record for p in pages])
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_queries_are_processed_like_panels():
    processor = _processor()
    image = Image.new("RGB", (60, 30), (10, 20, 30))
    pixels = processor.image_queries([image])["pixel_values"]
    page = _page([((0, 0, 60, 30), {})], width=60, height=30)
    assert torch.equal(pixels, processor.process_page(image, page)["pixel_values"])
    text = processor.text_queries(["who stole the lamp?"])
    assert text["input_ids"].shape == text["attention_mask"].shape and text["attention_mask"].sum() > 5
