"""Columns read as the same text on SQLite and PostgreSQL, so the formatters handle one form.

The SQL differs by dialect (SQLAlchemy compiles each construct for the database in use); the code that uses
them does not.
"""

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class stored_utc_text(FunctionElement):
    """A timestamp as the text SQLite stores, "YYYY-MM-DD HH:MM:SS.ffffff" in UTC, from either database, so
    both hand the formatters the same text (PostgreSQL would otherwise build a datetime object per value)."""

    type = String()
    name = "stored_utc_text"
    inherit_cache = True


@compiles(stored_utc_text)
def _stored_utc_text(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)  # SQLite keeps exactly this text


@compiles(stored_utc_text, "postgresql")
def _stored_utc_text_postgresql(element, compiler, **kw):
    return f"to_char(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')"


class uuid_text(FunctionElement):
    """A UUID column as its canonical text (8-4-4-4-12 hex digits) on either database."""

    type = String()
    name = "uuid_text"
    inherit_cache = True


@compiles(uuid_text)
def _uuid_text(element, compiler, **kw):
    # SQLite stores the 32 hex digits; hyphenating them here costs less than in Python, a million times over.
    x = compiler.process(element.clauses, **kw)
    parts = [f"substr({x}, {start}, {length})" for start, length in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
    return " || '-' || ".join(parts)


@compiles(uuid_text, "postgresql")
def _uuid_text_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"
