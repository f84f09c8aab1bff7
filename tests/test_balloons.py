"""Balloon-level text units from the image, on hand-drawn pages with hand-placed OCR lines."""

import numpy as np
from PIL import Image, ImageDraw

from comics_analysis.annotate.balloons import (
    _hills,
    _lobes,
    find_regions,
    is_page_number,
    line_regions,
    unit_order,
)
from comics_analysis.annotate.ocr import TextLine, group_lines
from comics_analysis.annotate.pipeline import page_texts

W, H = 600, 800
PANEL = (20.0, 20.0, 560.0, 700.0)  # one panel; the page margin below it is paper
LH = 24  # line height of the lettering


def line(x, y, w, text="WORD", h=LH):
    return TextLine((float(x), float(y), float(w), float(h)), text, 0.9)


def page(paper=255, art=110):
    """A page of ``paper`` tone with one bordered panel of flat ``art`` tone."""
    image = Image.new("L", (W, H), paper)
    draw = ImageDraw.Draw(image)
    x, y, w, h = PANEL
    draw.rectangle([x, y, x + w, y + h], fill=art, outline=0, width=4)
    return image, draw


def letter(draw, lines):
    """Dark strokes where the lettering is (OCR saw letters there)."""
    for t in lines:
        x, y, w, h = t.bbox
        for k in range(int(x) + 2, int(x + w) - 4, 9):
            draw.rectangle([k, y + 0.2 * h, k + 3, y + 0.8 * h], fill=20)


def balloon(draw, box, fill=255):
    draw.ellipse(box, fill=fill, outline=0, width=3)


def units(image, lines, direction="ltr"):
    return page_texts(image.convert("RGB"), lines, [PANEL], direction)


def texts(result):
    return sorted(t["text"] for t in result)


def side_by_side(draw, fill=255):
    balloon(draw, [60, 60, 300, 300], fill)
    balloon(draw, [300, 60, 540, 300], fill)
    left = [line(110, 150, 182, "HELLO"), line(120, 176, 160, "THERE")]
    right = [line(309, 150, 170, "FAR"), line(315, 176, 150, "AWAY")]
    letter(draw, left + right)
    return left + right


def test_side_by_side_balloons_closer_than_a_line_are_two_units():
    image, draw = page()
    lines = side_by_side(draw)
    assert len(group_lines(lines)) == 1  # by distance alone: one unit (a 17 px gap, under a line)
    result = units(image, lines)
    assert [(t["text"], t["kind"], t["panel"]) for t in result] == [
        ("HELLO THERE", "dialogue", 0),  # left to right
        ("FAR AWAY", "dialogue", 0),
    ]
    assert [t["text"] for t in units(image, lines, "rtl")] == ["FAR AWAY", "HELLO THERE"]
    # each unit's outline: its balloon (the ellipse's inside, to a few pixels), a few points
    for unit, (x0, x1) in zip(result, [(60, 300), (300, 540)]):
        points = np.array(unit["polygon"])
        assert 3 <= len(points) <= 16
        assert abs(points[:, 0].min() - x0) <= 6 and abs(points[:, 0].max() - x1) <= 6
        assert abs(points[:, 1].min() - 60) <= 6 and abs(points[:, 1].max() - 300) <= 6


def test_balloons_on_yellowed_paper():
    image, draw = page(paper=185, art=80)
    lines = side_by_side(draw, fill=185)
    result = units(image, lines)
    # paper-toned, not white: still two balloons, and dialogue
    assert [(t["text"], t["kind"]) for t in result] == [("HELLO THERE", "dialogue"), ("FAR AWAY", "dialogue")]


def test_caption_against_the_panel_edge_and_a_balloon_under_it():
    image, draw = page()
    x, y, _, _ = PANEL
    draw.rectangle([x, y, 330, 100], fill=228, outline=0, width=3)  # caption box in the corner
    draw.rounded_rectangle([40, 104, 330, 200], radius=20, fill=255, outline=0, width=3)
    caption = [line(34, 40, 280, "MEANWHILE,"), line(34, 66, 250, "AT THE FAIR")]
    speech = [line(90, 110, 200, "I GOT IT"), line(100, 136, 180, "FOR FIVE")]
    letter(draw, caption + speech)
    assert len(group_lines(caption + speech)) == 1  # stacked a line apart
    result = units(image, caption + speech)
    assert [(t["text"], t["kind"]) for t in result] == [
        ("MEANWHILE, AT THE FAIR", "narration"),
        ("I GOT IT FOR FIVE", "dialogue"),
    ]


def test_two_tinted_caption_boxes_stacked_closer_than_a_line():
    image, draw = page(art=70)
    draw.rectangle([100, 100, 420, 170], fill=160, outline=0, width=3)  # a tinted (e.g. orange) box
    draw.rectangle([100, 172, 420, 242], fill=160, outline=0, width=3)  # another right under it
    first = [line(115, 114, 280, "I'D PAID FIVE"), line(115, 140, 250, "FOR IT.")]
    second = [line(115, 180, 290, "YOU DON'T MAKE"), line(115, 206, 260, "A LIVING.")]
    letter(draw, first + second)
    assert len(group_lines(first + second)) == 1
    result = units(image, first + second)
    assert [t["text"] for t in result] == ["I'D PAID FIVE FOR IT.", "YOU DON'T MAKE A LIVING."]


def test_two_lobes_of_one_balloon_are_two_units():
    image, draw = page()
    upper, lower = [100, 40, 400, 200], [150, 185, 350, 335]
    balloon(draw, upper)
    balloon(draw, lower)
    for x0, y0, x1, y1 in (upper, lower):  # one inside: the outlines where the lobes meet go
        draw.ellipse([x0 + 3, y0 + 3, x1 - 3, y1 - 3], fill=255)
    first = [
        line(170, 100, 160, "THAT'S MY"),
        line(150, 126, 200, "BILLY'S THINGS"),
        line(170, 152, 160, "WHEN HE"),
    ]
    second = [line(200, 200, 100, "HE'S A"), line(195, 226, 110, "LAWYER NOW")]
    letter(draw, first + second)
    assert len(group_lines(first + second)) == 1
    result = units(image, first + second)
    assert [t["text"] for t in result] == ["THAT'S MY BILLY'S THINGS WHEN HE", "HE'S A LAWYER NOW"]
    assert [t.get("polygon") for t in result] == [None, None]  # one outline, two units: neither's


def test_lobes_on_a_diagonal_by_their_saddle():
    """Two round lobes joined on a diagonal by a thin bridge: the distance map's saddle between
    them is far under either top; one wide balloon has no neck for either check."""
    image = Image.new("1", (320, 320), 0)
    draw = ImageDraw.Draw(image)
    draw.ellipse([40, 40, 160, 160], fill=1)
    draw.ellipse([160, 160, 280, 280], fill=1)
    draw.line([(130, 130), (190, 190)], fill=1, width=24)
    mask = np.asarray(image)
    boxes = [(70.0, 80.0, 60.0, 20.0), (70.0, 104.0, 60.0, 20.0), (190.0, 200.0, 60.0, 20.0)]
    assert _hills(mask, boxes) == [0, 0, 1]
    one = Image.new("1", (320, 320), 0)
    ImageDraw.Draw(one).ellipse([20, 60, 300, 260], fill=1)  # one wide balloon, four lines
    single = np.asarray(one)
    lines = [
        (110.0, 90.0, 100.0, 20.0),
        (80.0, 114.0, 160.0, 20.0),
        (70.0, 138.0, 180.0, 20.0),
        (120.0, 200.0, 80.0, 20.0),
    ]
    assert _lobes(single, lines, vertical=False) == [0, 0, 0, 0]
    assert _hills(single, lines) == [0, 0, 0, 0]


def test_page_number_in_the_bottom_margin():
    image, draw = page()
    balloon(draw, [60, 540, 360, 710])
    inside = [line(120, 600, 180, "ROOM 42")]  # digits in a balloon near the panel's bottom
    folio = [line(290, 750, 30, "[53]")]
    letter(draw, inside + folio)
    result = units(image, inside + folio)
    assert [(t["text"], t["kind"], t["panel"]) for t in result] == [
        ("ROOM 42", "dialogue", 0),
        ("[53]", "page_number", -1),
    ]
    assert not is_page_number(folio[0].bbox, "THE END", [PANEL], W, H, LH)  # words: not a folio
    assert not is_page_number((290.0, 400.0, 30.0, 24.0), "53", [], W, H, LH)  # mid-page


def test_a_signature_in_the_art_is_marked_and_a_year_in_a_balloon_is_dialogue():
    image, draw = page()
    balloon(draw, [60, 60, 360, 260])
    said = [line(110, 130, 200, "BACK IN 1969"), line(120, 156, 160, "WE HAD IT")]
    signed = [line(470, 680, 80, "Kirby '66", h=16), line(420, 40, 120, "© 2009 Boulet", h=16)]
    letter(draw, said + signed)
    result = units(image, said + signed)
    kinds = {t["text"]: (t["kind"], t["panel"]) for t in result}
    assert kinds == {
        "BACK IN 1969 WE HAD IT": ("dialogue", 0),  # a year among a balloon's lines: lettering
        "Kirby '66": ("unknown", 0),  # no four-digit year or copyright mark: not marked
        "© 2009 Boulet": ("signature", 0),  # before: read as lettering of the panel
    }
    # a lone year-bearing line on the art, away from any other text, is a signature too
    alone = [line(430, 650, 100, "J.Smith 1952", h=16)]
    letter(draw, alone)
    result = units(image, said + alone)
    assert ("J.Smith 1952", "signature") in [(t["text"], t["kind"]) for t in result]


def test_text_on_art_groups_by_distance_as_before():
    image, _ = page()
    rng = np.random.default_rng(0)
    pixels = np.asarray(image).copy()
    pixels[60:700, 40:560] = rng.integers(60, 160, (640, 520))  # textured art, no balloon
    image = Image.fromarray(pixels)
    lines = [
        line(110, 150, 160, "HELLO"),
        line(120, 176, 140, "THERE"),
        line(320, 150, 170, "FAR"),
        line(100, 400, 80, "BANG"),
    ]
    regions = find_regions(np.asarray(image), [t.bbox for t in lines], LH)
    assert line_regions(regions, [t.bbox for t in lines]) == [None] * 4
    assert texts(units(image, lines)) == sorted(b.text for b in group_lines(lines))
    assert texts(units(image, lines)) == ["BANG", "FAR", "HELLO THERE"]


def test_a_white_panel_background_is_not_a_balloon():
    image, _ = page(art=255)  # lettering straight on a white panel: the panel is the region
    lines = [line(110, 150, 160, "HELLO"), line(120, 176, 140, "THERE"), line(100, 500, 120, "LATER")]
    result = units(image, lines)
    assert texts(result) == ["HELLO THERE", "LATER"]


def test_unit_order_rows_then_direction():
    boxes = [
        (300.0, 110.0, 100.0, 40.0),
        (50.0, 100.0, 100.0, 40.0),
        (60.0, 300.0, 100.0, 40.0),
        (0.0, 0.0, 5.0, 5.0),
    ]
    assert unit_order(boxes, [0, 0, 0, -1], 1, "ltr") == [1, 0, 2, 3]
    assert unit_order(boxes, [0, 0, 0, -1], 1, "rtl") == [0, 1, 2, 3]


def column(x, y, h, text="ことば", w=LH):
    """A vertical (tategaki) column: one OCR line, taller than wide."""
    return TextLine((float(x), float(y), float(w), float(h)), text, 0.9)


def letter_columns(draw, columns):
    """Dark strokes down each vertical column (one per character cell)."""
    for t in columns:
        x, y, w, h = t.bbox
        for k in range(int(y) + 2, int(y + h) - 4, int(w)):
            draw.rectangle([x + 0.2 * w, k, x + 0.8 * w, k + 0.6 * w], fill=20)


def test_two_touching_balloons_of_vertical_text_by_their_columns_tops():
    """Two balloons drawn into one another (no outline between: one light region, no neck) whose
    columns start at two heights are two units: the columns of one balloon are top-aligned;
    columns of one balloon of unequal length stay one unit. Each is a dialogue balloon, though
    its columns are far longer than the page's lettering is wide (the old code said sfx)."""
    image, draw = page()
    draw.ellipse([262, 60, 412, 280], fill=255, outline=0, width=3)
    draw.ellipse([180, 120, 330, 340], fill=255, outline=0, width=3)
    draw.ellipse([265, 63, 409, 277], fill=255)  # the second's outline hidden inside the first
    first = [column(340, 100, 144, "そんなの"), column(310, 100, 120, "じゅうぶん")]
    second = [column(270, 160, 144, "てんちょう"), column(240, 160, 120, "おんじんだよ")]
    letter_columns(draw, first + second)
    result = units(image, first + second, "rtl")
    assert [(t["text"], t["kind"]) for t in result] == [
        ("そんなのじゅうぶん", "dialogue"),
        ("てんちょうおんじんだよ", "dialogue"),
    ]


def test_a_horizontal_line_never_joins_vertical_columns():
    """A sound effect lettered across a page of vertical text, touching a balloon's columns, is
    its own unit (by distance alone the old code joined them)."""
    columns = [column(300, 100, 150, "そんなの"), column(270, 100, 120, "ことば")]
    sfx = TextLine((180.0, 60.0, 160.0, 40.0), "PAAA", 0.9)
    blocks = group_lines([*columns, sfx], vertical=True)
    assert sorted(b.text for b in blocks) == ["PAAA", "そんなのことば"]


def test_a_balloon_lettered_close_to_its_outline_is_dialogue():
    """Lettering that runs up to the balloon's outline: a ring just outside the text's box crosses
    the outline and the art (the old code said unknown); the closed region under it is paper."""
    image, draw = page()
    balloon(draw, [100, 100, 400, 230])
    lines = [
        line(150, 118, 200, "WELCOME, YOU'VE"),
        line(108, 146, 284, "COME ALL THE WAY FROM"),
        line(140, 176, 220, "TOWN TO SEE ME"),
    ]
    letter(draw, lines)
    result = units(image, lines)
    assert [(t["text"], t["kind"]) for t in result] == [
        ("WELCOME, YOU'VE COME ALL THE WAY FROM TOWN TO SEE ME", "dialogue")
    ]


def test_a_floating_caption_box_is_narration_and_an_off_white_balloon_dialogue():
    """A tinted caption box in the middle of the panel, far from every edge (the old code asked
    for an edge: unknown), and a compressed balloon a few levels under the paper (246 of 255: the
    old code's 0.97 read it as a tinted caption); also on yellowed paper."""
    for paper, tint, white in ((255, 174, 246), (185, 126, 180)):
        image, draw = page(paper=paper, art=int(0.4 * paper))
        draw.rectangle([150, 330, 450, 400], fill=tint, outline=0, width=3)  # 130 px from the edges
        balloon(draw, [120, 80, 480, 260], fill=white)
        caption = [line(170, 340, 260, "THAT NIGHT,"), line(170, 366, 240, "I COULDN'T SLEEP")]
        speech = [line(200, 140, 200, "WHO'S THERE?"), line(210, 168, 180, "SHOW YOURSELF")]
        letter(draw, caption + speech)
        result = units(image, caption + speech)
        assert [(t["text"], t["kind"]) for t in result] == [
            ("WHO'S THERE? SHOW YOURSELF", "dialogue"),
            ("THAT NIGHT, I COULDN'T SLEEP", "narration"),
        ], paper
