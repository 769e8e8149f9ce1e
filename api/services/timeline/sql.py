"""Columns read as text on SQLite and PostgreSQL alike: times in one form, ids in one of two, so the formatters
handle no driver objects.

The SQL differs by dialect (SQLAlchemy compiles each construct for the database in use); the code that uses
them does not.
"""

from typing import TYPE_CHECKING, Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeEngine


class stored_utc_text(FunctionElement[str]):
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


class uuid_any_text(FunctionElement[str]):
    """A UUID column as text in the form the database gives cheapest: SQLite's stored 32 hex digits as they
    are, PostgreSQL's canonical text (rather than a UUID object per value). Hyphenating in Python where the
    canonical text is needed costs less than SQLite's substr(); timeline.columns.as_uuid_text reads both."""

    type = String()
    name = "uuid_any_text"
    inherit_cache = True


@compiles(uuid_any_text)
def _uuid_any_text(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(uuid_any_text, "postgresql")
def _uuid_any_text_postgresql(element, compiler, **kw):
    return f"CAST({compiler.process(element.clauses, **kw)} AS VARCHAR)"


class unindexed(FunctionElement):
    """A column a condition is checked on but no index is chosen for, so the planner walks the index the query
    means to drive by rather than one a filter column shares with it, statistics or none. On SQLite a unary +
    (its documented way to disqualify a term from index use); on PostgreSQL COALESCE(c, c), an expression no
    index is on (without statistics it walked a year of a kind to find a few straddling events)."""

    name = "unindexed"
    inherit_cache = True
    type: TypeEngine[Any]  # the column's: computed below, declared as SQLAlchemy declares its own computed types

    if not TYPE_CHECKING:

        @property
        def type(self):
            return self.clauses.clauses[0].type


@compiles(unindexed)
def _unindexed(element, compiler, **kw):
    return f"+{compiler.process(element.clauses, **kw)}"


@compiles(unindexed, "postgresql")
def _unindexed_postgresql(element, compiler, **kw):
    column = compiler.process(element.clauses, **kw)
    return f"COALESCE({column}, {column})"
