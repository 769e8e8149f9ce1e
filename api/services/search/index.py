"""Keeping the search index in step with what it indexes. Each hook replaces one subject's documents, inside the
caller's unit of work, so the index changes with the data or not at all:

- `index_pages` after an item's text is stored (api/services/text.py `store_found`);
- `index_item` after an item is stored or its metadata changes (api/services/evidence.py);
- `index_event` after a timeline event is added or changed, by hand or from its exhibit (api/services/timeline);
- `index_events` for the events an import loads (api/services/timeline/bulk_load.py), block by block;
- `reindex` for what was stored before search existed, or to rebuild (`casebinder search reindex`).

Deleting needs no hook: a document goes with its page, item or event (models/search.py). Nor does access: who may
see a hit is decided when searching, so exhibits, members and deletions change results at once.
"""

import uuid
from collections.abc import Callable, Iterable, Iterator

from sqlalchemy import Engine, delete, func, or_
from sqlmodel import Session, col, select

from api.search import terms
from api.services.search.documents import Metadata, event_text
from api.services.search.engine import NewDocument, postgres, write
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.search import SearchDocument, SearchSource
from models.text import EvidenceTextPage
from models.timeline import TimelineEvent

D = SearchDocument
BATCH = 1000  # subjects indexed per write when many are


def _item_documents(evidence_id: uuid.UUID, title: str, description: str | None, facts: dict | None):
    text = Metadata.of(title, description, facts).text
    return [NewDocument(evidence_id, None, SearchSource.meta, None, chunk) for chunk in terms.chunks(text)]


def _page_documents(evidence_id: uuid.UUID, page: int, text: str):
    return [NewDocument(evidence_id, None, SearchSource.text, page, chunk) for chunk in terms.chunks(text)]


def _event_documents(event_id: uuid.UUID | str, title: str, description: str | None):
    return [
        NewDocument(None, event_id, SearchSource.event, None, c) for c in terms.chunks(event_text(title, description))
    ]


def index_item(session: Session, item: EvidenceItem) -> None:
    """Index the item's title, description and facts (again)."""
    session.execute(delete(D).where(col(D.evidence_id) == item.id, col(D.source) == SearchSource.meta))
    write(session, _item_documents(item.id, item.title, item.description, item.facts))


def index_pages(session: Session, evidence_id: uuid.UUID) -> None:
    """Index the item's pages of text as they are stored now (a new reading replaces the last one's)."""
    session.execute(delete(D).where(col(D.evidence_id) == evidence_id, col(D.source) == SearchSource.text))
    pages = session.exec(
        select(EvidenceTextPage.page, EvidenceTextPage.text).where(col(EvidenceTextPage.evidence_id) == evidence_id)
    ).all()
    write(session, [doc for page, text in pages for doc in _page_documents(evidence_id, page, text)])


def index_event(session: Session, event: TimelineEvent) -> None:
    """Index the event's title and description (again)."""
    session.execute(delete(D).where(col(D.event_id) == event.id))
    write(session, _event_documents(event.id, event.title, event.description))


def bulk(session: Session) -> None:
    """Ready the session's transaction for indexing many documents: on PostgreSQL, their GIN entries gather in the
    index's pending list up to 64 MiB (not 4) before they are merged in, fewer and larger merges, a third faster. The
    rest is merged by the next VACUUM (the import runs one once it has committed)."""
    if postgres(session):
        session.connection().exec_driver_sql("SET LOCAL gin_pending_list_limit = 65536")


def index_events(session: Session, events: Iterable[tuple[uuid.UUID | str, str, str | None]]) -> None:
    """Index new events, given as (id or its stored form, title, description): what an import has just loaded."""
    write(
        session,
        [doc for event_id, title, description in events for doc in _event_documents(event_id, title, description)],
    )


# Rebuilding


def _keyset(session: Session, query, key, size: int) -> Iterator[list]:
    """The rows of `query` in `key` order, `size` at a time: a million events never sit in memory at once."""
    after = None
    while True:
        page = query.order_by(key).limit(size)
        rows = session.exec(page if after is None else page.where(key > after)).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _clear(session: Session, case_id: uuid.UUID | None, items, events) -> None:
    if case_id is None:
        if not postgres(session):  # the FTS5 table first: the documents' delete trigger then finds nothing to do
            session.connection().exec_driver_sql("DELETE FROM search_index")
        session.execute(delete(D))
        return
    session.execute(delete(D).where(col(D.evidence_id).in_(items.with_only_columns(col(EvidenceItem.id)))))
    session.execute(delete(D).where(col(D.event_id).in_(events.with_only_columns(col(TimelineEvent.id)))))


def reindex(
    session: Session, *, case_id: uuid.UUID | None = None, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Rebuild the documents of every item and event (or those of one case: the items uploaded into it or linked
    into it, and its events). `progress(done, total)` is told after each batch. Returns what was indexed."""
    items = select(EvidenceItem.id, EvidenceItem.title, EvidenceItem.description, EvidenceItem.facts)
    events = select(TimelineEvent.id, TimelineEvent.title, TimelineEvent.description)
    if case_id is not None:
        linked = select(Exhibit.evidence_id).where(col(Exhibit.case_id) == case_id)
        items = items.where(or_(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.id).in_(linked)))
        events = events.where(col(TimelineEvent.case_id) == case_id)
    total = sum(session.exec(select(func.count()).select_from(q.subquery())).one() for q in (items, events))
    _clear(session, case_id, items, events)
    counts = {"items": 0, "pages": 0, "events": 0, "documents": 0}
    done = 0
    for batch in _keyset(session, items, col(EvidenceItem.id), BATCH):
        pages = session.exec(
            select(EvidenceTextPage.evidence_id, EvidenceTextPage.page, EvidenceTextPage.text).where(
                col(EvidenceTextPage.evidence_id).in_([row[0] for row in batch])
            )
        ).all()
        documents = [doc for row in batch for doc in _item_documents(*row)]
        documents += [doc for evidence_id, page, text in pages for doc in _page_documents(evidence_id, page, text)]
        write(session, documents)
        counts["items"] += len(batch)
        counts["pages"] += len(pages)
        counts["documents"] += len(documents)
        done += len(batch)
        if progress:
            progress(done, total)
    for batch in _keyset(session, events, col(TimelineEvent.id), BATCH * 4):
        documents = [doc for row in batch for doc in _event_documents(*row)]
        write(session, documents)
        counts["events"] += len(batch)
        counts["documents"] += len(documents)
        done += len(batch)
        if progress:
            progress(done, total)
    return counts


# After a rebuild has committed: the planner's statistics, and on PostgreSQL the GIN index's pending entries merged
# and the new rows' visibility settled (VACUUM cannot run in a transaction).
TIDY = {"postgresql": "VACUUM ANALYZE search_documents", "sqlite": "ANALYZE search_documents"}


def tidy(engine: Engine) -> None:
    """Once a rebuild has committed: what autovacuum would do later, now, before the index is searched."""
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(TIDY[engine.dialect.name])


def is_behind(session: Session) -> bool:
    """Whether nothing is indexed while there is something to index: a database from before search, which
    `casebinder migrate` then indexes."""
    if session.exec(select(D.id).limit(1)).first() is not None:
        return False
    anything = select(EvidenceItem.id).limit(1), select(TimelineEvent.id).limit(1)
    return any(session.exec(query).first() is not None for query in anything)
