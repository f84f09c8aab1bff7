"""Validation of comic metadata files against their published XML schemas (XSD), with lxml.

The schemas (ComicInfo v2.0 and the v2.1 draft from anansi-project/comicinfo, ACBF 1.1 from
libacbf) are not shipped with the package: :func:`schemas_dir` finds them in the folder that
``COMICS_ANALYSIS_SCHEMAS`` names (the files under their published names, :data:`SCHEMA_FILES`).
Without that folder, or without lxml (a ``dev`` dependency), nothing is validated and
:func:`schema_problems` answers None; readers go on either way: a file that does not validate is
still read where possible, and its problems are warnings naming the file and the field.

Documents reach lxml only after defusedxml accepted them (no DTD, no entities), and lxml parses
them with entity resolution, DTD loading and network access off.
"""

from __future__ import annotations

import logging
import os
import re
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

ENV = "COMICS_ANALYSIS_SCHEMAS"
SCHEMA_FILES = {
    "acbf-1.1": "acbf-1.1.xsd",
    "comicinfo-2.0": "ComicInfo-v2.0.xsd",
    "comicinfo-2.1": "ComicInfo-v2.1-draft.xsd",
}
MAX_PROBLEMS = 20  # per document: the first ones say what is wrong


def schemas_dir() -> Path | None:
    """The folder named by ``COMICS_ANALYSIS_SCHEMAS`` when it exists, else None."""
    value = os.environ.get(ENV)
    return Path(value) if value and Path(value).is_dir() else None


def _parser():
    from lxml import etree  # lazy: lxml is optional (validation only)

    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False, remove_comments=True
    )


@lru_cache(maxsize=8)
def _schema(path: str):
    from lxml import etree  # lazy: lxml is optional (validation only)

    return etree.XMLSchema(etree.parse(path, _parser()))


def load_schema(name: str, folder: str | Path | None = None):
    """The ``lxml.etree.XMLSchema`` called ``name`` (a key of :data:`SCHEMA_FILES`); None when
    lxml or the schema file is missing."""
    folder = Path(folder) if folder is not None else schemas_dir()
    if folder is None or name not in SCHEMA_FILES or not (folder / SCHEMA_FILES[name]).is_file():
        return None
    try:
        return _schema(str((folder / SCHEMA_FILES[name]).resolve()))
    except ImportError:
        return None


def schema_problems(
    data: bytes, name: str, folder: str | Path | None = None, strip_namespaces: bool = False
) -> list[str] | None:
    """Why ``data`` does not validate against schema ``name``: ``line N: /path/of/element: message``
    for each problem (at most :data:`MAX_PROBLEMS`; [] when it validates); None when it could not
    be checked (no lxml, no schema folder or file). ``strip_namespaces`` checks the document with
    its elements' namespaces removed (ComicInfo's schemas have none; namespaced files are common)."""
    schema = load_schema(name, folder)
    if schema is None:
        return None
    from lxml import etree  # lazy: lxml is optional (validation only)

    try:
        document = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"]
    if strip_namespaces:
        for element in document.iter():
            if isinstance(element.tag, str) and element.tag.startswith("{"):
                element.tag = etree.QName(element).localname
        etree.cleanup_namespaces(document)
    if schema.validate(document):
        return []
    return [
        f"line {e.line}: {_readable_path(document, e.path)}: {re.sub(r'{[^}]*}', '', e.message)}"
        for e in list(schema.error_log)[:MAX_PROBLEMS]
    ]


def _readable_path(document, path: str | None) -> str:
    """``/ACBF/meta-data/book-info/genre[2]`` for lxml's ``/*/*[1]/*[1]/*[3]`` (what it writes
    for namespaced documents): local names, a position only among same-named siblings."""
    try:
        found = document.getroottree().xpath(path) if path else []
    except Exception:  # an expression lxml cannot evaluate back: its own path then
        found = []
    if len(found) != 1 or not hasattr(found[0], "tag"):
        return path or "?"
    from lxml import etree  # lazy: lxml is optional (validation only)

    parts = []
    element = found[0]
    while element is not None:
        name = etree.QName(element).localname
        parent = element.getparent()
        same = (
            [e for e in parent if isinstance(e.tag, str) and etree.QName(e).localname == name]
            if parent is not None
            else [element]
        )
        parts.append(name if len(same) == 1 else f"{name}[{same.index(element) + 1}]")
        element = parent
    return "/" + "/".join(reversed(parts))


def warn_invalid(
    data: bytes, name: str, source: str, folder: str | Path | None = None, strip_namespaces: bool = False
) -> list[str]:
    """Log one warning per schema problem of ``data`` (naming ``source``, the line and the element);
    returns the problems ([] when valid or not checked)."""
    problems = schema_problems(data, name, folder, strip_namespaces) or []
    for problem in problems:
        log.warning("%s: does not validate against %s (%s); read anyway", source, SCHEMA_FILES[name], problem)
    return problems
