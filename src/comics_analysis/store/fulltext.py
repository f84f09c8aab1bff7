"""Full-text search over a store's lettering: find the panel where someone says a line.

The index is one SQLite file, ``STORE/fulltext.sqlite`` (stdlib ``sqlite3``, FTS5 with the
``trigram`` tokenizer), one row per panel: page_id, panel (-1: page-level text outside any
panel), the kinds of its lines and its text (the lines in order, joined by newlines). What is
indexed is the text *normalised* (:func:`normalise`: lower case, accents and apostrophes
dropped, other punctuation a space, the OCR confusions 1/| -> i and 0 -> o folded); the query
is normalised the same way. Built by :func:`build_fulltext` (``comics-analysis store index
--level text``): into a temporary file renamed over the old one, so readers never see half an
index; a re-run adds the chunks finished since and drops chunks no longer finished (resumable).

Three modes (:meth:`FulltextIndex.search`):

* ``fuzzy`` (default): candidates are the panels holding two of the query's rarest words (a
  second, word-level FTS5 table) or two of its rarest trigrams (FTS5 ANDs: cheap), each set
  ranked by bm25, then re-ranked by rapidfuzz ``partial_ratio`` (the best-matching stretch of
  the panel text; ``ratio`` for a panel shorter than the quote) against the query; robust to
  a dropped or swapped letter, I/1, a missing apostrophe. Score in
  [0, 1]; hits under ``min_score`` are dropped, so a quote that is nowhere gives no hits.
* ``phrase``: the normalised quote as a substring (FTS5 phrase of consecutive trigrams), bm25.
* ``words``: every word of 3+ letters somewhere in the panel, in any order, bm25.

:func:`search_quote` returns :class:`~.search.Hit` s (with bbox and the panel's text); with
``hybrid`` it fuses the lexical ranking with an embedding search (a query vector, or the
Closure Lite ``model`` embedding the quote) by reciprocal rank fusion.
"""

from __future__ import annotations

import logging
import os
import re
import sqlite3
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from .layout import TEXT_DIR
from .reader import EmbeddingStore
from .search import Hit, StoreSearch, search_store

log = logging.getLogger(__name__)

FULLTEXT_FILE = "fulltext.sqlite"
FULLTEXT_SCHEMA = "2"
MODES = ("fuzzy", "phrase", "words")
RRF_K = 60  # reciprocal rank fusion constant (Cormack et al. 2009)

_FOLD = str.maketrans({"1": "i", "|": "i", "0": "o", "’": "", "'": "", "`": "", "´": ""})
_NON_WORD = re.compile(r"[^\w]+|_")


def normalise(text: str) -> str:
    """What is indexed and queried: NFKD without accents, lower case, apostrophes removed
    (``can't`` -> ``cant``), I/1/| and O/0 folded, other punctuation and runs of space -> one
    space."""
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text)
        text = "".join(c for c in text if not unicodedata.combining(c))
    text = text.lower().translate(_FOLD)
    return _NON_WORD.sub(" ", text).strip()


def trigrams(text: str) -> list[str]:
    """The distinct trigrams of a normalised text, as FTS5's trigram tokenizer makes them."""
    return list(dict.fromkeys(text[i : i + 3] for i in range(len(text) - 2)))


def _quoted(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


class FulltextMissing(FileNotFoundError):
    """The store has no full-text index (the message names the command that builds it)."""


@dataclass
class FulltextBuild:
    path: Path
    panels: int  # rows in the index after the build
    added_chunks: list[int]
    removed_chunks: list[int]
    seconds: float
    bytes: int

    @property
    def up_to_date(self) -> bool:
        return not self.added_chunks and not self.removed_chunks


_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;
CREATE TABLE panels(id INTEGER PRIMARY KEY, page_id TEXT NOT NULL, panel INTEGER NOT NULL,
                    kinds TEXT NOT NULL, text TEXT NOT NULL, chunk INTEGER NOT NULL);
CREATE INDEX panels_chunk ON panels(chunk);
CREATE VIRTUAL TABLE fts USING fts5(norm, content='', tokenize='trigram', detail='full');
CREATE VIRTUAL TABLE words USING fts5(norm, content='', tokenize='unicode61', detail='column');
CREATE TABLE grams(term TEXT PRIMARY KEY, doc INTEGER NOT NULL) WITHOUT ROWID;
CREATE TABLE terms(term TEXT PRIMARY KEY, doc INTEGER NOT NULL) WITHOUT ROWID;
"""


def write_rows(con: sqlite3.Connection, rows: Iterable[tuple[str, int, str, str, int]]) -> int:
    """Insert (page_id, panel, kinds, text, chunk) rows into an open index; returns the count."""
    cur = con.execute("SELECT coalesce(max(id), 0) FROM panels")
    next_id = cur.fetchone()[0] + 1
    n = 0
    batch_p, batch_f = [], []

    def flush() -> None:
        con.executemany("INSERT INTO panels VALUES (?, ?, ?, ?, ?, ?)", batch_p)
        con.executemany("INSERT INTO fts(rowid, norm) VALUES (?, ?)", batch_f)
        con.executemany("INSERT INTO words(rowid, norm) VALUES (?, ?)", batch_f)
        batch_p.clear()
        batch_f.clear()

    for page_id, panel, kinds, text, chunk in rows:
        batch_p.append((next_id, page_id, int(panel), kinds, text, int(chunk)))
        batch_f.append((next_id, normalise(text)))
        next_id += 1
        n += 1
        if len(batch_p) >= 50_000:
            flush()
    flush()
    return n


def finish_index(con: sqlite3.Connection, meta: dict[str, Any]) -> None:
    """Recount trigram document frequencies, merge the FTS segments, write ``meta``, commit."""
    for table, counts in (("fts", "grams"), ("words", "terms")):
        con.execute(f"DELETE FROM {counts}")
        con.execute(f"CREATE VIRTUAL TABLE temp.vocab USING fts5vocab(main, {table}, row)")
        con.execute(f"INSERT INTO {counts} SELECT term, doc FROM temp.vocab")
        con.execute("DROP TABLE temp.vocab")
        con.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")
    con.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", [(k, str(v)) for k, v in meta.items()])
    con.commit()


def create_index(path: Path) -> sqlite3.Connection:
    con = sqlite3.connect(path)
    con.executescript("PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;" + _SCHEMA)
    return con


def _panel_rows(store: EmbeddingStore, chunks: Sequence[int]):
    """(page_id, panel, kinds, text, chunk) per panel with text, for the pages of ``chunks``."""
    import pyarrow.parquet as pq

    for chunk in chunks:
        table = pq.read_table(store.path / TEXT_DIR / f"chunk-{chunk:06d}.parquet").to_pydict()
        lines: dict[tuple[str, int], list[tuple[int, str, str]]] = {}
        for pid, panel, kind, order, text in zip(
            table["page_id"], table["panel"], table["kind"], table["order"], table["text"]
        ):
            if text and text.strip():
                lines.setdefault((pid, int(panel)), []).append((int(order), kind or "", text))
        for (pid, panel), items in lines.items():
            items.sort(key=lambda t: t[0])
            kinds = ",".join(sorted({k for _o, k, _t in items if k}))
            yield pid, panel, kinds, "\n".join(t for _o, _k, t in items), chunk


def fulltext_path(store: str | Path | EmbeddingStore) -> Path:
    root = store.path if isinstance(store, EmbeddingStore) else Path(store)
    return root / FULLTEXT_FILE


def _read_meta(path: Path) -> dict[str, str]:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()


def _store_meta(store: EmbeddingStore) -> dict[str, str]:
    return {
        "schema": FULLTEXT_SCHEMA,
        "plan_hash": str(store.attrs["plan_hash"]),
        "config_hash": str(store.attrs["config_hash"]),
    }


def build_fulltext(store: str | Path | EmbeddingStore, rebuild: bool = False) -> FulltextBuild:
    """Build or update ``STORE/fulltext.sqlite`` from the store's text tables.

    Only finished chunks are indexed. A re-run copies the current index, drops the rows of
    chunks no longer finished, adds the chunks finished since, and renames the result over the
    old file (nothing to do: the file is left alone). ``rebuild`` (or an index made for another
    row plan or settings) starts from empty.
    """
    import shutil

    start = time.perf_counter()
    st = store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
    path = fulltext_path(st)
    want = _store_meta(st)
    done: set[int] = set()
    if path.is_file() and not rebuild:
        try:
            meta = _read_meta(path)
        except sqlite3.DatabaseError as exc:
            log.warning("%s: unreadable (%s); rebuilding it", path, exc)
            meta = {}
        if all(meta.get(k) == v for k, v in want.items()):
            done = {int(c) for c in meta.get("chunks", "").split(",") if c}
    finished = set(st.finished)
    add, remove = sorted(finished - done), sorted(done - finished)
    if path.is_file() and done and not add and not remove:
        return FulltextBuild(path, _count(path), [], [], time.perf_counter() - start, path.stat().st_size)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    try:
        if done:
            shutil.copyfile(path, tmp)
            con = sqlite3.connect(tmp)
            con.execute("PRAGMA journal_mode=OFF")
            for chunk in remove:
                gone = con.execute("SELECT id, text FROM panels WHERE chunk = ?", (chunk,)).fetchall()
                for rowid, text in gone:
                    for table in ("fts", "words"):
                        con.execute(
                            f"INSERT INTO {table}({table}, rowid, norm) VALUES ('delete', ?, ?)",
                            (rowid, normalise(text)),
                        )
                con.execute("DELETE FROM panels WHERE chunk = ?", (chunk,))
        else:
            con = create_index(tmp)
        write_rows(con, _panel_rows(st, add))
        chunks = ",".join(str(c) for c in sorted(finished))
        finish_index(con, {**want, "chunks": chunks, "built_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ")})
        con.close()
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return FulltextBuild(path, _count(path), add, remove, time.perf_counter() - start, path.stat().st_size)


def _count(path: Path) -> int:
    con = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM panels").fetchone()[0])
    finally:
        con.close()


@dataclass
class QuoteMatch:
    """One panel found by the index alone (no store needed): what :func:`search_quote` turns
    into a :class:`Hit`."""

    page_id: str
    panel: int  # -1: page-level text
    kinds: str
    text: str
    score: float


class FulltextIndex:
    """An open ``fulltext.sqlite`` (read-only); keep one for many queries."""

    def __init__(
        self, path: str | Path, candidates: int = 200, max_postings: int = 10_000, gram_pairs: int = 6
    ):
        """Fuzzy candidates (see :meth:`_fuzzy_candidates`): ``candidates`` panels per source;
        pairs of the 5 rarest words and of the ``gram_pairs`` rarest trigrams, leaving out words
        in more than 4 x ``max_postings`` panels (trigrams: 2 x); these bound a query's time."""
        self.path = Path(path)
        if not self.path.is_file():
            raise FulltextMissing(f"{self.path}: no full-text index")
        self.con = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        self.meta = dict(self.con.execute("SELECT key, value FROM meta").fetchall())
        self.candidates = candidates
        self.max_postings = max_postings
        self.gram_pairs = gram_pairs

    def __len__(self) -> int:
        return int(self.con.execute("SELECT count(*) FROM panels").fetchone()[0])

    def close(self) -> None:
        self.con.close()

    def _match(self, expression: str, limit: int, table: str = "fts") -> list[tuple[int, float]]:
        sql = f"SELECT rowid, rank FROM {table} WHERE {table} MATCH ? ORDER BY rank LIMIT ?"
        return [(int(r), -float(s)) for r, s in self.con.execute(sql, (expression, limit))]

    def _rows(self, ids: Sequence[int]) -> dict[int, tuple[str, int, str, str]]:
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        sql = f"SELECT id, page_id, panel, kinds, text FROM panels WHERE id IN ({marks})"
        return {r[0]: r[1:] for r in self.con.execute(sql, list(ids))}

    def _counts(self, counts: str, terms: list[str]) -> list[tuple[str, int]]:
        """(term, documents) of the ``terms`` in the index, rarest first."""
        if not terms:
            return []
        marks = ",".join("?" * len(terms))
        found = self.con.execute(f"SELECT term, doc FROM {counts} WHERE term IN ({marks})", terms).fetchall()
        return sorted(found, key=lambda t: (t[1], t[0]))

    def _rarest(self, table: str, found: list[tuple[str, int]], budget: int) -> list[int]:
        """Rows with the rarest terms, ranked by bm25: terms are taken rarest first while their
        document counts add up to at most ``budget`` (the rarest alone up to 3 x ``budget``),
        which bounds the time of the query."""
        chosen, total = [], 0
        for term, doc in found:
            if total + doc > (budget if chosen else 3 * budget):
                break
            chosen.append(term)
            total += doc
        if not chosen:
            return []
        return [i for i, _s in self._match(" OR ".join(_quoted(t) for t in chosen), self.candidates, table)]

    def _pairs(self, table: str, found: list[tuple[str, int]], most: int, cap: int) -> list[int]:
        """Rows with at least two of the ``most`` rarest terms in at most ``cap`` rows each
        (ANDs are cheap in FTS5: the shorter list drives, the longer one is skipped through),
        ranked by bm25."""
        terms = [_quoted(t) for t, d in found[:most] if d <= cap]
        if len(terms) < 2:
            return []
        pairs = [f"({a} AND {b})" for j, a in enumerate(terms) for b in terms[j + 1 :]]
        return [i for i, _s in self._match(" OR ".join(pairs), self.candidates, table)]

    def _fuzzy_candidates(self, query: str) -> list[int]:
        """Panels with two of the query's 5 rarest whole words, and panels with two of its
        rarest trigrams (a misread word is simply not in the vocabulary; the trigrams of the
        words around a misreading, or of its intact part, still match). Without any: panels
        with its rarest words or trigrams; a quote of very common words only: its exact phrase."""
        words = self._counts("terms", list(dict.fromkeys(query.split())))
        grams = self._counts("grams", trigrams(query))
        cap = 4 * self.max_postings
        found = self._pairs("words", words, 5, cap) + self._pairs("fts", grams, self.gram_pairs, cap // 2)
        found = list(dict.fromkeys(found))
        if not found:
            found = self._rarest("words", words, self.max_postings) or self._rarest(
                "fts", grams, self.max_postings // 2
            )
        return found or [i for i, _s in self._match(_quoted(query), self.candidates)]

    def search(
        self, quote: str, k: int = 10, mode: str = "fuzzy", min_score: float = 0.6
    ) -> list[QuoteMatch]:
        """The ``k`` best panels for ``quote`` (see the module docstring for the modes)."""
        from rapidfuzz import fuzz

        if mode not in MODES:
            raise ValueError(f"mode must be one of {', '.join(MODES)}, got {mode!r}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        query = normalise(quote)
        if len(query) < 3:
            raise ValueError(f"a quote needs at least 3 letters or digits, got {quote!r}")
        if mode == "phrase":
            ranked = self._match(_quoted(query), k)
        elif mode == "words":
            words = [w for w in query.split() if len(w) >= 3]
            if not words:
                raise ValueError(f"words mode needs a word of 3+ letters, got {quote!r}")
            ranked = self._match(" AND ".join(_quoted(w) for w in dict.fromkeys(words)), k)
        else:
            ids = self._fuzzy_candidates(query)
            rows = self._rows(ids)
            scored = []
            for i in ids:
                norm = normalise(rows[i][3])
                whole = fuzz.ratio(query, norm) / 100
                # the best stretch of a longer panel; a shorter panel must match as a whole
                score = fuzz.partial_ratio(query, norm) / 100 if len(norm) > len(query) else whole
                if score >= min_score:  # ties: the panel closest to being just the quote
                    scored.append((score, whole, i))
            scored.sort(key=lambda t: (-t[0], -t[1], t[2]))
            ranked = [(i, s) for s, _r, i in scored[:k]]
        rows = self._rows([i for i, _s in ranked])
        return [QuoteMatch(*rows[i], score=s) for i, s in ranked]


def open_fulltext(store: str | Path | EmbeddingStore) -> FulltextIndex:
    """The store's full-text index; a store without one raises naming the command to build it."""
    path = fulltext_path(store)
    if not path.is_file():
        root = path.parent
        raise FulltextMissing(
            f"{root}: this store has no full-text index ({FULLTEXT_FILE}); build it with "
            f"`comics-analysis store index {root} --level text` (or comics_analysis.store.build_fulltext)"
        )
    return FulltextIndex(path)


def _hit(st: EmbeddingStore, m: QuoteMatch, score: float) -> Hit:
    pos = st.locate(m.page_id)
    slot = None if m.panel < 0 else m.panel
    bbox = None
    if slot is not None and slot < st.panels and st.panel_mask[pos, slot]:
        bbox = tuple(float(v) for v in st.panel_bbox[pos, slot])
    return Hit(
        page_id=m.page_id,
        book_id=st.book_ids[pos],
        page_index=int(st.page_index[pos]),
        page_type=st.page_types[pos] or None,
        panel=slot,
        bbox=bbox,
        score=score,
        text=m.text.split("\n"),
    )


def rrf(rankings: Sequence[Sequence[Any]], k: int = RRF_K) -> list[tuple[Any, float]]:
    """Reciprocal rank fusion: each key scores sum(1 / (k + rank)) over the rankings it is in."""
    scores: dict[Any, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking, start=1):
            scores[key] = scores.get(key, 0.0) + 1.0 / (k + rank)
    return sorted(scores.items(), key=lambda t: -t[1])


def search_quote(
    store: str | Path | EmbeddingStore | StoreSearch,
    quote: str,
    *,
    k: int = 10,
    mode: str = "fuzzy",
    min_score: float = 0.6,
    book_id: Sequence[str] | str | None = None,
    page_type: Sequence[str] | str | None = None,
    hybrid: bool = False,
    vector: np.ndarray | None = None,
    model: str | Path | None = None,
    index: FulltextIndex | None = None,
    depth: int = 50,
) -> list[Hit]:
    """Panels where ``quote`` is said (see the module docstring). ``book_id`` / ``page_type``
    filter the hits (among the ``depth`` best lexical matches). ``hybrid``: fuse the lexical
    ranking with the embedding search of ``vector`` (or of the quote embedded by ``model``) at
    panel level, both ``depth`` deep, by reciprocal rank fusion; the score is then the RRF score."""
    searcher = store if isinstance(store, StoreSearch) else None
    st = searcher.store if searcher else store if isinstance(store, EmbeddingStore) else EmbeddingStore(store)
    index = index or open_fulltext(st)
    stale = [k for k, v in _store_meta(st).items() if index.meta.get(k) != v]
    if stale or index.meta.get("chunks") != ",".join(str(c) for c in st.finished):
        raise ValueError(
            f"{index.path}: built for another state of the store ({', '.join(stale) or 'finished chunks'} "
            f"differ); update it with `comics-analysis store index {st.path} --level text`"
        )
    books = {book_id} if isinstance(book_id, str) else set(book_id or [])
    types = {page_type} if isinstance(page_type, str) else set(page_type or [])
    deep = max(k, depth) if (hybrid or books or types) else k
    hits = [_hit(st, m, m.score) for m in index.search(quote, deep, mode=mode, min_score=min_score)]
    hits = [h for h in hits if (not books or h.book_id in books) and (not types or h.page_type in types)]
    if not hybrid:
        return hits[:k]
    if vector is None and model is None:
        raise ValueError("hybrid search needs a query vector or the Closure Lite model to embed the quote")
    dense = search_store(
        searcher or st,
        vector=vector,
        text=quote if vector is None else None,
        model=model,
        k=depth,
        level="panel",
        book_id=book_id,
        page_type=page_type,
    )
    by_key = {(h.page_id, h.panel): h for h in dense}
    by_key.update({(h.page_id, h.panel): h for h in hits})
    fused = rrf([[(h.page_id, h.panel) for h in hits], [(h.page_id, h.panel) for h in dense]])
    out = []
    for key, score in fused[:k]:
        out.append(replace(by_key[key], score=score))
    return out
