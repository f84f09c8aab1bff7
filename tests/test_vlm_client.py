"""The VLM client against a real HTTP server on 127.0.0.1 that replays scripted responses."""

import asyncio
import json
import logging

import pytest

pytest.importorskip("openai", reason="the openai client is not installed")

from comics_analysis.annotate.vlm import VlmClient, VlmConfig, VlmError
from comics_analysis.synth import make_page
from vlm_server import Replay, completion

GOOD = json.dumps(
    {
        "panels": [{"box_2d": [0, 0, 500, 1000], "text": [{"label": "dialogue", "text": "HI"}]}],
        "summary": "A greeting.",
    }
)


@pytest.fixture(scope="module")
def image():
    return make_page(3, size=(400, 600)).image


def read(server, image, **overrides):
    settings = {
        "model": "test-vlm",
        "base_url": server.url,
        "backoff": 0.01,
        "timeout": 2.0,
        "price_in": 1.0,
        "price_out": 2.0,
        **overrides,
    }
    return asyncio.run(VlmClient(VlmConfig(**settings)).read_page(image))


def test_success_usage_cost_and_request(image, monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-123")
    with Replay([(200, completion(GOOD), 0)]) as server:
        result = read(server, image)
    assert result.parsed.ok and result.parsed.page.panels[0].text[0].text == "HI"
    assert (result.input_tokens, result.output_tokens, result.attempts) == (1000, 200, 1)
    assert result.cost == pytest.approx((1000 * 1.0 + 200 * 2.0) / 1e6)
    request = server.requests[0]
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sk-secret-123"
    body = request["body"]
    assert body["model"] == "test-vlm" and body["response_format"] == {"type": "json_object"}
    assert body["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/jpeg;base64,")


@pytest.mark.parametrize(
    ("script", "attempts", "first_error"),
    [
        ([(429, {"error": "slow down"}, 0), (200, completion(GOOD), 0)], 2, "429 rate limited"),
        (
            [(500, {"error": "boom"}, 0), (502, {"error": "boom"}, 0), (200, completion(GOOD), 0)],
            3,
            "500 server error",
        ),
        ([(200, completion(""), 0), (200, completion(GOOD), 0)], 2, "empty 200 response"),
        ([(200, completion(GOOD), 3.0), (200, completion(GOOD), 0)], 2, "APITimeoutError"),
    ],
    ids=["429-then-ok", "500-twice-then-ok", "empty-200", "timeout"],
)
def test_retries(image, script, attempts, first_error):
    with Replay(script) as server:
        result = read(server, image)
    assert result.parsed.ok and result.attempts == attempts and result.errors[0] == first_error
    assert len(server.requests) == attempts


def test_truncated_response_is_retried_once_with_a_larger_limit(image):
    cut = completion(GOOD[:40], finish="length", completion_tokens=4096)
    with Replay([(200, cut, 0), (200, completion(GOOD), 0)]) as server:
        result = read(server, image)
    assert result.parsed.ok and "truncated at 4096 tokens" in result.errors[0]
    assert [r["body"]["max_tokens"] for r in server.requests] == [4096, 8192]
    assert result.output_tokens == 4096 + 200  # both calls are paid for


def test_invalid_json_is_parsed_or_explained_not_retried(image):
    with Replay([(200, completion("I am sorry, I cannot read this page."), 0)]) as server:
        result = read(server, image)
    assert not result.parsed.ok and result.parsed.error and result.attempts == 1
    with Replay([(200, completion("```json\n" + GOOD[:-2]), 0)]) as server:
        result = read(server, image)
    assert result.parsed.ok and "truncated" in result.parsed.repairs


def test_client_errors_are_not_retried_and_retries_end(image):
    with (
        Replay([(400, {"error": {"message": "bad model"}}, 0)]) as server,
        pytest.raises(VlmError, match="400"),
    ):
        read(server, image)
    assert len(server.requests) == 1
    with (
        Replay([(503, {"error": "down"}, 0)] * 3) as server,
        pytest.raises(VlmError, match="gave up after 3"),
    ):
        read(server, image, max_retries=2)


def test_cache_makes_reruns_free(image, tmp_path):
    with Replay([(200, completion(GOOD), 0), (200, completion(GOOD), 0)]) as server:
        first = read(server, image, cache_dir=str(tmp_path))
        second = read(server, image, cache_dir=str(tmp_path))
        assert len(server.requests) == 1  # the second read never reached the server
        other_model = read(server, image, cache_dir=str(tmp_path), model="another-vlm")
    assert not first.cached and second.cached and second.cost == 0.0
    assert second.parsed.page == first.parsed.page
    assert not other_model.cached and len(server.requests) == 2  # the model is part of the key


def test_the_key_is_never_logged(image, monkeypatch, caplog):
    monkeypatch.setenv("MY_VLM_KEY", "sk-do-not-print")
    caplog.set_level(logging.DEBUG)
    with Replay([(429, {"error": "x"}, 0), (200, completion(GOOD), 0)]) as server:
        result = read(server, image, api_key_env="MY_VLM_KEY")
    assert result.parsed.ok and server.requests[0]["auth"] == "Bearer sk-do-not-print"
    assert "sk-do-not-print" not in caplog.text
    assert "sk-do-not-print" not in json.dumps(
        VlmClient(VlmConfig("m", server.url, api_key_env="MY_VLM_KEY")).config_dict()
    )
