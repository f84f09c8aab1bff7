import shutil

import pytest

from comics_analysis.dataspec import book_id_for_file, make_book_id, make_page_id, parse_page_id, slugify


@pytest.mark.parametrize(
    ("stem", "slug"),
    [
        ("Spider-Man 001 (1990)", "spider-man-001-1990"),
        ("  Astérix & Obélix  ", "asterix-obelix"),
        ("綴じ眼のシオラ", "book"),
        ("___", "book"),
        ("a" * 100, "a" * 60),
    ],
)
def test_slugify(stem, slug):
    assert slugify(stem) == slug


def test_book_and_page_ids():
    digest = "0123456789abcdef" * 4
    book = make_book_id("My Comic #3", digest)
    assert book == "my-comic-3-01234567"
    assert make_page_id(book, 7) == "my-comic-3-01234567/p0007"
    assert parse_page_id("my-comic-3-01234567/p0007") == (book, 7)
    assert parse_page_id(make_page_id(book, 12345)) == (book, 12345)
    with pytest.raises(ValueError, match="hex"):
        make_book_id("x", "not-a-digest")
    with pytest.raises(ValueError, match="canonical"):
        parse_page_id("my-comic/7")
    with pytest.raises(ValueError, match=">= 0"):
        make_page_id(book, -1)


def test_book_id_survives_moving_the_file_but_not_changing_it(tmp_path):
    first = tmp_path / "a" / "Comic 1.cbz"
    first.parent.mkdir()
    first.write_bytes(b"PK fake bytes")
    moved = tmp_path / "b" / "c" / "Comic 1.cbz"
    moved.parent.mkdir(parents=True)
    shutil.copy(first, moved)
    assert book_id_for_file(first) == book_id_for_file(moved)
    moved.write_bytes(b"PK other bytes")
    assert book_id_for_file(first) != book_id_for_file(moved)
    assert book_id_for_file(first).startswith("comic-1-")
