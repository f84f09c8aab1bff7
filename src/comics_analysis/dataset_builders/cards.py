"""Dataset cards: ``huggingface_hub`` ``DatasetCard`` objects rendered from the Jinja templates in
``comics_analysis/model_cards/`` (package data), with their metadata (the YAML front matter the
Hub and ``datasets.load_dataset(folder)`` read) as ``DatasetCardData``.

They live here, not in ``hub``, because the exports of this package write them (and
``dataset_builders`` sits below ``hub``). :func:`read_front_matter` parses a card back (the
upload staging in ``hub.datasets`` checks it).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from huggingface_hub import DatasetCard, DatasetCardData, RepoCard

from ..dataspec import markdown_table

SIZE_CATEGORIES = (
    (1_000, "n<1K"),
    (10_000, "1K<n<10K"),
    (100_000, "10K<n<100K"),
    (1_000_000, "100K<n<1M"),
    (10_000_000, "1M<n<10M"),
    (100_000_000, "10M<n<100M"),
    (1_000_000_000, "100M<n<1B"),
)
LICENSE_TEXT = {
    "unknown": "Not stated by whoever built this dataset (`--license` at build time). The page images "
    "keep the rights of their publishers; check them before redistributing.",
    "other": "See the dataset's source: the page images keep the rights of their publishers.",
}


def template(name: str) -> str:
    """The text of ``model_cards/<name>`` shipped inside the package."""
    return (resources.files("comics_analysis") / "model_cards" / name).read_text(encoding="utf-8")


def render_card(card_class: type[RepoCard], data, template_name: str, /, **values: Any) -> str:
    """``card_class.from_template`` (ModelCard, DatasetCard) over ``model_cards/<template_name>`` with the
    metadata ``data`` and the template ``values``; ends with a newline like the template (Jinja
    drops the last one)."""
    text = str(card_class.from_template(data, template_str=template(template_name), **values))
    return text if text.endswith("\n") else text + "\n"


def size_category(rows: int) -> str:
    for limit, label in SIZE_CATEGORIES:
        if rows < limit:
            return label
    return "n>1B"


def md_table(headers: list[str], rows: list[list[Any]]) -> str:
    """:func:`dataspec.markdown_table` with the cards' number formats (ints 1,234, floats 4 places)."""

    def cell(v: Any) -> Any:
        if isinstance(v, bool):
            return str(v)
        if isinstance(v, int):
            return f"{v:,}"
        if isinstance(v, float):
            return f"{v:.4f}"
        return v

    return markdown_table(headers, [[cell(v) for v in row] for row in rows])


def card_data(stats: dict[str, Any], license: str, pretty_name: str) -> DatasetCardData:
    """Hub metadata: licence, task tags, size, and configs with their data files per split."""
    build = stats["build"]
    written = build["configs_written"]
    default = "all" if "all" in written else written[0]
    configs = []
    for config in written:
        entry: dict[str, Any] = {"config_name": config}
        if config == default:
            entry["default"] = True
        entry["data_files"] = [
            {"split": split, "path": f"{config}/{split}-*.parquet"} for split in build["files"][config]
        ]
        configs.append(entry)
    if build.get("books_files"):  # one row per book (dataset_builders.books)
        paths = [{"split": split, "path": f"books/{split}-*.parquet"} for split in build["books_files"]]
        configs.append({"config_name": "books", "data_files": paths})
    return DatasetCardData(
        license=license,
        pretty_name=pretty_name,
        task_categories=["object-detection", "image-to-text"],
        tags=["comics", "manga", "document-layout", "ocr", "dataspec"],
        size_categories=[size_category(stats["collection"]["pages"])],
        configs=configs,
    )


def read_front_matter(card: str | Path) -> dict[str, Any]:
    """The YAML front matter of a card (text or file), parsed by ``huggingface_hub.RepoCard``;
    raises ValueError when it is absent or invalid."""
    text = Path(card).read_text(encoding="utf-8") if isinstance(card, Path) else card
    if not text.startswith("---\n"):
        raise ValueError("the dataset card has no YAML front matter (it must start with '---')")
    if text.find("\n---\n", 3) < 0 and not text.rstrip().endswith("\n---"):
        raise ValueError("the dataset card's YAML front matter is not closed by '---'")
    try:
        data = RepoCard(text).data.to_dict()
    except (ValueError, yaml.YAMLError) as exc:
        raise ValueError(f"the dataset card's YAML front matter is invalid: {exc}") from None
    return data


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _books_text(books: dict[str, Any] | None) -> str:
    """The card's books paragraph from ``stats["books"]`` (dataset_builders.books.books_stats)."""
    if not books:
        return "No books table in this folder."
    rows = [
        ["books", books["books"], "-"],
        *[[f"with {k[5:]}", v, _share(v, books["books"])] for k, v in books.items() if k.startswith("with_")],
        *[[f"metadata from {k}", v, _share(v, books["books"])] for k, v in books["metadata_sources"].items()],
    ]
    return (
        "The `books` config has one row per book (title, series, credits, publisher, date, languages, "
        "genres, tags, with the source of each value; fields below).\n\n"
        + md_table(["measure", "books", "share"], rows)
    )


def render_dataset_card(stats: dict[str, Any], license: str, pretty_name: str) -> str:
    """The comic_pages card (``model_cards/dataset_card.md``) from :func:`collection_stats` output
    plus the ``build`` section :func:`export_comic_pages` adds."""
    c, build = stats["collection"], stats["build"]
    configs = stats["configs"]
    split_names = ["train", "validation", "test"]
    config_rows = []
    for name, info in configs.items():
        splits = info["splits"]
        config_rows.append(
            [
                f"`{name}`" + ("" if name in build["configs_written"] else " (not in this folder)"),
                info["pages"],
                _share(info["pages"], c["pages"]),
                info["books"],
                *[splits.get(s, {}).get("pages", 0) for s in split_names],
            ]
        )
    not_written = [n for n in configs if n not in build["configs_written"]]
    written = f"This folder holds the configs {', '.join(f'`{n}`' for n in build['configs_written'])}" + (
        f"; {', '.join(f'`{n}`' for n in not_written)} are counted but were not written."
        if not_written
        else "."
    )
    overview = [
        ["pages", c["pages"]],
        ["books", c["books"]],
        ["source containers", c["source_containers"]],
        ["panels", c["panels"]],
        ["panels per page (mean)", round(c["panels"] / c["pages"], 4) if c["pages"] else 0.0],
        ["text boxes", c["text_boxes"]],
        ["character boxes", c["characters"]],
    ]
    histogram = [[n, count, _share(count, c["pages"])] for n, count in c["panels_per_page"].items()]
    text_rows = [
        ["pages with lettered text", c["pages_with_text"], _share(c["pages_with_text"], c["pages"])],
        ["panels with lettered text", c["panels_with_text"], _share(c["panels_with_text"], c["panels"])],
        *[[f"text boxes: {k}", v, _share(v, c["text_boxes"])] for k, v in c["text_boxes_by_kind"].items()],
        *[
            [f"text boxes from {k}", v, _share(v, c["text_boxes"])]
            for k, v in c["text_boxes_by_source"].items()
        ],
    ]
    provenance = [
        [field, value, count, _share(count, c["pages"])]
        for field, counts in c["provenance"].items()
        for value, count in counts.items()
    ]
    created = c["created_utc"]
    provenance_table = md_table(["field", "value", "pages", "share"], provenance)
    if created:
        provenance_table += f"\n\nPages annotated between {created[0]} and {created[1]} (UTC)."
    values = {
        "pretty_name": pretty_name,
        "tool": build["tool"],
        "created": build["created_utc"],
        "min_iou": stats["min_iou"],
        "ocr_fallback": (
            "A panel the VLM skipped keeps the lettering OCR read in it (text items with source `ocr`)."
            if stats.get("ocr_fallback", True)
            else "Every lettered panel's text is the VLM's (built with --no-ocr-fallback)."
        ),
        "ratios": " / ".join(f"{r:g}" for r in stats["split_ratios"]),
        "written": written,
        "example_config": "aligned" if "aligned" in build["configs_written"] else build["configs_written"][0],
        "pages": f"{c['pages']:,}",
        "configs_table": md_table(["config", "pages", "share", "books", *split_names], config_rows),
        "overview_table": md_table(["measure", "count"], overview),
        "histogram_table": md_table(["panels", "pages", "share"], histogram),
        "text_table": md_table(["measure", "count", "share"], text_rows),
        "page_types_table": md_table(
            ["page type", "pages", "share"],
            [[k, v, _share(v, c["pages"])] for k, v in c["page_types"].items()],
        ),
        "direction_table": md_table(
            ["direction", "pages", "share"],
            [[k, v, _share(v, c["pages"])] for k, v in c["reading_direction"].items()],
        ),
        "provenance_table": provenance_table,
        "books_text": _books_text(stats.get("books")),
        "license_text": f"`{license}`. " + LICENSE_TEXT.get(license, ""),
    }
    return render_card(DatasetCard, card_data(stats, license, pretty_name), "dataset_card.md", **values)


def benchmark_card(
    name: str,
    info,
    shards: dict[str, list[str]],
    rows: dict[str, int],
    statistics: str = "",
    tool: str = "",
    created: str = "",
) -> str:
    """The card of an exported benchmark dataset (``dataset_builders.export``): its description,
    licence and citation from the builder's ``DatasetInfo``, rows per split, extra statistics."""
    data = DatasetCardData(
        license="other",
        license_name=info.license or "see source",
        pretty_name=name,
        size_categories=[size_category(sum(rows.values()))],
        configs=[
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": files} for split, files in shards.items()],
            }
        ],
    )
    return render_card(
        DatasetCard,
        data,
        "benchmark_card.md",
        title=name,
        name=name,
        description=(info.description or "").strip(),
        homepage=info.homepage or "-",
        license=info.license or "see source",
        tool=tool,
        created=created,
        splits_table=md_table(["split", "rows"], [[split, n] for split, n in rows.items()]),
        statistics=statistics,
        citation=(info.citation or "").strip(),
    )
