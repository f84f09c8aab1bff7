"""Panel metrics on hand-computed cases; the classical detector on hand-made and synthetic pages."""

import math

import numpy as np
import pytest
from PIL import Image, ImageDraw

from comics_analysis.annotate import ClassicalConfig, Detection, detect, detect_classical, get_detector
from comics_analysis.annotate.detectors import DETECTORS, detector_specs, register_detector
from comics_analysis.metrics.panels import coco_ap, iou, kendall_tau, match_boxes, score_page, summarise
from comics_analysis.synth import LAYOUTS, make_page
from comics_analysis.synth.fonts import font

# --- metrics ------------------------------------------------------------------------------------


def test_iou_and_matching_by_hand():
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (5, 0, 10, 10)) == pytest.approx(50 / 150)
    assert iou((0, 0, 10, 10), (20, 20, 5, 5)) == 0.0
    truth = [(0, 0, 10, 10), (4, 0, 10, 10)]
    # taking pred 0 for truth 0 (IoU 0.67, its first best) would leave truth 1 only pred 1 (IoU 0.43):
    # the one-to-one optimum pairs truth 0 with pred 1 (IoU 1.0) and truth 1 with pred 0 (IoU 0.67)
    pred = [(2, 0, 10, 10), (0, 0, 10, 10)]
    assert [(t, p) for t, p, _ in match_boxes(truth, pred)] == [(0, 1), (1, 0)]
    assert match_boxes(truth, [(100, 100, 5, 5)]) == []
    assert match_boxes([], pred) == []


def test_kendall_tau_by_hand():
    assert kendall_tau([0, 1, 2, 3]) == 1.0
    assert kendall_tau([3, 2, 1, 0]) == -1.0
    assert kendall_tau([1, 0, 2]) == pytest.approx(1 / 3)  # 2 concordant, 1 discordant of 3 pairs
    assert kendall_tau([0]) == 1.0
    assert kendall_tau([2, 0, 3, 1]) == 0.0  # 3 concordant, 3 discordant
    with pytest.raises(ValueError, match="ranks must be distinct"):
        kendall_tau([0, 0, 1])


def test_page_scores_and_summary_by_hand():
    truth = [(0, 0, 10, 10), (20, 0, 10, 10), (40, 0, 10, 10)]
    perfect = score_page("a", "b", truth, truth)
    assert (perfect.tp, perfect.all_found, perfect.order_exact, perfect.tau) == (3, True, True, 1.0)
    swapped = score_page("a", "b", truth, [truth[1], truth[0], truth[2]])
    assert swapped.order_exact is False and swapped.tau == pytest.approx(1 / 3)
    missing = score_page("a", "b", truth, [truth[0], (100, 100, 5, 5)])
    assert (missing.tp, missing.all_found, missing.order_exact, missing.tau) == (1, False, None, None)
    s = summarise([perfect, swapped, missing])
    assert (s.truth, s.pred, s.tp) == (9, 8, 7)
    assert s.precision == pytest.approx(7 / 8) and s.recall == pytest.approx(7 / 9)
    assert s.f1 == pytest.approx(2 * (7 / 8) * (7 / 9) / (7 / 8 + 7 / 9))
    assert s.exact_count == pytest.approx(2 / 3)
    assert s.order_exact == 0.5 and s.order_pages == 2


def test_coco_ap_by_hand():
    truth = [[(0, 0, 10, 10), (20, 0, 10, 10)]]
    assert coco_ap(truth, [[((0, 0, 10, 10), 0.9), ((20, 0, 10, 10), 0.8)]]) == pytest.approx((1.0, 1.0))
    # one hit, one miss, and the false positive ranked first: precision 1/2 up to recall 1/2
    _, ap50 = coco_ap(truth, [[((0, 0, 10, 10), 0.9), ((60, 60, 10, 10), 0.95)]])
    assert ap50 == pytest.approx(0.25, abs=0.01)
    # the same boxes with the false positive ranked last: precision 1 up to recall 1/2
    _, better = coco_ap(truth, [[((0, 0, 10, 10), 0.95), ((60, 60, 10, 10), 0.1)]])
    assert better == pytest.approx(0.5, abs=0.01)
    assert coco_ap(truth, [[]]) == (0.0, 0.0)
    assert all(math.isnan(v) for v in coco_ap([[]], [[]]))


# --- the classical detector ----------------------------------------------------------------------


def page_with(boxes, size=(800, 1200), gutter="white", border=5, fill=(120, 140, 160)):
    background = {"white": (255, 255, 255), "black": (0, 0, 0)}[gutter]
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    for x, y, w, h in boxes:
        draw.rectangle(
            [x, y, x + w - 1, y + h - 1], fill=fill, outline=(0, 0, 0) if border else None, width=border or 0
        )
    return image


def found(image, truth):
    pred = [d.bbox for d in detect_classical(image)]
    return pred, match_boxes(truth, pred)


@pytest.mark.parametrize("gutter", ["white", "black"])
def test_grid_pages(gutter):
    truth = [(40, 40, 350, 540), (410, 40, 350, 540), (40, 610, 720, 550)]
    pred, matches = found(page_with(truth, gutter=gutter, border=0 if gutter == "black" else 5), truth)
    assert len(pred) == 3 and len(matches) == 3 and min(m[2] for m in matches) > 0.95


def test_white_panels_with_thin_frames_and_a_balloon_across_the_gutter():
    truth = [(40, 40, 720, 520), (40, 590, 720, 570)]
    image = page_with(truth, fill=(255, 255, 255), border=4)
    ImageDraw.Draw(image).ellipse([300, 480, 520, 660], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2


def test_gutter_mostly_hidden_by_a_balloon_is_still_cut_along_its_two_frame_lines():
    # a tall balloon covers two thirds of the gutter: its frame lines show on a third of it only,
    # but the strip between them is paper (gutter and balloon), not another panel's art
    truth = [(40, 40, 350, 1120), (410, 40, 350, 1120)]
    image = page_with(truth, border=4)
    ImageDraw.Draw(image).ellipse([280, 20, 520, 780], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2 and min(m[2] for m in matches) > 0.9


def test_gutter_crossed_in_its_middle_by_a_lettered_balloon_is_cut():
    # thin frames; a balloon with lettering hides the middle 60% of the vertical gutter, so the
    # frame lines show only in two short pieces and no column of the gutter is clean
    truth = [(40, 40, 350, 540), (410, 40, 350, 540), (40, 610, 720, 550)]
    image = page_with(truth, border=2, fill=(150, 160, 170))
    draw = ImageDraw.Draw(image)
    draw.ellipse([330, 150, 470, 470], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    for x in (372, 392, 412):  # vertical lines of lettering, across the gutter
        for y in range(200, 420, 22):
            draw.rectangle([x, y, x + 12, y + 12], fill=(0, 0, 0))
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3 and min(m[2] for m in matches) > 0.9


def test_a_faint_broken_frame_line_that_unframed_art_touches_is_cut_along():
    # a framed panel whose thin frame is printed faintly (2 px dashes with breaks, wavering by a
    # pixel halfway down); the unframed art beside it runs up to its edge: no clean gutter column
    image = page_with([])
    draw = ImageDraw.Draw(image)
    draw.rectangle([40, 40, 380, 1160], fill=(235, 225, 200))
    for x, y in [(120, 200), (200, 600), (90, 900)]:
        draw.ellipse([x, y, x + 120, y + 120], outline=(0, 0, 0), width=3)
    draw.polygon([(383, 40), (760, 60), (740, 1160), (383, 1160)], fill=(110, 110, 110))
    for y in range(40, 1161, 12):
        for x0 in (40, 379 + (y > 600)):
            draw.rectangle([x0, y, x0 + 1, min(y + 9, 1160)], fill=(30, 30, 30))
    for x in range(40, 381, 12):
        for y0 in (40, 1159):
            draw.rectangle([x, y0, min(x + 9, 380), y0 + 1], fill=(30, 30, 30))
    truth = [(40, 40, 341, 1121), (383, 40, 378, 1121)]
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2  # before: one box over both
    # neither the faint-line splitter nor the frame-line fallback: one box over both
    assert [d.bbox for d in detect_classical(image, ClassicalConfig(line_wobble=0, frame_hold=0.0))] == [
        (39.0, 39.0, 721.5, 1122.0)
    ]


def test_a_thick_black_divider_between_two_panels_is_a_gutter():
    truth = [(40, 40, 720, 500), (40, 580, 430, 580), (480, 580, 280, 580)]
    image = page_with([truth[0], (40, 580, 720, 580)], border=4, fill=(200, 190, 170))
    draw = ImageDraw.Draw(image)
    draw.rectangle([470, 580, 479, 1159], fill=(0, 0, 0))  # black, with no paper on either side
    draw.ellipse([150, 700, 350, 900], outline=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3  # before: the two lower panels were one


def test_a_balloon_on_its_own_between_panels_is_lettering_not_a_panel():
    truth = [(40, 40, 720, 500), (40, 700, 720, 460)]
    image = page_with(truth, border=4)
    draw = ImageDraw.Draw(image)
    draw.ellipse([250, 545, 550, 690], fill=(255, 255, 255), outline=(0, 0, 0), width=3)
    for k, line in enumerate(["WAIT FOR ME,", "I'M COMING!"]):
        draw.text((300, 575 + k * 44), line, fill=(0, 0, 0), font=font("bold", 34))
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2  # before: the balloon was a third panel


def test_a_thin_strip_left_beside_a_panel_is_not_a_panel():
    # a strip 50 px wide (6% of the page's width) and ten times as tall: what a cut leaves of a
    # frame's edge or of a balloon spilling over it, not a panel
    truth = [(40, 40, 670, 520), (40, 620, 720, 540)]
    image = page_with([*truth, (730, 40, 50, 520)], border=4, fill=(150, 160, 170))
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2  # before: the strip was a third panel


def test_a_thin_slanted_gutter_between_two_frame_lines_is_cut():
    # two panels on one row divided by a slanted gutter: two thin frame lines with a paper strip
    # of 2 px between them, which the page's scaling seals (no blob of its own either side)
    image = page_with([(40, 620, 720, 540)], border=4)
    draw = ImageDraw.Draw(image)
    draw.polygon([(40, 40), (397, 40), (437, 560), (40, 560)], fill=(150, 160, 170), outline=(0, 0, 0))
    draw.polygon([(401, 40), (760, 40), (760, 560), (441, 560)], fill=(170, 150, 140), outline=(0, 0, 0))
    draw.line([(397, 40), (437, 560)], fill=(0, 0, 0), width=2)
    draw.line([(401, 40), (441, 560)], fill=(0, 0, 0), width=2)
    draw.ellipse([100, 150, 300, 350], outline=(0, 0, 0), width=3)
    truth = [(40, 40, 397, 521), (404, 40, 357, 521), (40, 620, 720, 540)]
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3  # before: the two upper panels were one
    assert len(detect_classical(image, ClassicalConfig(slant=0.0))) == 2


def test_a_tall_panel_is_not_split_by_its_neighbours_gutter():
    # the left column's gutter runs into a tall narrow panel on the right; across the page that
    # row is mostly gutter, like a gutter a balloon crosses, but a clean column gutter sets the
    # tall panel apart over the whole stretch
    truth = [(40, 40, 370, 520), (40, 600, 370, 560), (500, 40, 260, 1120)]
    pred, matches = found(page_with(truth, border=4), truth)
    assert len(pred) == 3 and len(matches) == 3  # before: the tall panel was cut in two


def test_a_pinwheel_of_panels_abutting_along_their_frame_lines_is_split():
    # five panels touching each other with no gutter between them, only their 3 px frame lines,
    # in a pinwheel around a small centre panel: no straight line crosses the group, so no X-Y cut
    # divides it; erasing the long thin frame lines leaves five rectangles
    truth = [
        (40, 40, 440, 360),
        (480, 40, 280, 600),
        (320, 640, 440, 520),
        (40, 400, 280, 760),
        (320, 400, 160, 240),
    ]
    image = Image.new("RGB", (800, 1200), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    fills = [(150, 160, 170), (170, 150, 140), (140, 170, 150), (160, 160, 120), (200, 180, 190)]
    for (x, y, w, h), fill in zip(truth, fills, strict=True):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=fill, outline=(0, 0, 0), width=3)
    draw.ellipse([100, 100, 300, 300], outline=(0, 0, 0), width=3)  # art: a round outline, a dark shape
    draw.ellipse([550, 200, 700, 500], fill=(60, 60, 60))
    pred, matches = found(image, truth)
    assert len(pred) == 5 and len(matches) == 5 and min(m[2] for m in matches) > 0.9
    before = ClassicalConfig(frame_hold=0.0, layers=False)
    assert len(detect_classical(image, before)) == 1  # before: one panel


def test_a_panel_drawn_over_the_side_of_a_shorter_neighbour_is_split_along_its_grey_frame():
    # a tall panel overlaps the side of a shorter one by 20 px; both are framed by thin grey lines
    # (too light for the dark-line splitters) and a dark arm is drawn across the shared frame, so
    # no straight gutter or dark line divides them; the frame line, bridged over the arm, does.
    # The shorter panel's part overlaps the tall one's by more than a tenth: still not an inset
    truth = [(40, 300, 340, 400), (360, 200, 400, 600), (40, 860, 720, 300)]
    image = Image.new("RGB", (800, 1200), (255, 255, 255))
    draw = ImageDraw.Draw(image)
    for (x, y, w, h), fill in zip(truth, [(150, 170, 190), (200, 190, 150), (170, 170, 170)], strict=True):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=fill, outline=(100, 100, 100), width=2)
    draw.ellipse([300, 470, 430, 510], fill=(20, 20, 20))
    draw.ellipse([100, 350, 260, 600], outline=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3 and min(m[2] for m in matches) > 0.9
    assert len(detect_classical(image, ClassicalConfig(frame_hold=0.0))) == 2  # before: merged


def test_a_long_straight_line_across_one_panel_does_not_split_it():
    # a door's edge drawn as a thin line from top to bottom of a framed panel: erasing it leaves
    # two rectangles, but one straight line divides them, so that is not a non-guillotine layout
    truth = [(40, 40, 720, 520), (40, 600, 720, 560)]
    image = page_with(truth, border=3)
    ImageDraw.Draw(image).line([(600, 40), (600, 559)], fill=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2


def test_a_face_framed_by_dark_hair_is_not_an_inset_but_a_framed_picture_is():
    truth = [(40, 40, 720, 1120)]
    image = page_with(truth, fill=(150, 140, 120), border=4)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = 250, 300, 550, 660
    ragged = [(x, y0 + 4 * (x // 8 % 2 == 0)) for x in range(x0, x1, 8)]  # hair and shadow all round
    ragged += [(x1 - 4 * (y // 8 % 2 == 0), y) for y in range(y0, y1, 8)]
    ragged += [(x, y1 - 4 * (x // 8 % 2 == 0)) for x in range(x1, x0, -8)]
    ragged += [(x0 + 4 * (y // 8 % 2 == 0), y) for y in range(y1, y0, -8)]
    draw.polygon(ragged, fill=(25, 20, 20))
    draw.ellipse([x0 + 30, y0 + 50, x1 - 30, y1 - 20], fill=(210, 170, 140))  # the face: an oval hole
    draw.rectangle([450, 850, 730, 1130], fill=(90, 120, 160), outline=(0, 0, 0), width=4)  # an inset
    pred, matches = found(image, [*truth, (450, 850, 281, 281)])
    assert len(pred) == 2 and len(matches) == 2  # before: the face's oval was a third "inset"


def _noisy_art(draw, box, seed):
    rng = np.random.default_rng(seed)
    x0, y0, x1, y1 = box
    for _ in range(60):  # strokes of varied tone: art, not a flat caption or balloon
        x, y = int(rng.integers(x0, x1 - 20)), int(rng.integers(y0, y1 - 20))
        tone = tuple(int(v) for v in rng.integers(60, 200, size=3))
        draw.line([(x, y), (x + int(rng.integers(5, 20)), y + int(rng.integers(5, 20)))], fill=tone, width=3)


def test_a_framed_picture_in_the_middle_of_a_panel_or_a_caption_band_is_no_inset_but_a_corner_one_is():
    truth = [(40, 40, 720, 540), (40, 620, 720, 540)]
    image = page_with(truth, fill=(200, 180, 150), border=4)
    draw = ImageDraw.Draw(image)
    # a television's screen in the middle of the first panel (a framed picture in the art), and a
    # caption band across the top of the second: framed rectangles, neither an inset of the layout
    draw.rectangle([220, 160, 580, 440], fill=(110, 130, 120), outline=(0, 0, 0), width=4)
    _noisy_art(draw, (228, 168, 572, 432), 1)
    draw.rectangle([56, 636, 744, 750], fill=(150, 120, 90), outline=(0, 0, 0), width=4)
    _noisy_art(draw, (64, 644, 736, 742), 2)
    pred, matches = found(image, truth)
    assert len(pred) == 2 and len(matches) == 2  # before: both were 'insets' (two false panels)
    # an inset tucked into the second panel's corner is still found
    draw.rectangle([470, 900, 740, 1140], fill=(110, 130, 120), outline=(0, 0, 0), width=4)
    _noisy_art(draw, (478, 908, 732, 1132), 3)
    pred, matches = found(image, [*truth, (470, 900, 271, 241)])
    assert len(pred) == 3 and len(matches) == 3


def test_an_inset_whose_frame_the_panels_art_runs_into_is_found_but_a_tinted_caption_is_not():
    # a tall panel of a three-column page: a dark tree trunk runs down its art into the top frame
    # line of a framed close-up at its foot (a band across the panel's end, art on both sides), so
    # the inset's outline is one shape with the trunk and the panel's frame (Page Blanche p7 kind)
    truth = [(40, 40, 230, 1120), (290, 40, 470, 540), (290, 620, 470, 540)]
    image = page_with(truth, fill=(200, 170, 190), border=4)
    draw = ImageDraw.Draw(image)
    draw.polygon([(120, 44), (170, 44), (150, 720), (95, 720)], fill=(20, 15, 20))  # the trunk
    _noisy_art(draw, (44, 44, 266, 1156), 4)
    draw.rectangle([56, 720, 252, 1100], fill=(150, 120, 140), outline=(10, 10, 10), width=4)
    draw.ellipse([80, 760, 230, 1060], fill=(215, 160, 150), outline=(10, 10, 10), width=4)  # a face
    draw.line([(100, 900), (210, 900)], fill=(10, 10, 10), width=4)
    inset = (56, 720, 197, 381)
    # a tinted caption box of lettering in the corner of the second panel, over its art: no inset
    _noisy_art(draw, (294, 44, 756, 576), 5)
    draw.rectangle([300, 50, 620, 170], fill=(225, 190, 110), outline=(10, 10, 10), width=4)
    for row in range(3):
        draw.text((312, 62 + row * 34), "AND THEN THE RAIN CAME.", fill=(0, 0, 0), font=font("bold", 26))
    pred, matches = found(image, [*truth, inset])
    assert len(pred) == 4 and len(matches) == 4
    # the same page without the line search: the inset is missed (its contour is the trunk's too)
    plain = [d.bbox for d in detect_classical(image, ClassicalConfig(inset_lines=False))]
    assert len(plain) == 3 and len(match_boxes([inset], plain)) == 0


@pytest.mark.parametrize("gutter", [(255, 255, 255), (222, 205, 170), (0, 0, 0)])
def test_panels_bleeding_off_the_page_leave_their_gutters_to_find(gutter):
    # the top and bottom panels bleed off three sides of the page and the middle row runs to the
    # left and right edges too: the page's border shows almost no paper, so the gutter's colour
    # comes from the bands that cross the page (before: one whole-page panel, with no flag)
    truth = [(0, 0, 800, 400), (0, 440, 380, 340), (420, 440, 380, 340), (0, 820, 800, 380)]
    image = Image.new("RGB", (800, 1200), gutter)
    draw = ImageDraw.Draw(image)
    for i, (x, y, w, h) in enumerate(truth):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(110 + 25 * i, 140, 160))
        _noisy_art(draw, (x + 4, y + 4, x + w - 4, y + h - 4), i)
    pred, matches = found(image, truth)
    assert len(pred) == 4 and len(matches) == 4 and min(m[2] for m in matches) > 0.95
    # one full-bleed picture with a flat band of sky across it stays one panel
    splash = Image.new("RGB", (800, 1200), (120, 140, 160))
    draw = ImageDraw.Draw(splash)
    _noisy_art(draw, (0, 0, 800, 1200), 7)
    draw.rectangle([0, 380, 800, 700], fill=(235, 235, 240))
    assert len(detect_classical(splash)) == 1


def _six_panels(gutter=40):
    truth = [(40 + c * (340 + gutter), 40 + r * (347 + gutter), 340, 347) for r in range(3) for c in range(2)]
    image = Image.new("RGB", (800, 1200), "white")
    draw = ImageDraw.Draw(image)
    for i, (x, y, w, h) in enumerate(truth):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(170, 160, 150), outline=(0, 0, 0), width=4)
        _noisy_art(draw, (x + 6, y + 6, x + w - 6, y + h - 6), i)
    return truth, image, draw


def test_a_wide_gutter_that_dark_art_crosses_is_cut_along_its_two_frame_lines():
    # the gutters are 40 px wide (5% of a two-panel stretch): the two frame lines of a gutter that
    # art crosses may lie as far apart as the page's own clean gutters are wide
    truth, image, draw = _six_panels()
    draw.ellipse([330, 200, 470, 300], fill=(90, 60, 50), outline=(0, 0, 0), width=3)  # a figure
    pred, matches = found(image, truth)
    assert len(pred) == 6 and len(matches) == 6  # before: the two top panels were one
    truth, image, draw = _six_panels()
    for k in range(12):  # speed lines running over the first horizontal gutter
        draw.line([(80 + k * 50, 300), (100 + k * 50, 460)], fill=(0, 0, 0), width=2)
    pred, matches = found(image, truth)
    assert len(pred) == 6 and len(matches) == 6  # before: the first two rows' left panels were one


@pytest.mark.parametrize("lettering", ["balloon", "caption"])
def test_a_balloon_or_caption_over_the_crossing_of_two_wide_gutters(lettering):
    # 40 px gutters (6% of a half page's width) that meet under one balloon or tinted caption:
    # each gutter is crossed at one end, and a crossed gutter may be as wide as 6% of the page
    truth = [(40, 40, 340, 540), (420, 40, 340, 540), (40, 620, 340, 540), (420, 620, 340, 540)]
    image = Image.new("RGB", (800, 1200), "white")
    draw = ImageDraw.Draw(image)
    for i, (x, y, w, h) in enumerate(truth):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(170, 160, 150), outline=(0, 0, 0), width=4)
        _noisy_art(draw, (x + 6, y + 6, x + w - 6, y + h - 6), i)
    if lettering == "balloon":
        draw.ellipse([300, 520, 500, 680], fill="white", outline=(0, 0, 0), width=3)
    else:
        draw.rectangle([250, 560, 550, 640], fill=(240, 220, 120), outline=(0, 0, 0), width=3)
    pred, matches = found(image, truth)
    assert len(pred) == 4 and len(matches) == 4  # before: two panels, each a row


def test_a_scanners_dark_border_around_the_page_is_not_its_gutter():
    truth = [
        (30, 30, 370, 360),
        (425, 30, 345, 360),
        (30, 400, 740, 300),
        (30, 710, 470, 460),
        (525, 710, 245, 460),
    ]
    image = Image.new("RGB", (800, 1200), "white")
    draw = ImageDraw.Draw(image)
    for i, (x, y, w, h) in enumerate(truth):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(170, 160, 150), outline=(0, 0, 0), width=3)
        _noisy_art(draw, (x + 6, y + 6, x + w - 6, y + h - 6), i)
    assert len(found(image, truth)[1]) == 5
    draw.rectangle([0, 0, 799, 1199], outline=(10, 10, 10), width=12)  # the scanner's lid
    pred, matches = found(image, truth)
    assert len(pred) == 5 and len(matches) == 5  # before: black paper; a whole-page box + 2 merged
    assert min(m[2] for m in matches) > 0.95


def test_thin_frames_survive_the_smoothing_of_unevenly_yellowed_paper():
    # Golden-Age paper: yellowed (grey ~180), its tone drifting across the page (the smoothing of
    # scanned paper kicks in), art nearly as light as the paper: only the thin frames part panels
    truth = [
        (40, 40, 340, 360),
        (420, 40, 340, 360),
        (40, 440, 720, 320),
        (40, 800, 340, 360),
        (420, 800, 340, 360),
    ]
    image = Image.new("RGB", (800, 1200), (205, 185, 140))
    draw = ImageDraw.Draw(image)
    for i, (x, y, w, h) in enumerate(truth):
        draw.rectangle([x, y, x + w - 1, y + h - 1], fill=(185, 160, 120), outline=(25, 20, 15), width=3)
        _noisy_art(draw, (x + 6, y + 6, x + w - 6, y + h - 6), i)
    yy, xx = np.mgrid[0:1200, 0:800]
    drift = 0.93 + 0.07 * np.sin(xx / 300.0 + yy / 500.0)
    image = Image.fromarray((np.asarray(image) * drift[..., None]).astype(np.uint8))
    pred, matches = found(image, truth)
    assert len(pred) == 5 and len(matches) == 5  # before: no panel (the frames were smoothed away)


def test_a_borderless_panel_of_one_large_shape_is_kept_and_lettering_is_not():
    framed = [(40, 40, 350, 500), (410, 40, 350, 500), (410, 580, 350, 580)]
    image = page_with(framed, border=4)
    draw = ImageDraw.Draw(image)
    # an archway drawn straight on the paper: no frame, and less than half of its box is ink
    draw.rectangle([60, 600, 120, 1150], fill=(90, 60, 50))
    draw.rectangle([300, 600, 360, 1150], fill=(90, 60, 50))
    draw.rectangle([60, 600, 360, 660], fill=(110, 80, 60))
    truth = [*framed, (60, 600, 301, 551)]
    pred, matches = found(image, truth)
    assert len(pred) == 4 and len(matches) == 4  # before: dropped as a text block
    # a block of lettering as large and as inky stays out (many small glyphs, no large shape)
    text = page_with(framed, border=4)
    draw = ImageDraw.Draw(text)
    for row in range(13):
        draw.text((50, 590 + row * 42), "WHAT A NIGHT!", fill=(0, 0, 0), font=font("bold", 40))
    pred, matches = found(text, framed)
    assert len(pred) == 3 and len(matches) == 3


def test_pages_with_balloons_across_their_gutters():
    tp = truth_n = pred_n = 0
    for i in range(27):
        page = make_page(
            (i, 30),
            layout=LAYOUTS[i % len(LAYOUTS)],
            gutter=("white", "cream")[i % 2],
            crossing=3,
            size=(700, 1050),
        )
        truth = [p.bbox for p in page.record.panels]
        pred, matches = found(page.image, truth)
        tp, truth_n, pred_n = tp + len(matches), truth_n + len(truth), pred_n + len(pred)
    assert 2 * tp / (truth_n + pred_n) >= 0.95, (tp, truth_n, pred_n)  # 0.914 before crossed gutters


def test_unframed_art_touching_framed_panels_is_cut_along_their_frame_line():
    # two framed panels above an unframed one whose art reaches up to their bottom frames, so no
    # row of the gutter is clean and only one frame line bounds it (no pair of lines either)
    framed = [(40, 40, 350, 500), (410, 40, 350, 500)]
    image = page_with(framed, fill=(255, 255, 255), border=4)
    draw = ImageDraw.Draw(image)
    for x, y in [(180, 160), (560, 300), (300, 380)]:  # some art inside the framed panels
        draw.ellipse([x, y, x + 90, y + 90], outline=(0, 0, 0), width=3)
    draw.polygon(
        [(60, 900), (200, 540), (600, 540), (740, 820), (500, 1160), (150, 1100)], fill=(110, 110, 110)
    )
    truth = [*framed, (60, 540, 681, 621)]
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3 and min(m[2] for m in matches) > 0.9


def test_splash_bleed_and_text_only_pages():
    full = Image.fromarray(np.random.default_rng(0).integers(40, 200, (1200, 800, 3), dtype=np.uint8))
    assert [d.bbox for d in detect_classical(full)] == [(0.0, 0.0, 800.0, 1200.0)]
    splash = [(40, 40, 720, 1120)]
    assert len(found(page_with(splash), splash)[1]) == 1
    text = Image.new("RGB", (800, 1200), "white")
    draw = ImageDraw.Draw(text)
    for row in range(30):
        draw.text((60, 60 + row * 36), "Letters to the editor: we loved the last issue!" * 1, fill=(0, 0, 0))
    assert detect_classical(text) == []
    with pytest.raises(ValueError, match="unknown panel detector"):
        detect(text, "magic")


def test_detector_registry():
    assert detector_specs()[:3] == ["classical", "hf:NAME", "coco:FILE"]
    assert get_detector("classical") is get_detector("classical")  # built once per process and spec
    for bad in ("magic", "classical:x", "hf", "hf:", "coco"):
        with pytest.raises(
            ValueError, match=r"unknown panel detector .*available: classical, hf:NAME, coco:FILE"
        ):
            get_detector(bad)
    image = page_with([(40, 40, 340, 520), (420, 40, 340, 520)])
    assert get_detector("classical")(image) == detect_classical(image) == detect(image)
    strict = ClassicalConfig(min_area=0.9)  # a panel must cover 90% of the page
    assert detect(image, config=strict) == [] != detect(image)

    def fixed(score: str):  # a new kind with an argument: "fixed:SCORE"
        return lambda image, source=None: [Detection((1.0, 2.0, 3.0, 4.0), float(score))]

    register_detector("fixed", fixed, "SCORE")
    try:
        assert detect(image, "fixed:0.25") == [Detection((1.0, 2.0, 3.0, 4.0), 0.25)]
        assert "fixed:SCORE" in detector_specs()
    finally:
        DETECTORS.pop("fixed")
    with pytest.raises(ValueError, match="kind: a detector kind has no ':'"):
        register_detector("a:b", ClassicalConfig)


def test_synthetic_pages_of_every_layout():
    tp = fp = fn = 0
    for index, layout in enumerate(LAYOUTS):
        for seed in range(3):
            page = make_page(
                (seed, index, 5), layout=layout, size=(700, 1050), direction="rtl" if seed else "ltr"
            )
            truth = [p.bbox for p in page.record.panels]
            pred, matches = found(page.image, truth)
            tp += len(matches)
            fp += len(pred) - len(matches)
            fn += len(truth) - len(matches)
    precision, recall = tp / (tp + fp), tp / (tp + fn)
    assert 2 * precision * recall / (precision + recall) >= 0.95, (tp, fp, fn)


def test_an_open_panel_whose_art_runs_over_a_framed_neighbour_is_split_from_it():
    # a framed panel in the corner of a row and an open (borderless) panel beside it whose figure
    # is drawn over the frame's side: no gutter, no pair of frame lines, one shape. The framed
    # rectangle in the region's corner, with art inside and an open rest beside it, is a panel
    top = (40, 40, 720, 500)
    framed = (40, 600, 350, 420)  # the open panel runs on below it: its frame line is no edge of the row
    image = page_with([top, framed], fill=(200, 180, 150), border=4)
    draw = ImageDraw.Draw(image)
    _noisy_art(draw, (48, 608, 382, 1012), 4)
    figure = [(392, 700), (470, 590), (700, 620), (760, 900), (720, 1170), (430, 1160), (392, 1000)]
    draw.polygon(figure, fill=(120, 120, 120))
    draw.rectangle([350, 780, 420, 920], fill=(120, 120, 120))  # a hand reaching over the frame
    _noisy_art(draw, (430, 700, 700, 1100), 5)
    truth = [top, framed, (392, 590, 369, 581)]  # the hand over the frame aside
    pred, matches = found(image, truth)
    assert len(pred) == 3 and len(matches) == 3 and min(m[2] for m in matches) > 0.8
    assert len(detect_classical(image, ClassicalConfig(corner_high=0.0))) == 2  # before: merged
    # the same open panel with a framed window drawn in the middle of its art, away from its
    # sides, and a framed caption box in its corner: a picture in the art and lettering, no panels
    open_only = page_with([top], fill=(200, 180, 150), border=4)
    draw = ImageDraw.Draw(open_only)
    draw.polygon([(40, 620), (760, 600), (760, 1160), (40, 1160)], fill=(120, 120, 120))
    _noisy_art(draw, (60, 640, 740, 1140), 6)
    draw.rectangle([250, 760, 550, 1000], fill=(90, 120, 160), outline=(0, 0, 0), width=4)
    _noisy_art(draw, (258, 768, 542, 992), 7)
    draw.rectangle([40, 600, 300, 700], fill=(255, 255, 255), outline=(0, 0, 0), width=4)
    pred, matches = found(open_only, [top, (40, 600, 721, 561)])
    assert len(pred) == 2 and len(matches) == 2
