"""ComicsPAP evaluation: the single-image renderer, answer parsing, accuracy in the authors' layout,
the VLM protocol end to end against a real HTTP server on 127.0.0.1, and the embedding protocol
with a tiny untrained Closure Lite model (plumbing only)."""

import json

import numpy as np
import pytest
from PIL import Image

from comics_analysis.benchmarks.comicspap import (
    LABEL_SPACE,
    MARGIN,
    PROMPTS,
    evaluate_skills,
    parse_answer,
    render_single_image,
    user_prompt,
    write_results,
)
from comics_analysis.dataset_builders.comicspap import load_comicspap
from comics_analysis.metrics.comicspap import overall_results, random_baseline, skill_results
from test_builders_comicspap import _rows, _write


def _solid(size, colour):
    return Image.new("RGB", size, colour)


# --- parsing ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("answer: 2", 2),
        ("Answer: 3", 3),
        ("ANSWER:1", 1),
        ("answer:   0", 0),
        ("The panel fits. answer: 4.", 4),
        ("I compare 1 and 3 ... answer: 3", 3),  # the answer pattern wins over an earlier integer
        ("answer: 12", 12),
        ("Option 2 is best", 2),
        ("2", 2),
        (" 0 ", 0),
        ("answer 3", 3),  # no colon: first integer
        ("answer: three", -1),
        ("answer: -1", 1),  # a sign is not part of the pattern; the first integer is 1
        ("", -1),
        (None, -1),
        ("no idea", -1),
        ("panels 4 and 1; answer: 1", 1),
        ("answer:\n2", 2),  # \s matches the newline
        ("The answer is 0", 0),
        ("answer: 07", 7),
    ],
)
def test_parse_answer(text, expected):
    assert parse_answer(text) == expected


def test_prompts_per_skill():
    assert set(PROMPTS) == {
        "sequence_filling",
        "char_coherence",
        "visual_closure",
        "text_closure",
        "caption_relevance",
    }
    assert "two rows" in PROMPTS["sequence_filling"] and "question mark" in PROMPTS["text_closure"]
    assert "a row of comic panels" in PROMPTS["caption_relevance"]
    assert all(p.endswith("'answer: <your answer here>'\n\n") for p in PROMPTS.values())
    assert user_prompt("caption_relevance", "He runs.").endswith("\n\ncontext: He runs.")
    assert user_prompt("visual_closure", None).endswith("context: None")
    with pytest.raises(ValueError, match="unknown ComicsPAP skill"):
        user_prompt("panel_sorting", "")


# --- rendering ----------------------------------------------------------------------------------
def test_render_sizes_mask_position_and_labels():
    # sizes after the 500-px shrink: 500x333 (from 600x400), 300x200, 300x200, 400x300, 300x200
    context = [
        _solid((600, 400), (255, 0, 0)),
        _solid((300, 200), (0, 255, 0)),
        _solid((300, 200), (0, 0, 255)),
    ]
    options = [_solid((400, 300), (255, 255, 0)), _solid((300, 200), (0, 255, 255))]
    r = render_single_image(context, options, index=1)
    w, h = r.panel_size
    assert (w, h) == (300, 200)  # medians of widths [500,300,300,400,300] and heights [333,200,200,300,200]
    row = lambda n: n * w + (n - 1) * MARGIN  # noqa: E731
    assert r.image.size == (row(4), 2 * (h + LABEL_SPACE))  # 3 context panels + the "?" panel
    assert [b[0] for b in r.context_boxes] == [0, 310, 620, 930]
    assert all(b[1] == LABEL_SPACE for b in r.context_boxes)
    assert r.mask_box == r.context_boxes[1]
    pixels = np.asarray(r.image)
    x0, y0, x1, y1 = r.mask_box
    mask = pixels[y0:y1, x0:x1]
    assert tuple(mask[2, 2]) == (200, 200, 200)  # grey
    assert (mask.sum(-1) == 0).sum() > 500  # the black "?"
    # neighbours keep their colours: red before the mask, green after it
    assert tuple(pixels[y0 + 5, r.context_boxes[0][0] + 5]) == (255, 0, 0)
    assert tuple(pixels[y0 + 5, r.context_boxes[2][0] + 5]) == (0, 255, 0)
    # the options row is centred below its label; each option carries its number at bottom right
    assert r.options_label_y == LABEL_SPACE + h
    offset = (row(4) - row(2)) // 2
    assert [b[:2] for b in r.option_boxes] == [
        (offset, 2 * LABEL_SPACE + h),
        (offset + w + MARGIN, 2 * LABEL_SPACE + h),
    ]
    for box, colour in zip(r.option_boxes, [(255, 255, 0), (0, 255, 255)]):
        ox0, oy0, ox1, oy1 = box
        assert tuple(pixels[oy0 + 5, ox0 + 5]) == colour
        corner = pixels[oy1 - 30 : oy1, ox1 - 25 : ox1]
        assert (corner.sum(-1) == 0).any() and (corner == 255).all(-1).any()  # black digit on white
    # the label bands hold dark text, centred
    for y in (0, r.options_label_y):
        band = pixels[y : y + LABEL_SPACE]
        dark = np.nonzero((band.sum(-1) < 200).any(0))[0]
        assert dark.size and abs((dark.min() + dark.max()) / 2 - r.image.width / 2) < 6


def test_render_without_context_and_index_at_the_end():
    options = [_solid((100, 80), (10, 20, 30)) for _ in range(3)]
    r = render_single_image([], options, index=-1)
    assert r.image.size == (3 * 100 + 2 * MARGIN, 80 + LABEL_SPACE)
    assert r.context_boxes == [] and r.mask_box is None and r.options_label_y == 0
    r = render_single_image([_solid((100, 80), (1, 1, 1))] * 2, options, index=2)
    assert r.mask_box == r.context_boxes[2] and len(r.context_boxes) == 3
    with pytest.raises(ValueError, match="index 4"):
        render_single_image([_solid((100, 80), (1, 1, 1))] * 2, options, index=4)


# --- accuracy -----------------------------------------------------------------------------------
def test_accuracy_layout_and_weighted_total():
    a = [{"sample_id": f"a{i}", "solution_index": i % 2, "options": [0, 0]} for i in range(4)]
    b = [{"sample_id": f"b{i}", "solution_index": 0, "options": [0, 0, 0, 0]} for i in range(2)]
    results = {"sequence_filling": skill_results("sequence_filling", a, [0, 1, 1, 1], ["answer: 0"] * 4)}
    results["text_closure"] = skill_results("text_closure", b, [0, 3])
    assert results["sequence_filling"][0] == {"sample_id": "summary", "accuracy": 0.75, "total_samples": 4}
    assert results["sequence_filling"][3] == {
        "sample_id": "a2",
        "full_prediction": "answer: 0",
        "prediction": 1,
        "skill": "sequence_filling",
        "solution_index": 0,
        "correct": False,
    }
    overall = overall_results(results, {"sequence_filling": [2] * 4, "text_closure": [4] * 2})
    assert overall["overall_accuracy"] == pytest.approx((3 + 1) / 6)  # sample-weighted, not (0.75+0.5)/2
    assert overall["total_samples"] == 6
    assert overall["skill_results"]["text_closure"] == {
        "num_examples": 2,
        "random_baseline": 0.25,
        "accuracy": 0.5,
        "correct": 1,
    }
    assert overall["random_baseline"] == pytest.approx((4 * 0.5 + 2 * 0.25) / 6)
    assert random_baseline([2, 4, 4]) == pytest.approx((0.5 + 0.25 + 0.25) / 3)
    hidden = skill_results("visual_closure", [{"sample_id": "t", "solution_index": -1}], [2])
    assert hidden == [{"sample_id": "t", "full_prediction": None, "prediction": 2, "skill": "visual_closure"}]
    with pytest.raises(ValueError, match="1 predictions for 4 samples"):
        skill_results("sequence_filling", a, [0])


# --- VLM protocol end to end ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def pap(tmp_path_factory):
    root = tmp_path_factory.mktemp("pap") / "ComicsPAP"
    for skill in ("sequence_filling", "caption_relevance"):
        _write(root, skill, "val", _rows(skill, "val", 4))
        _write(root, skill, "test", _rows(skill, "test", 2))
    return root


def _samples(root, split):
    return {
        skill: list(load_comicspap(skill, data_dir=root, split=split))
        for skill in ("sequence_filling", "caption_relevance")
    }


def test_vlm_protocol_end_to_end(pap, tmp_path):
    pytest.importorskip("openai", reason="the openai client is not installed")
    import asyncio

    from comics_analysis.annotate.vlm import VlmClient, VlmConfig, image_data_uri
    from comics_analysis.benchmarks.comicspap import vlm_predictor
    from vlm_server import Oracle

    val = _samples(pap, "val")
    answers, expected_correct = {}, 0
    replies = ["Looking at it, answer: {k}", "{k}", "The best fit is option {k}.", "no idea"]
    for samples in val.values():
        for i, s in enumerate(samples):
            image = render_single_image(s["context"], s["options"], s["index"]).image
            _, sha = image_data_uri(image, 4096)
            right = i % 2 == 0  # every other sample answered right
            k = s["solution_index"] if right else (s["solution_index"] + 1) % len(s["options"])
            answers[sha] = replies[i % len(replies)].format(k=k)
            expected_correct += right and "{k}" in replies[i % len(replies)]
    config = VlmConfig(model="oracle-vlm", base_url="", max_side=4096, backoff=0.01, timeout=5.0)
    with Oracle(answers) as server:
        config.base_url = server.url
        client = VlmClient(config)
        per_skill, overall = evaluate_skills(val, vlm_predictor(client, concurrency=3), "vlm:oracle-vlm")
    assert len(server.requests) == 8
    body = server.requests[0]["body"]
    assert "response_format" not in body and body["model"] == "oracle-vlm"
    text = body["messages"][0]["content"][0]["text"]
    assert text.startswith("Pick A Panel Task") and "context: " in text
    cr = per_skill["caption_relevance"]
    assert cr[0]["sample_id"] == "summary" and cr[1]["full_prediction"] == "Looking at it, answer: 0"
    assert cr[1]["prediction"] == 0 and cr[1]["correct"] is True
    assert cr[4]["prediction"] == -1 and cr[4]["full_prediction"] == "no idea"
    assert overall["overall_accuracy"] == pytest.approx(expected_correct / 8) and expected_correct == 4
    assert overall["protocol"] == "vlm:oracle-vlm" and overall["random_baseline"] == pytest.approx(0.25)
    written = write_results(tmp_path / "out", per_skill, overall)
    assert sorted(p.name for p in written) == [
        "overall_results.json",
        "results_caption_relevance.json",
        "results_sequence_filling.json",
    ]
    assert json.loads((tmp_path / "out" / "overall_results.json").read_text())["total_samples"] == 8
    assert asyncio.iscoroutinefunction(client.ask)


def test_vlm_server_errors_count_as_minus_one(pap):
    pytest.importorskip("openai", reason="the openai client is not installed")
    from comics_analysis.annotate.vlm import VlmClient, VlmConfig
    from comics_analysis.benchmarks.comicspap import vlm_predictor
    from vlm_server import Oracle

    samples = _samples(pap, "test")["sequence_filling"]
    config = VlmConfig(model="m", base_url="", max_side=4096, backoff=0.01, timeout=5.0)
    with Oracle({}) as server:  # answers 400 "unknown image" to everything
        config.base_url = server.url
        predictions, texts = vlm_predictor(VlmClient(config))(samples, "sequence_filling")
    assert predictions == [-1, -1] and all(t.startswith("ERROR: 400") for t in texts)
    results = skill_results("sequence_filling", samples, predictions, texts)
    assert [e["sample_id"] for e in results] == [s["sample_id"] for s in samples]  # no summary on test


# --- embedding protocol (plumbing) ---------------------------------------------------------------
def test_embedding_protocol_with_a_tiny_model(pap):
    pytest.importorskip("torch")
    from closure_lite_helpers import tiny_model
    from comics_analysis.benchmarks.comicspap import embedding_predictor
    from comics_analysis.modeling.closure_lite import ClosureLiteProcessor

    model = tiny_model().eval()
    processor = ClosureLiteProcessor.from_config(model.config, max_text_length=32)
    predict = embedding_predictor(model, processor)
    val = _samples(pap, "val")
    per_skill, overall = evaluate_skills(val, predict, "embedding:tiny")
    for entries in per_skill.values():
        assert entries[0]["total_samples"] == 4
        for entry in entries[1:]:
            scores = json.loads(entry["full_prediction"])
            assert len(scores) == 4 and entry["prediction"] == int(np.argmax(scores))
            assert all(-1.0001 <= s <= 1.0001 for s in scores)
    assert 0.0 <= overall["overall_accuracy"] <= 1.0 and overall["total_samples"] == 8
    # each option is scored on its own: reversing the options reverses the scores
    sample = dict(val["sequence_filling"][1])
    forward = json.loads(predict([sample], "sequence_filling")[1][0])
    sample["options"] = sample["options"][::-1]
    backward = json.loads(predict([sample], "sequence_filling")[1][0])
    assert np.allclose(forward, backward[::-1], atol=1e-4)


# --- one run: run_comicspap / ComicsPapRun --------------------------------------------------------
def test_run_table_summary_and_payload(tmp_path):
    from comics_analysis.benchmarks.comicspap import ComicsPapRun

    overall = {
        "overall_accuracy": 0.5,
        "total_samples": 6,
        "random_baseline": 0.25,
        "skill_results": {
            "sequence_filling": {"num_examples": 4, "random_baseline": 0.25, "accuracy": 0.75, "correct": 3},
            "caption_relevance": {"num_examples": 2, "random_baseline": 0.25},  # test split: no accuracy
        },
        "protocol": "vlm:m",
    }
    run = ComicsPapRun("val", {}, overall, tmp_path, [tmp_path / "a.json", tmp_path / "b.json"])
    rows = [line.split() for line in run.table().splitlines()]
    assert rows[0] == ["skill", "samples", "accuracy", "%", "random", "%"]
    assert rows[2:] == [
        ["sequence_filling", "4", "75.0", "25.0"],
        ["caption_relevance", "2", "-", "25.0"],
        ["total", "6", "50.0", "25.0"],
    ]
    assert run.summary_text() == f"{run.table()}\nwrote 2 files to {tmp_path}"
    payload = run.payload()
    assert payload["benchmark"] == "comicspap" and payload["split"] == "val" and payload["overall"] is overall
    assert payload["date"] and "machine" in payload and "commit" in payload


def test_predictor_errors_name_parameters(tmp_path):
    from comics_analysis.benchmarks.comicspap import make_predictor, run_comicspap

    with pytest.raises(ValueError, match='protocol="vlm" needs vlm_model and base_url'):
        make_predictor("vlm", vlm_model="m")
    with pytest.raises(ValueError, match='protocol="embedding" needs model'):
        make_predictor("embedding")
    with pytest.raises(ValueError, match="unknown protocol 'guess'"):
        make_predictor("guess")
    with pytest.raises(ValueError, match='protocol="vlm"'):  # before any data is read
        run_comicspap(tmp_path / "out", data_dir=tmp_path / "nowhere")


def test_run_comicspap_vlm_writes_results_and_caches_answers(pap, tmp_path):
    pytest.importorskip("openai", reason="the openai client is not installed")
    from comics_analysis.annotate.vlm import image_data_uri
    from comics_analysis.benchmarks.comicspap import run_comicspap
    from vlm_server import Oracle

    val = _samples(pap, "val")
    answers = {}
    for samples in val.values():
        for s in samples[:2]:
            image = render_single_image(s["context"], s["options"], s["index"]).image
            answers[image_data_uri(image, 4096)[1]] = f"answer: {s['solution_index']}"
    with Oracle(answers) as server:
        run = run_comicspap(
            tmp_path / "out",
            data_dir=pap,
            split="val",
            skills=["sequence_filling", "caption_relevance"],
            limit=2,
            vlm_model="oracle-vlm",
            base_url=server.url,
            concurrency=2,
        )
    assert len(server.requests) == 4
    assert run.overall["overall_accuracy"] == 1.0 and run.overall["total_samples"] == 4
    assert run.overall["protocol"].startswith("vlm:oracle-vlm (")
    assert sorted(p.name for p in run.written) == [
        "overall_results.json",
        "results_caption_relevance.json",
        "results_sequence_filling.json",
    ]
    assert json.loads((tmp_path / "out" / "overall_results.json").read_text()) == run.overall
    assert any((tmp_path / "out" / "cache").rglob("*"))  # the answer cache defaults to out/cache
    assert "total" in run.table() and "100.0" in run.table()
