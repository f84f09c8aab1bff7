"""Reading many pages with a VLM: bounded concurrency, one output file per page, totals and a budget.

``OUT/pages/<book_id>/pNNNN.json`` holds, per page, the raw answer, the parsed page (or the reason
it could not be parsed), the repairs applied, tokens and cost. Files are written atomically as
answers arrive, so a killed or budget-stopped run resumes where it stopped: pages with a file are
skipped, and failed requests (retries exhausted) have none, so they are tried again.
``OUT/run.json`` records the configuration (never the key) and the totals of every run (a shard
of a sharded run: ``OUT/run-shard-III-of-KKK.json``).

The budget (``max_cost``): a new page is started only while the money spent plus the expected
cost of the pages in flight stays under it; pages in flight finish, so a run overshoots by at
most ``concurrency - 1`` pages' cost.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

from PIL import Image
from tqdm.auto import tqdm

from ...dataspec import atomic_write
from ...dataspec.io import remove_orphans
from ...engine import EngineOptions, run_units
from ...ingest import read_manifest, shard_of
from .client import VlmClient, VlmConfig, VlmError, VlmResult

log = logging.getLogger(__name__)


@dataclass
class RunTotals:
    pages: int = 0  # pages asked for in this run
    read: int = 0  # answered in this run (by the server or from the cache)
    skipped: int = 0  # already answered by an earlier run
    cached: int = 0
    parse_failed: int = 0  # answered, but not as a page (the reason is in the page's file)
    failed: int = 0  # no answer (retries exhausted or a client error); retried next run
    not_started: int = 0  # left when the budget ran out
    input_tokens: int = 0
    output_tokens: int = 0
    cost: float = 0.0
    stopped: str | None = None  # "max_cost" when the budget ended the run
    failures: list[dict] = field(default_factory=list)

    def summary_text(self, seconds: float, out: str | Path, max_cost: float | None = None) -> str:
        """Pages, tokens, cost and time of the run writing to ``out``, why it stopped early (the
        budget ``max_cost``) and the first five failures."""
        lines = [
            f"{self.pages} pages: {self.read} read ({self.cached} from the cache), {self.skipped} done "
            f"before, {self.failed} failed, {self.parse_failed} unparseable, {self.not_started} not started",
            f"tokens in {self.input_tokens:,} out {self.output_tokens:,}; cost {self.cost:.4f}; "
            f"{seconds:.1f} s -> {out}/pages",
        ]
        if self.stopped == "max_cost":
            lines.append(f"stopped: the budget --max-cost {max_cost} was reached; re-run to continue")
        lines += [f"failed: {f['page_id']}: {f['error']}" for f in self.failures[:5]]
        return "\n".join(lines)


def load_prices(path: str | Path) -> dict[str, tuple[float, float]]:
    """A price table: JSON ``{model: {"input": per Mtok, "output": per Mtok}}``."""
    path = Path(path)
    try:
        table = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ValueError(f"cannot read the price table {path}: {exc}") from None
    prices = {}
    for model, entry in table.items():
        try:
            prices[model] = (float(entry["input"]), float(entry["output"]))
        except (TypeError, KeyError, ValueError):
            raise ValueError(
                f"{path}: model {model!r} needs numeric 'input' and 'output' prices per million tokens"
            ) from None
    return prices


def resolve_prices(
    model: str,
    prices: str | Path | None = None,
    price_in: float | None = None,
    price_out: float | None = None,
) -> tuple[float, float]:
    """(input, output) price per million tokens of ``model``: explicit prices win, then the
    ``prices`` table; a table without the model (and no explicit input price) is an error."""
    if prices:
        table = load_prices(prices)
        if model not in table and price_in is None:
            raise ValueError(f"{prices} has no prices for model {model!r}; known: {', '.join(table)}")
        price_in = table.get(model, (price_in, price_out))[0] if price_in is None else price_in
        price_out = table.get(model, (price_in, price_out))[1] if price_out is None else price_out
    return price_in or 0.0, price_out or 0.0


def page_file(out: str | Path, page_id: str) -> Path:
    return Path(out) / "pages" / f"{page_id}.json"


def _record(page_id: str, config: VlmConfig, result: VlmResult) -> dict:
    parsed = result.parsed
    return {
        "page_id": page_id,
        "model": config.model,
        "prompt_version": config.prompt_version,
        "raw": result.text,
        "page": parsed.page.model_dump() if parsed.page is not None else None,
        "repairs": parsed.repairs,
        "error": parsed.error,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost": result.cost,
        "cached": result.cached,
        "attempts": result.attempts,
        "finish_reason": result.finish_reason,
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def run_file(out: str | Path, num_shards: int = 1, shard_index: int = 0) -> Path:
    """``OUT/run.json``, or a shard's ``OUT/run-shard-III-of-KKK.json``."""
    name = "run.json" if num_shards == 1 else f"run-shard-{shard_index:03d}-of-{num_shards:03d}.json"
    return Path(out) / name


def _check_out(out: Path, config: VlmConfig, state_path: Path) -> dict:
    """OUT belongs to one model and prompt version: mixing readings would corrupt the dataset."""
    state = {"runs": []}
    for path in sorted({state_path, *out.glob("run*.json")}):
        if not path.is_file():
            continue
        found = json.loads(path.read_text(encoding="utf-8"))
        was = (found["config"]["model"], found["config"]["prompt_version"])
        if was != (config.model, config.prompt_version):
            raise ValueError(
                f"{out} holds readings by model {was[0]!r} with prompt {was[1]!r}; "
                f"use another output folder (out) for {config.model!r} / {config.prompt_version!r}"
            )
        if path == state_path:
            state = found
    return state


async def read_pages(
    client: VlmClient,
    jobs: list[tuple[str, Path]],
    out: str | Path,
    *,
    concurrency: int = 4,
    max_cost: float | None = None,
    show_progress: bool = True,
    clean: bool = True,
) -> RunTotals:
    """Read ``(page_id, image path)`` jobs into ``out``; returns this run's totals. ``clean``:
    first remove the temp files of killed runs under ``out/pages``."""
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    if max_cost is not None and not (client.config.price_in or client.config.price_out):
        raise ValueError(
            f"max_cost {max_cost} needs prices to count against: give a price table (prices) or "
            "price_in / price_out for model " + repr(client.config.model)
        )
    totals = RunTotals(pages=len(jobs))
    if clean and (Path(out) / "pages").is_dir():
        remove_orphans(Path(out) / "pages")  # a killed run's half-written page files
    todo = [(pid, path) for pid, path in jobs if not page_file(out, pid).is_file()]
    totals.skipped = len(jobs) - len(todo)
    queue: asyncio.Queue = asyncio.Queue()
    for job in todo:
        queue.put_nowait(job)
    state = {"in_flight": 0, "paid": 0}
    bar = tqdm(total=len(todo), desc="vlm", unit="page", disable=not show_progress)

    def over_budget() -> bool:
        if max_cost is None:
            return False
        expected = totals.cost / state["paid"] if state["paid"] else 0.0
        return totals.cost + state["in_flight"] * expected >= max_cost

    async def worker() -> None:
        while not queue.empty():
            if over_budget():
                totals.stopped = "max_cost"
                return
            page_id, path = queue.get_nowait()
            state["in_flight"] += 1
            try:
                image = await asyncio.to_thread(_load, path)
                result = await client.read_page(
                    image, may_retry=lambda spent: max_cost is None or totals.cost + spent < max_cost
                )
            except (VlmError, OSError) as exc:
                usage = getattr(exc, "usage", None)
                if usage is not None:  # failed attempts are billed too
                    totals.input_tokens += usage.input_tokens
                    totals.output_tokens += usage.output_tokens
                    totals.cost += usage.cost
                    state["paid"] += usage.attempts > 0
                totals.failed += 1
                totals.failures.append({"page_id": page_id, "error": str(exc)})
                log.warning("page %s: %s", page_id, exc)
            else:
                totals.read += 1
                totals.cached += result.cached
                totals.parse_failed += not result.parsed.ok
                totals.input_tokens += 0 if result.cached else result.input_tokens
                totals.output_tokens += 0 if result.cached else result.output_tokens
                totals.cost += result.cost
                state["paid"] += not result.cached
                target = page_file(out, page_id)
                target.parent.mkdir(parents=True, exist_ok=True)
                with atomic_write(target, owner=True) as handle:
                    json.dump(_record(page_id, client.config, result), handle, ensure_ascii=False)
            finally:
                state["in_flight"] -= 1
                bar.update(1)
                bar.set_postfix(cost=f"{totals.cost:.4f}", failed=totals.failed)

    try:
        await asyncio.gather(*(worker() for _ in range(min(concurrency, max(1, len(todo))))))
    finally:
        bar.close()
    totals.not_started = queue.qsize()
    return totals


def _load(path: Path) -> Image.Image:
    with Image.open(path) as image:
        return image.convert("RGB")


def _engine_setup(config: VlmConfig) -> VlmClient:
    return VlmClient(config)


def _engine_book(concurrency: int, out: str, client: VlmClient, jobs: list[tuple[str, str]]) -> RunTotals:
    """One book on an engine worker: its pages read with ``concurrency`` requests in flight."""
    jobs = [(page_id, Path(path)) for page_id, path in jobs]
    reading = read_pages(client, jobs, out, concurrency=concurrency, show_progress=False, clean=False)
    return asyncio.run(reading)


def _read_on_engine(
    config: VlmConfig,
    jobs: list[tuple[str, Path]],
    out: Path,
    engine: EngineOptions,
    concurrency: int,
    max_cost: float | None,
) -> RunTotals:
    """The pages on Ray: a book per unit (pages with a file already are not sent); a worker reads
    its book with ``concurrency // workers`` requests in flight, and at most ``concurrency``
    workers (``engine.workers`` when lower) run at once, so the cluster never has more than
    ``concurrency`` requests in flight. Each worker writes its page files (atomically, as the
    local engine); the driver adds up the totals. A book whose worker died past its retries
    counts its pages as failed (no file: the next run retries them)."""
    if max_cost is not None:
        raise ValueError(
            "max_cost needs the local engine (one process counts the spend against the budget); "
            "with engine ray, bound the run with limit instead"
        )
    if concurrency < 1:
        raise ValueError(f"concurrency must be >= 1, got {concurrency}")
    workers = min(engine.workers or concurrency, concurrency)
    engine = replace(engine, workers=workers)
    if (out / "pages").is_dir():
        remove_orphans(out / "pages")  # a killed run's half-written page files
    totals = RunTotals(pages=len(jobs))
    books: dict[str, list[tuple[str, str]]] = {}
    for page_id, path in jobs:
        if page_file(out, page_id).is_file():
            totals.skipped += 1
        else:
            books.setdefault(page_id.rsplit("/", 1)[0], []).append((page_id, str(path)))
    outcomes = run_units(
        list(books.items()),
        partial(_engine_setup, config),
        partial(_engine_book, max(1, concurrency // workers), str(out)),
        engine,
    )
    for outcome in outcomes:
        if not outcome.ok:
            pages = books[outcome.key]
            totals.failed += len(pages)
            totals.failures += [{"page_id": pid, "error": f"book:{outcome.error}"} for pid, _ in pages]
            continue
        part: RunTotals = outcome.result
        for name in ("read", "cached", "parse_failed", "failed", "input_tokens", "output_tokens", "cost"):
            setattr(totals, name, getattr(totals, name) + getattr(part, name))
        totals.failures += part.failures
    return totals


def run_vlm(
    ingest_dir: str | Path,
    out: str | Path,
    config: VlmConfig,
    *,
    concurrency: int = 4,
    max_cost: float | None = None,
    limit: int | None = None,
    show_progress: bool = True,
    preflight: bool = True,
    engine: EngineOptions | None = None,
    num_shards: int = 1,
    shard_index: int = 0,
) -> RunTotals:
    """Read every ok page of an ingest run (the first ``limit``) with the VLM of ``config``.
    ``preflight``: check once that the endpoint answers before reading (when pages are left).
    ``engine`` (ray): books as units on Ray workers (:func:`_read_on_engine`), at most
    ``concurrency`` requests in flight over the whole cluster. ``num_shards`` / ``shard_index``:
    only the books of this shard (by a hash of the book id, as ``annotate``); shards write
    disjoint page files into the same ``out`` and each its own ``run-shard-III-of-KKK.json``."""

    if not 0 <= shard_index < num_shards:
        raise ValueError(f"shard_index {shard_index} is not in [0, num_shards={num_shards})")
    out = Path(out)
    state_path = run_file(out, num_shards, shard_index)
    state = _check_out(out, config, state_path)
    rows = sorted(read_manifest(ingest_dir).ok(), key=lambda r: (r["book_id"], r["page_index"]))
    if num_shards > 1:
        rows = [r for r in rows if shard_of(r["book_id"], num_shards) == shard_index]
    if limit is not None:
        rows = rows[:limit]
    jobs = [(r["page_id"], Path(ingest_dir) / r["path"]) for r in rows]
    client = VlmClient(config)
    if preflight and any(not page_file(out, pid).is_file() for pid, _ in jobs):
        client.preflight()  # a wrong URL fails here, in seconds, not after every page's retries
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    if engine is not None and engine.is_ray:
        totals = _read_on_engine(config, jobs, out, engine, concurrency, max_cost)
    else:
        totals = asyncio.run(
            read_pages(
                client, jobs, out, concurrency=concurrency, max_cost=max_cost, show_progress=show_progress
            )
        )
    state["config"] = client.config_dict()
    state["runs"].append(
        {
            "started_utc": started,
            "finished_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "concurrency": concurrency,
            "max_cost": max_cost,
            **asdict(totals),
        }
    )
    out.mkdir(parents=True, exist_ok=True)
    with atomic_write(state_path) as handle:
        json.dump(state, handle, indent=2)
    return totals
