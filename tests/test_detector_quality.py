"""Classical detector on tinted / yellowed / noisy paper, quality flags, and bad page images."""

import hashlib

import numpy as np
import pytest
from PIL import Image

from comics_analysis.annotate import annotate, read_annotations
from comics_analysis.annotate.detectors.classical import detect_classical, gutter_level
from comics_analysis.annotate.quality import has_gutter_lines, page_flags
from comics_analysis.ingest import ingest
from comics_analysis.metrics.panels import match_boxes
from comics_analysis.synth import PAPERS, age_paper, make_page

SIZE = (440, 660)


def _f1(pages) -> float:
    tp = truth = pred = 0
    for page in pages:
        boxes = [d.bbox for d in detect_classical(page.image)]
        tp += len(match_boxes([p.bbox for p in page.record.panels], boxes))
        truth, pred = truth + len(page.record.panels), pred + len(boxes)
    return 2 * tp / (truth + pred)


def test_plain_pages_are_byte_identical_without_the_paper_option():
    # hashes of the same seeds drawn before the paper option existed
    expected = {
        0: "e1a14d68c23575336a0bfe25705aba525d12d5409316fd8d53f4a3849b4fb3ba",
        7: "96a030ec86ad49c58febc7aa0b19cca0f5aa44653e1e1975b9d68c1452e2b2c4",
    }
    for seed, digest in expected.items():
        image = make_page(seed, size=(330, 500), paper=None, noise=0.0).image
        assert hashlib.sha256(image.tobytes()).hexdigest() == digest


def test_aged_paper_is_tinted_noisy_and_uneven():
    plain = make_page(4, size=SIZE, gutter="white")
    aged = make_page(4, size=SIZE, gutter="white", paper="golden_age", noise=6.0)
    assert aged.record == plain.record  # the same page, only printed on other paper
    grey = np.asarray(aged.image.convert("L"), dtype=np.float32)
    top = grey[:6].ravel()
    assert 165 <= np.median(top) <= 200  # a Golden-Age scan's paper, not white
    assert top.std() > 3  # grain
    left, right = np.median(grey[:, :4]), np.median(grey[:, -4:])
    corner_means = [
        grey[:6, :40].mean(),
        grey[:6, -40:].mean(),
        grey[-6:, :40].mean(),
        grey[-6:, -40:].mean(),
    ]
    assert max(corner_means) - min(corner_means) > 2 or abs(left - right) > 2  # uneven tone
    with pytest.raises(ValueError, match="unknown paper"):
        age_paper(plain.image, np.random.default_rng(0), "parchment")


@pytest.mark.parametrize("paper", sorted(PAPERS))
def test_panels_are_found_on_tinted_and_yellowed_paper(paper):
    pages = [
        make_page((seed, 16), size=SIZE, gutter=gutter, paper=paper, noise=noise)
        for seed in range(6)
        for gutter, noise in (("white", 0.0), ("cream", 8.0))
    ]
    assert _f1(pages) >= 0.9


def test_white_paper_pages_are_detected_as_before():
    pages = [make_page((seed, 16), size=SIZE, gutter="white") for seed in range(8)]
    assert _f1(pages) >= 0.95


def test_gutter_level_of_tinted_paper_and_of_art_bleeding_along_one_edge():
    grey = np.full((400, 300), 183, np.uint8)
    grey[40:360, 30:270] = 90  # one panel on Golden-Age paper
    assert abs(gutter_level(grey) - 183) <= 2
    art = np.random.default_rng(0).integers(60, 140, size=(400, 300)).astype(np.uint8)
    art[:12] = 200  # a flat light sky along the top edge only: not paper around the page
    assert gutter_level(art) is None


def test_flags_whole_page_panel_when_the_page_shows_gutters():
    story = make_page((2, 16), size=SIZE, gutter="white", layout="grid", paper="golden_age", noise=6.0)
    whole = [(0.0, 0.0, float(SIZE[0]), float(SIZE[1]))]
    flags = page_flags(story.image, whole)
    assert "panels:whole_page_with_gutters" in flags and "paper:unusual_tone" in flags
    assert page_flags(story.image, [p.bbox for p in story.record.panels]) == ["paper:unusual_tone"]
    for kind in ("cover", "text_backmatter", "advertisement"):
        page = make_page(3, page_type=kind, size=SIZE).image
        assert not has_gutter_lines(page), kind
        assert "panels:whole_page_with_gutters" not in page_flags(page, whole), kind
    plain = make_page((2, 16), size=SIZE, gutter="white", layout="grid")
    assert page_flags(plain.image, [p.bbox for p in plain.record.panels]) == []


def _art(draw, box, seed: int) -> None:
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    draw.rectangle(box, fill=(90, 80, 70))  # dark art up to the frame: no paper band beside it
    for _ in range(150):
        x, y = int(rng.integers(x0, x1 - 12)), int(rng.integers(y0, y1 - 12))
        tone = tuple(int(v) for v in rng.integers(50, 140, size=3))
        draw.line([(x, y), (x + int(rng.integers(3, 12)), y + int(rng.integers(3, 12)))], fill=tone, width=2)


def test_flags_whole_page_panel_when_frame_lines_cross_the_page():
    from PIL import ImageDraw

    image = Image.new("RGB", SIZE, "white")
    draw = ImageDraw.Draw(image)
    _art(draw, (20, 20, 420, 640), 1)
    # a second panel drawn over the first's bottom-left corner: its black frame is the only divide
    _art(draw, (20, 330, 300, 640), 2)
    draw.rectangle((20, 330, 300, 640), outline=(0, 0, 0), width=3)
    whole = [(0.0, 0.0, float(SIZE[0]), float(SIZE[1]))]
    assert page_flags(image, whole) == ["panels:whole_page_with_frames"]  # before: no flag
    # an inset found inside the whole-page box does not part the page: still flagged
    inset = (300.0, 40.0, 100.0, 120.0)
    assert page_flags(image, [*whole, inset]) == ["panels:whole_page_with_frames"]  # before: no flag
    assert page_flags(image, [(20, 20, 401, 621), (20, 330, 281, 311)]) == []
    splash = Image.new("RGB", SIZE, "white")
    _art(ImageDraw.Draw(splash), (20, 20, 420, 640), 3)  # one panel of art: no line across it
    assert page_flags(splash, whole) == []
    for kind in ("cover", "text_backmatter", "advertisement"):
        page = make_page(3, page_type=kind, size=SIZE).image
        assert "panels:whole_page_with_frames" not in page_flags(page, whole), kind


def test_flags_overlap_text_outside_panels_and_no_panels():
    image = Image.new("RGB", (400, 600), "white")
    inset = [(10, 10, 380, 280), (200, 150, 100, 80)]  # wholly inside: an inset, not an overlap
    assert page_flags(image, inset) == []
    assert page_flags(image, [(10, 10, 200, 280), (150, 10, 240, 280)]) == ["panels:overlap"]
    texts = [{"bbox": [5, 300, 50, 20], "panel": -1}, {"bbox": [20, 20, 50, 20], "panel": 0}]
    assert page_flags(image, inset[:1], texts) == ["text:outside_panels"]
    assert page_flags(image, []) == ["panels:none"]


def test_bad_page_images_are_flagged_and_the_run_goes_on(tmp_path):
    book = tmp_path / "src" / "book"
    book.mkdir(parents=True)
    make_page(1, size=SIZE, layout="grid").image.save(book / "p01.png")
    Image.new("RGB", (1, 1), "white").save(book / "p02.png")
    Image.new("L", (800, 30000), 255).save(book / "p03.png")
    make_page(2, size=SIZE, layout="grid").image.save(book / "p04.png")
    ingest([book], tmp_path / "ingest", show_progress=False)
    ingested = sorted((tmp_path / "ingest").rglob("p0003.png"))
    assert len(ingested) == 1
    ingested[0].write_bytes(b"\x89PNG\r\n\x1a\nnot an image any more")  # broken after ingest
    annotate(tmp_path / "ingest", tmp_path / "ann", ocr="none", show_progress=False)
    pages = sorted(read_annotations(tmp_path / "ann"), key=lambda p: p.page_index)
    assert [p.page_index for p in pages] == [0, 1, 2, 3]
    flags = [p.quality.flags for p in pages]
    assert len(pages[0].panels) >= 2 and not any(f.startswith("image:") for f in flags[0])
    assert flags[1] == ["image:too_small (1x1 px; a page has at least 32 px a side)"]
    assert (pages[1].width, pages[1].height, pages[1].panels) == (1, 1, [])
    assert len(flags[2]) == 1 and flags[2][0].startswith("image:too_elongated (800x30000 px")
    assert pages[2].panels == []
    assert len(flags[3]) == 1 and flags[3][0].startswith("image:unreadable (")
    assert (pages[3].width, pages[3].height) == SIZE  # from the manifest


def test_a_soft_scan_is_flagged_and_a_sharp_page_is_not():
    from PIL import ImageFilter

    from comics_analysis.annotate.quality import SOFT, softness
    from comics_analysis.synth import make_page

    page = make_page((5, 1), layout="grid", gutter="white")
    panels = [p.bbox for p in page.record.panels]
    assert softness(page.image) > 0.6 and "scan:soft" not in page_flags(page.image, panels)
    for radius in (1.2, 2.0):
        soft = page.image.filter(ImageFilter.GaussianBlur(radius))
        assert softness(soft) < SOFT and "scan:soft" in page_flags(soft, panels)
    # a JPEG re-encoding or grain is no softness
    import io

    buffer = io.BytesIO()
    page.image.save(buffer, "JPEG", quality=30)
    jpeg = Image.open(io.BytesIO(buffer.getvalue()))
    assert softness(jpeg) > SOFT
