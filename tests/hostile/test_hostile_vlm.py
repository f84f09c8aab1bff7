"""A VLM server that misbehaves: every billed token counts, the budget holds, Retry-After is
honoured, a malformed 200 is a retryable page failure, and a key the server echoes never
reaches a message, a log or a file."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

pytest.importorskip("openai", reason="the openai client is not installed")

from comics_analysis.annotate.vlm import VlmClient, VlmConfig, VlmError, run_vlm
from comics_analysis.ingest import ingest
from comics_analysis.synth import make_library, make_page
from vlm_server import Raw, Replay, completion  # tests/: on the path through tests/conftest.py

GOOD = json.dumps({"panels": [{"box_2d": [0, 0, 500, 1000], "text": []}], "summary": "x"})


@pytest.fixture(scope="module")
def image():
    return make_page(5, size=(300, 420)).image


@pytest.fixture(scope="module")
def ingested(tmp_path_factory):
    root = tmp_path_factory.mktemp("vlm-hostile")
    make_library(root / "lib", books=1, seed=2, size=(300, 420), story_pages=(4, 4), show_progress=False)
    ingest([root / "lib" / "books"], root / "ingest", show_progress=False)
    return root / "ingest"


def _config(server, **overrides):
    return VlmConfig(
        **{
            "model": "m",
            "base_url": server.url,
            "backoff": 0.01,
            "timeout": 5.0,
            "max_retries": 2,
            **overrides,
        }
    )


def _read(server, image, **overrides):
    return asyncio.run(VlmClient(_config(server, **overrides)).read_page(image))


def test_tokens_of_failed_attempts_are_billed_and_the_budget_holds(ingested, tmp_path):
    """Every answer is empty but billed (1,000,000 input tokens = 1.0): before, a page that
    failed cost nothing in the totals, and a budget of 0.5 let 12 requests through."""
    empty = (200, completion("", prompt_tokens=1_000_000, completion_tokens=0), 0)
    with Replay([empty] * 40) as server:
        totals = run_vlm(
            ingested,
            tmp_path / "vlm",
            _config(server, price_in=1.0, price_out=1.0),
            concurrency=1,
            max_cost=0.5,
            show_progress=False,
        )
    assert len(server.requests) == 1  # the first paid attempt reached the budget: no retry
    assert totals.cost == pytest.approx(1.0) and totals.input_tokens == 1_000_000
    assert (
        totals.failed == 1
        and totals.stopped == "max_cost"
        and "budget reached" in totals.failures[0]["error"]
    )
    state = json.loads((tmp_path / "vlm" / "run.json").read_text())
    assert state["runs"][-1]["cost"] == pytest.approx(1.0)


def test_a_budget_without_prices_is_refused(ingested, tmp_path):
    with Replay([]) as server, pytest.raises(ValueError, match="needs prices"):
        run_vlm(ingested, tmp_path / "vlm", _config(server), max_cost=0.5, show_progress=False)
    assert not server.requests


def test_retry_after_is_honoured_and_capped(image):
    slow = Raw(b'{"error": "slow down"}', "application/json", {"Retry-After": "1"})
    with Replay([(429, slow, 0), (200, completion(GOOD), 0)]) as server:
        start = time.perf_counter()
        result = _read(server, image)
        waited = time.perf_counter() - start
    assert result.parsed.ok and result.attempts == 2
    assert waited >= 1.0  # backoff alone would wait ~0.01 s


@pytest.mark.parametrize(
    "bad",
    [
        Raw(b"<html><body>Bad gateway, try later</body></html>"),
        Raw(json.dumps(completion(GOOD)).encode()[:60], "application/json"),
    ],
    ids=["html-200", "truncated-envelope"],
)
def test_a_malformed_200_is_retried_then_a_page_failure(image, bad):
    with Replay([(200, bad, 0), (200, completion(GOOD), 0)]) as server:
        result = _read(server, image)
    assert result.parsed.ok and result.attempts == 2 and result.errors[0].startswith("malformed 200")
    with Replay([(200, bad, 0)] * 3) as server, pytest.raises(VlmError, match="gave up after 3"):
        _read(server, image)


def test_a_key_echoed_by_the_server_is_redacted_everywhere(ingested, tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-0123456789abcdef")
    caplog.set_level(logging.DEBUG)
    echo = {
        "error": {
            "message": "Incorrect API key provided: sk-live-0123456789abcdef "
            "(Authorization: Bearer sk-live-0123456789abcdef)"
        }
    }
    with Replay([(401, echo, 0)] * 10) as server:
        totals = run_vlm(ingested, tmp_path / "vlm", _config(server), concurrency=1, show_progress=False)
    assert totals.failed == totals.pages and "401" in totals.failures[0]["error"]
    assert "***" in totals.failures[0]["error"]
    everything = caplog.text + json.dumps(totals.failures)
    everything += "".join(p.read_text() for p in (tmp_path / "vlm").rglob("*") if p.is_file())
    assert "sk-live-0123456789abcdef" not in everything


def test_the_cache_key_holds_every_option_that_changes_the_answer(image, tmp_path, monkeypatch):
    """Before, the key was image + model + prompt version: a run at another temperature, without
    JSON mode or with another token limit got the first run's answers from the cache."""
    from comics_analysis.annotate.vlm.prompts import PROMPTS, Prompt

    current = PROMPTS[VlmConfig.prompt_version]
    monkeypatch.setitem(PROMPTS, "v-test-copy", current)  # the same text under another version
    changes = [
        {"temperature": 0.7},
        {"json_mode": False},
        {"max_tokens": 1024},
        {"model": "another-vlm"},
        {"prompt_version": "v-test-copy"},
        {"max_side": 256},  # the image detail sent
    ]
    with Replay([(200, completion(GOOD), 0)] * (3 + len(changes))) as server:
        first = _read(server, image, cache_dir=str(tmp_path))
        again = _read(server, image, cache_dir=str(tmp_path))
        assert not first.cached and again.cached and len(server.requests) == 1
        for n, change in enumerate(changes, start=2):
            answer = _read(server, image, cache_dir=str(tmp_path), **change)
            assert not answer.cached and len(server.requests) == n, change
            body = server.requests[-1]["body"]
            if "temperature" in change:
                assert body["temperature"] == 0.7
            if "json_mode" in change:
                assert "response_format" not in body
            if "max_tokens" in change:
                assert body["max_tokens"] == 1024
            assert _read(server, image, cache_dir=str(tmp_path), **change).cached, change
        assert len(server.requests) == 1 + len(changes)  # each one asked once, then cached
        # a prompt's text edited under its old version (which prompts.py forbids) is asked again
        monkeypatch.setitem(PROMPTS, VlmConfig.prompt_version, Prompt(current.system, current.user + " "))
        assert not _read(server, image, cache_dir=str(tmp_path)).cached
        assert len(server.requests) == 2 + len(changes)
