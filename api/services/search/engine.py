"""How each database keeps and matches the search documents' tokens (migration 0015 makes the tables).

SQLite: an FTS5 table `search_index` (stems, words) whose rowid is the document's id, ranked by bm25.
PostgreSQL: a `terms` tsvector in search_documents with a GIN index, ranked by ts_rank. Both token lists share the
one tsvector, told apart by weight (query.STEM_WEIGHT, WORD_WEIGHT), so a query of any shape is one tsquery, and a
word that is its own stem is one lexeme with both weights' positions, one GIN entry instead of two. The tsvector
and the tsquery are written out in their text forms and cast: nothing passes through to_tsvector or to_tsquery,
whose parser could split or change a token.

Documents are written with the driver's bulk paths, in the session's transaction: executemany on SQLite, COPY on
PostgreSQL.
"""

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Float, Select, bindparam, cast, column, func, literal_column, select, table
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlmodel import Session, col

from api.db import engine_of
from api.search import query
from api.search.terms import Chunk
from models.search import SearchDocument

D = SearchDocument


@dataclass(frozen=True)
class NewDocument:
    # An id, or its stored form (as a bulk load has it): 32 hex digits on SQLite, the dashed text on PostgreSQL.
    evidence_id: uuid.UUID | str | None
    event_id: uuid.UUID | str | None
    source: str
    page: int | None
    chunk: Chunk


def postgres(session: Session) -> bool:
    return engine_of(session).dialect.name == "postgresql"


def tsvector_text(chunk: Chunk) -> str:
    """The chunk as a tsvector literal: the stems at positions 1..n weighted A, the words at n+1..2n weighted B.
    The cast merges the positions of a lexeme written twice."""
    n = len(chunk.stems)
    if not n:
        return ""
    stems = " ".join(map(STEM_AT.format, chunk.stems, range(1, n + 1)))
    return f"{stems} {' '.join(map(WORD_AT.format, chunk.words, range(n + 1, 2 * n + 1)))}"


STEM_AT, WORD_AT = f"'{{}}':{{}}{query.STEM_WEIGHT}", f"'{{}}':{{}}{query.WORD_WEIGHT}"


def write(session: Session, documents: Sequence[NewDocument]) -> None:
    """Add the documents and their tokens."""
    if not documents:
        return
    session.flush()  # the rows they name (items, pages, events) first
    raw = session.connection().connection.driver_connection
    assert raw is not None, "a connection just checked out has its driver's connection"
    if postgres(session):
        _write_postgres(raw, documents)
    else:
        _write_sqlite(raw, documents)


COLUMNS = "evidence_id, event_id, source, page, body_start, body_end"


def _hex(value: uuid.UUID | str | None) -> str | None:
    return value.hex if isinstance(value, uuid.UUID) else value


def _write_sqlite(raw, documents: Sequence[NewDocument]) -> None:
    rows = [
        (
            _hex(d.evidence_id),
            _hex(d.event_id),
            d.source,
            d.page,
            d.chunk.start,
            d.chunk.end,
        )
        for d in documents
    ]
    cursor = raw.cursor()
    try:
        # The first insert takes the database's write lock until the commit, so the ids after its own are free.
        cursor.execute(f"INSERT INTO search_documents ({COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)", rows[0])
        first = cursor.lastrowid
        cursor.executemany(
            f"INSERT INTO search_documents (id, {COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
            [(first + n, *row) for n, row in enumerate(rows[1:], start=1)],
        )
        cursor.executemany(
            "INSERT INTO search_index (rowid, stems, words) VALUES (?, ?, ?)",
            [(first + n, " ".join(d.chunk.stems), " ".join(d.chunk.words)) for n, d in enumerate(documents)],
        )
    finally:
        cursor.close()


def _write_postgres(raw, documents: Sequence[NewDocument]) -> None:
    with raw.cursor() as cursor:
        with cursor.copy(f"COPY search_documents ({COLUMNS}, terms) FROM STDIN") as copy:
            for d in documents:
                copy.write_row(
                    (d.evidence_id, d.event_id, d.source, d.page, d.chunk.start, d.chunk.end, tsvector_text(d.chunk))
                )


def hits(on_postgres: bool) -> Select:
    """The documents matching the bound parameter `match` (the query written by `match_text`), with their score:
    lower is better, as both ORDER BY ascending."""
    if on_postgres:
        tsq = cast(bindparam("match"), TSQUERY)
        terms: ColumnElement = literal_column("search_documents.terms")
        rank = cast(-func.ts_rank(terms, tsq, 1), Float)
        return select(*_document_columns(), rank.label("score")).where(terms.op("@@")(tsq))
    fts = table("search_index", column("rowid"))
    bm25 = func.bm25(literal_column("search_index"), type_=Float)
    return (
        select(*_document_columns(), bm25.label("score"))
        .select_from(fts.join(D, col(D.id) == fts.c.rowid))
        .where(literal_column("search_index").op("MATCH")(bindparam("match")))
    )


def _document_columns() -> list:
    return [
        col(D.id).label("doc_id"),
        col(D.evidence_id),
        col(D.event_id),
        col(D.source),
        col(D.page),
        col(D.body_start),
        col(D.body_end),
    ]


def match_text(session: Session, node: query.Node) -> str:
    return query.tsquery(node) if postgres(session) else query.fts5(node)
