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
from .hard import HARD_KINDS, HardPage, make_hard_page
from .layout import LAYOUTS, PanelSpec, make_layout
from .pages import GUTTERS, PAGE_KINDS

__all__ = [
    "BOOK_KINDS",
    "DEFAULT_SIZE",
    "FORMATS",
    "GUTTERS",
    "HARD_KINDS",
    "LAYOUTS",
    "PAGE_KINDS",
    "PAPERS",
    "BookMeta",
    "BookSummary",
    "HardPage",
    "PanelSpec",
    "SynthBook",
    "SynthPage",
    "age_paper",
    "comic_info_xml",
    "encode_image",
    "make_book",
    "make_hard_page",
    "make_layout",
    "make_library",
    "make_page",
    "plan_book",
    "write_cbz",
    "write_pdf",
]
