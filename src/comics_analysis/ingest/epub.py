"""EPUB: a zip of XHTML documents and images. Pages follow the spine; each spine document
contributes the images it references (``<img src>``, SVG ``<image href>``), in document order.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

from defusedxml import ElementTree

from .base import ContainerError, Limits, RawPage
from .cbz import CbzBook
from .entries import Entry, Skipped, plan_pages, skip_reason, unsafe_reason

_IMAGE_TYPES = ("image/",)


class _ImageRefs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.refs: list[str] = []

    def handle_starttag(self, tag, attrs):
        values = dict(attrs)
        if tag == "img" and values.get("src"):
            self.refs.append(values["src"])
        elif tag == "image":
            ref = values.get("xlink:href") or values.get("href")
            if ref:
                self.refs.append(ref)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _resolve(base_dir: str, ref: str) -> str | None:
    parts = urlsplit(ref)
    if parts.scheme or parts.netloc:
        return None
    return posixpath.normpath(posixpath.join(base_dir, unquote(parts.path)))


class EpubBook(CbzBook):
    def __init__(self, path: Path, limits: Limits | None = None):
        super().__init__(path, limits)
        self.format = "epub"

    def _xml(self, name: str):
        self.clock.begin(name)
        try:
            return ElementTree.fromstring(self.read_entry(Entry(name, self.infos[name].file_size)))
        except ContainerError:
            raise
        except KeyError:
            raise ContainerError("unreadable", f"EPUB lacks {name}") from None
        except Exception as exc:
            raise ContainerError("unreadable", f"EPUB {name} is not valid XML: {exc}") from None

    def spine_images(self) -> list[str]:
        """Image entry names in spine order (duplicates dropped: a cover may be referenced twice)."""
        container = self._xml("META-INF/container.xml")
        rootfile = next(
            (el.get("full-path") for el in container.iter() if _local(el.tag) == "rootfile"), None
        )
        if not rootfile:
            raise ContainerError("unreadable", "EPUB container.xml names no rootfile")
        opf = self._xml(rootfile)
        opf_dir = posixpath.dirname(rootfile)
        manifest = {}
        for el in opf.iter():
            if _local(el.tag) == "title" and (el.text or "").strip():
                self.metadata.setdefault("title", el.text.strip())  # dc:title
            if _local(el.tag) == "item" and el.get("id") and el.get("href"):
                manifest[el.get("id")] = (_resolve(opf_dir, el.get("href")), el.get("media-type", ""))
        order: list[str] = []
        for el in opf.iter():
            if _local(el.tag) != "itemref" or el.get("idref") not in manifest:
                continue
            href, media = manifest[el.get("idref")]
            if href is None or href not in self.infos:
                continue
            if media.startswith(_IMAGE_TYPES):
                order.append(href)
                continue
            parser = _ImageRefs()
            raw = self.read_entry(Entry(href, self.infos[href].file_size))
            parser.feed(raw.decode("utf-8", errors="replace"))
            base = posixpath.dirname(href)
            order.extend(ref for ref in (_resolve(base, r) for r in parser.refs) if ref)
        seen: set[str] = set()
        pages = []
        for name in order:
            if name in seen or name not in self.infos:
                continue
            seen.add(name)
            pages.append(name)
        return pages

    def pages(self) -> Iterator[RawPage]:
        entries = {e.name: e for e in self.list_entries()}
        names = self.spine_images()
        if not names:  # no usable spine: fall back to every image in natural order
            plan = plan_pages(list(entries.values()))
            self.skipped.extend(plan.skipped)
            names = [e.name for e in plan.pages]
        if not names:
            raise ContainerError("empty", "EPUB references no page images")
        for name in names:
            entry = entries[name]
            if unsafe_reason(name) or entry.kind != "file" or skip_reason(name) == "not an image":
                self.skipped.append(self._skip(name, entry))
                continue
            yield self.read_page(entry)

    @staticmethod
    def _skip(name: str, entry: Entry) -> Skipped:
        reason = unsafe_reason(name) or ("not an image" if entry.kind == "file" else f"{entry.kind} entry")
        return Skipped(name, "not_a_page", f"spine reference skipped: {reason}")
