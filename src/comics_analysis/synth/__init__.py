"""Procedural comic pages and books with exact ground truth (DataSpec v1), for tests and demos."""

from .book import (
    BOOK_KINDS,
    DEFAULT_SIZE,
    FORMATS,
    BookMeta,
    BookSummary,
    SynthBook,
    SynthPage,
    comic_info_xml,
    encode_image,
    make_book,
    make_library,
    make_page,
    plan_book,
    write_cbz,
    write_pdf,
)
from .draw import PAPERS, age_paper
from .layout import LAYOUTS, PanelSpec, make_layout
from .pages import GUTTERS, PAGE_KINDS

__all__ = [
    "BOOK_KINDS",
    "DEFAULT_SIZE",
    "FORMATS",
    "GUTTERS",
    "LAYOUTS",
    "PAGE_KINDS",
    "PAPERS",
    "BookMeta",
    "BookSummary",
    "PanelSpec",
    "SynthBook",
    "SynthPage",
    "age_paper",
    "comic_info_xml",
    "encode_image",
    "make_book",
    "make_layout",
    "make_library",
    "make_page",
    "plan_book",
    "write_cbz",
    "write_pdf",
]
