"""Full-text search: the documents the index holds, and a search's answer.

A search document is what the engine matches: a page of an evidence item's text, an item's metadata (title,
description and facts together) or a timeline event, each cut into chunks when long (api/search/terms.py). Its words
are kept where each engine wants them, made by migration 0015 and not described here because no two engines make
them alike: an FTS5 table `search_index` on SQLite (rowid = document id, columns stems and words); a column `terms`
of search_documents on PostgreSQL, a tsvector with a GIN index. The text itself is read from where it lives (the
page, the item, the event) when a snippet is made.

Documents go with what they index by the database's own cascades: a page's with its page (a new reading of the text
replaces them), an item's with its row, an event's with its event; on SQLite a trigger takes the deleted
document's words out of the FTS5 table.
"""

import uuid
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel
from pydantic import Field as PydanticField
from sqlalchemy import BigInteger, CheckConstraint, ForeignKeyConstraint, Index, Integer, String
from sqlmodel import Field, SQLModel

# What only the migration and api/services/search/engine.py know: SQLite's FTS5 table (and its shadow tables, which
# share its name's start), PostgreSQL's tsvector column and its index.
ENGINE_TABLE = "search_index"
ENGINE_COLUMN = ("search_documents", "terms")
ENGINE_INDEX = "ix_search_documents_terms"


class SearchSource(StrEnum):
    text = "text"  # a page of the item's text
    meta = "meta"  # the item's title, description and facts
    event = "event"  # a timeline event's title and description


class SearchDocument(SQLModel, table=True):
    __tablename__ = "search_documents"
    __table_args__ = (
        ForeignKeyConstraint(
            ["evidence_id", "page"],
            ["evidence_text_pages.evidence_id", "evidence_text_pages.page"],
            ondelete="CASCADE",
        ),
        CheckConstraint("(evidence_id IS NULL) <> (event_id IS NULL)", name="one_subject"),
        Index("ix_search_documents_evidence", "evidence_id", "page"),
        Index("ix_search_documents_event", "event_id"),
    )

    # SQLite: INTEGER PRIMARY KEY, the rowid the FTS5 table shares.
    id: int | None = Field(default=None, primary_key=True, sa_type=BigInteger().with_variant(Integer(), "sqlite"))
    evidence_id: uuid.UUID | None = Field(default=None, foreign_key="evidence_items.id", ondelete="CASCADE")
    event_id: uuid.UUID | None = Field(default=None, foreign_key="timeline_events.id", ondelete="CASCADE")
    source: SearchSource = Field(sa_type=String(10))
    page: int | None = Field(default=None, sa_type=Integer)  # 1-based, for text documents
    # The chunk's characters in the text it indexes; None for a text indexed whole (nearly every one).
    body_start: int | None = Field(default=None, sa_type=Integer)
    body_end: int | None = Field(default=None, sa_type=Integer)


def in_metadata(name: str | None, type_: str, parent_names: dict) -> bool:
    """Alembic's include_name: leave the search engine's own tables, column and index, and each record set's own
    indexes (ix_rs_*, made at run time), out of the comparison of the database with these models, which do not
    describe them."""
    if type_ == "index" and (name or "").startswith("ix_rs_"):
        return False
    table = name if type_ == "table" else parent_names.get("table_name")
    if (table or "").startswith(ENGINE_TABLE) or (type_ == "index" and name == ENGINE_INDEX):
        return False
    return not (type_ == "column" and (table, name) == ENGINE_COLUMN)


class SearchCase(BaseModel):
    id: uuid.UUID
    title: str


HitField = Literal["text", "title", "description", "facts", "event"]


class SearchHit(BaseModel):
    type: Literal["evidence", "event"]
    evidence_id: uuid.UUID | None = PydanticField(
        description="The evidence item found; for an event, the evidence it cites (null if none)."
    )
    event_id: uuid.UUID | None = PydanticField(description="The timeline event found (events only).")
    exhibit_label: str | None = PydanticField(description="The evidence's exhibit label in this case, if it is one.")
    title: str = PydanticField(description="The evidence item's title, or the event's.")
    case: SearchCase = PydanticField(
        description="The case this hit is in: evidence linked into several of your cases is a hit in each."
    )
    page: int | None = PydanticField(description="1-based page of the item's text the words are on (text hits).")
    field: HitField = PydanticField(
        description="What matched: the item's text, its title, description or facts, or a timeline event."
    )
    kind: str = PydanticField(description="The evidence kind; for an event, the event kind.")
    snippet: str = PydanticField(
        description="Words around the hits, HTML-escaped, each hit in <mark>...</mark>; … where text is left out."
    )


class SearchPage(BaseModel):
    items: list[SearchHit]
    next_cursor: str | None = None
