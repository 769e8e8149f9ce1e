"""Each evidence item's text, read in the background: a job per item (models/text.py), queued when the item is
stored, taken by the text runner (api/worker.py), read by the text reader process (api/text/reader.py) and
stored here with what it found. Never in the upload request.

A rerun (another language, say) queues the item again; its earlier text stays readable and searchable until the
new text replaces it. A job a stopping server left running is queued again, not failed: reading is repeatable.
"""

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, or_, update
from sqlalchemy.orm import load_only
from sqlmodel import Session, col, select

from api import locks
from api.config import get_settings
from api.db import on_commit, session_scope
from api.errors import Conflict, UnprocessableEntity
from api.services import audit
from api.services.jobs import Queue
from api.services.search import index as search_index
from api.storage import BlobStore
from api.text import ocr
from api.text.extract import Extracted, TextLimits
from api.text.reader import Reader, ReadFailed
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.job import QUEUED, RUNNING
from models.text import SKIPPED, EvidenceText, EvidenceTextPage, TextJobStatus, public_status
from models.user import User

log = logging.getLogger("casebinder.text")
INTERRUPTED = "the server stopped while this item's text was being read; it is read again"


class TextBeingRead(Conflict):
    """The item's text is queued or being read: a rerun, and redaction (which reads its words), wait until that
    reading has ended."""

    code = "text_being_read"


# Called after a commit that queued text jobs: the text runner's wake (api/worker.py registers it).
wakers: list[Callable[[], None]] = []


def _requeue_interrupted(session: Session) -> None:
    session.execute(
        update(EvidenceText)
        .where(col(EvidenceText.status) == "failed", col(EvidenceText.error) == INTERRUPTED)
        .values(status=QUEUED, started_at=None, finished_at=None, queued_at=utcnow())
    )


QUEUE = Queue(
    kind="text",
    model=EvidenceText,
    status=TextJobStatus,
    order=(col(EvidenceText.queued_at), col(EvidenceText.id)),
    interrupted=INTERRUPTED,
    claimed={"finished_at": None, "error": None},
    recovered=_requeue_interrupted,
)


def wake() -> None:
    for waker in wakers:
        waker()


def on_commit_wake(session: Session) -> None:
    """Wake the text runner once the transaction that queued text jobs has committed."""
    on_commit(session, wake)


def queue_item(session: Session, evidence_id: uuid.UUID, language: str | None = None) -> EvidenceText:
    """Queue the item's text to be read (again), in `language` or the server's. The caller commits, then `wake`s."""
    language = language or get_settings().text_language
    row = session.get(EvidenceText, evidence_id)
    if row is None:
        row = EvidenceText(id=evidence_id, language=language)
        session.add(row)
    else:
        row.language, row.status, row.queued_at = language, QUEUED, utcnow()
        row.started_at = row.finished_at = None
    session.flush()
    QUEUE.hand_over(session, row)
    return row


def _in_case(query, case_id: uuid.UUID | None):
    """Items uploaded into the case or linked into it as exhibits."""
    if case_id is None:
        return query
    linked = select(Exhibit.evidence_id).where(col(Exhibit.case_id) == case_id)
    return query.where(or_(col(EvidenceItem.case_id) == case_id, col(EvidenceItem.id).in_(linked)))


def backlog(session: Session, case_id: uuid.UUID | None = None, *, failed: bool = False) -> list[uuid.UUID]:
    """The items whose text waits to be read, oldest first: those stored before text was read get a job now, and
    with `failed`, items whose reading failed are queued again."""
    missing = _in_case(
        select(EvidenceItem.id)
        .outerjoin(EvidenceText, col(EvidenceText.id) == col(EvidenceItem.id))
        .where(col(EvidenceText.id).is_(None), col(EvidenceItem.purged_at).is_(None)),
        case_id,
    )
    for evidence_id in session.exec(missing).all():
        queue_item(session, evidence_id)
    if failed:
        again = _in_case(
            select(EvidenceItem.id).join(EvidenceText, col(EvidenceText.id) == col(EvidenceItem.id)), case_id
        ).where(col(EvidenceText.status) == "failed")
        for evidence_id in session.exec(again).all():
            queue_item(session, evidence_id)
    waiting = _in_case(
        select(EvidenceItem.id)
        .join(EvidenceText, col(EvidenceText.id) == col(EvidenceItem.id))
        .where(col(EvidenceText.status) == QUEUED, col(EvidenceItem.purged_at).is_(None)),
        case_id,
    ).order_by(col(EvidenceText.queued_at), col(EvidenceText.id))
    return list(session.exec(waiting).all())


def counts(session: Session, ids: list[uuid.UUID]) -> dict[str, int]:
    """How the reading of these items stands, by API status."""
    found: dict[str, int] = {}
    for start in range(0, len(ids), 500):
        rows = session.exec(select(EvidenceText.status).where(col(EvidenceText.id).in_(ids[start : start + 500])))
        for status in rows.all():
            name = str(public_status(status))
            found[name] = found.get(name, 0) + 1
    return found


def rerun(session: Session, actor: User, item: EvidenceItem, language: str | None) -> EvidenceText:
    """Queue an item's text to be read again (editors), in another language if given."""
    if language is not None:
        check_language(language)
    row = session.get(EvidenceText, item.id)
    if row is not None and row.status in (QUEUED, RUNNING):
        raise TextBeingRead("this item's text is being read already; read it again once that has ended")
    row = queue_item(session, item.id, language or (row.language if row else None))
    audit.record(
        session,
        "evidence.text_rerun",
        actor=actor,
        case_id=item.case_id,
        evidence_id=item.id,
        object_type="evidence",
        object_id=item.id,
        details={"language": row.language},
    )
    return row


def check_language(language: str) -> None:
    parts = language.split("+")
    if not language or len(language) > 200 or not all(p.replace("_", "").isalnum() and p.isascii() for p in parts):
        raise UnprocessableEntity("language must be Tesseract language codes joined by +, such as eng or eng+chi_sim")
    missing = ocr.missing_languages(language)
    if missing:
        have = ", ".join(sorted(ocr.installed_languages())) or "none"
        raise UnprocessableEntity(
            f"language {'+'.join(missing)} is not installed on this server (installed: {have}); "
            "install Debian's tesseract-ocr-<language> package"
        )


def limits(language: str) -> TextLimits:
    s = get_settings()
    return TextLimits(
        language=language,
        ocr=s.text_ocr,
        max_chars=s.text_max_chars,
        max_pages=s.text_max_pages,
        max_ocr_pages=s.text_ocr_max_pages,
        page_timeout=s.text_ocr_page_timeout_seconds,
        max_pixels=s.max_image_pixels,
        nice=s.text_nice,
    )


def execute(session_factory, store: BlobStore, reader: Reader, evidence_id: uuid.UUID, tick=lambda: None) -> None:
    """Read a claimed item's text and store it; a failure is recorded on the job, never raised (but for `tick`'s)."""
    with session_factory() as session:
        item = session.get(EvidenceItem, evidence_id)
        row = session.get(EvidenceText, evidence_id)
        if item is None or row is None:
            return
        sha256, media_type, filename, language = item.sha256, item.media_type, item.original_filename, row.language
    found: Extracted
    if ocr.missing_languages(language) and get_settings().text_ocr:
        found = Extracted("failed", note=f"language {language} is not installed on this server")
    else:
        with store.local_copy(sha256) as path:
            if not path.exists():
                found = Extracted("failed", note="the original is missing from the evidence store")
            else:
                try:
                    found = reader.read(
                        path,
                        media_type,
                        filename,
                        limits(language),
                        timeout=get_settings().text_job_timeout_seconds,
                        tick=tick,
                    )
                except ReadFailed as exc:
                    found = Extracted("failed", note=str(exc))
    with session_factory() as session:
        store_found(session, evidence_id, found)


def read_now(store: BlobStore, ids: list[uuid.UUID], *, done: Callable[[], None] = lambda: None) -> None:
    """Read these queued items here and now, one after another (the backfill command, the demo), each under the
    lease a server's text runner takes for it: an item a running server is reading meanwhile is left to it, and
    none is read twice. `done` is called after each item."""
    reader = Reader()
    try:
        for evidence_id in ids:
            lease = locks.lease(f"text-{evidence_id}")  # the name api/runners.py gives a text job's lease
            if lease.acquire():
                try:
                    with session_scope() as session:
                        claimed = QUEUE.claim(session, evidence_id)
                    if claimed:
                        execute(session_scope, store, reader, evidence_id)
                finally:
                    lease.release()
            done()
    finally:
        reader.close()


def store_found(session: Session, evidence_id: uuid.UUID, found: Extracted) -> None:
    """Replace the item's pages with what the reader found and end its job the way the reading ended."""
    values = {
        "engine": found.engine,
        "chars": found.chars,
        "pages": len(found.pages),
        "ocr_pages": found.ocr_pages,
        "ocr_seconds": round(found.ocr_seconds, 3),
        "error": found.note,
    }
    if found.status == "failed" and not found.pages:
        QUEUE.fail(session, evidence_id, found.note or "the text could not be read", was=(RUNNING,))
        session.execute(update(EvidenceText).where(col(EvidenceText.id) == evidence_id).values(**values))
        return
    status = SKIPPED if found.status == "skipped" else TextJobStatus.done
    if found.status == "failed":  # pages read before the failure are kept; the job says why it stopped
        status = TextJobStatus.failed
    if not QUEUE.finish(session, evidence_id, status=status, **values):
        return  # no longer running (requeued meanwhile): the next read stores its own
    session.execute(delete(EvidenceTextPage).where(col(EvidenceTextPage.evidence_id) == evidence_id))
    for n, page in enumerate(found.pages, start=1):
        session.add(
            EvidenceTextPage(
                evidence_id=evidence_id,
                page=n,
                source=page.source,
                text=page.text,
                width=page.width,
                height=page.height,
                tsv=page.tsv,
                hocr=page.hocr,
                layer=page.layer,
            )
        )
    session.flush()
    search_index.index_pages(session, evidence_id)


def forget(session: Session, evidence_id: uuid.UUID) -> None:
    """Drop an item's text with its original (a purge): what was read from a file goes when the file does."""
    session.execute(delete(EvidenceTextPage).where(col(EvidenceTextPage.evidence_id) == evidence_id))
    session.execute(delete(EvidenceText).where(col(EvidenceText.id) == evidence_id))
    search_index.index_pages(session, evidence_id)  # no pages now: its text is no longer found either


def status_fields(session: Session, evidence_id: uuid.UUID) -> dict:
    """The text fields of an item as the API shows them."""
    row = session.get(EvidenceText, evidence_id)
    if row is None:
        return {}
    return {
        "text_status": public_status(row.status),
        "text_chars": row.chars,
        "text_pages": row.pages,
        "ocr_pages": row.ocr_pages,
        "ocr_seconds": row.ocr_seconds,
        "text_engine": row.engine,
        "text_language": row.language,
        "text_error": row.error,
    }


def engines(session: Session, ids: list[uuid.UUID]) -> dict[uuid.UUID, str | None]:
    """The engine that read each of these items' text (None while unread): whether a "page" of it is a page or a
    section of a decoded file (api/web/text_words.py `unit`)."""
    if not ids:
        return {}
    rows = session.exec(select(EvidenceText.id, EvidenceText.engine).where(col(EvidenceText.id).in_(ids)))
    return dict(rows.all())


def pages(session: Session, evidence_id: uuid.UUID, page: int | None = None, *, words: bool = False) -> list:
    """The item's pages (or just `page`): their text, and with `words` Tesseract's word boxes too; never the text
    layers, which only bundles read."""
    wanted: list[Any] = [col(EvidenceTextPage.page), col(EvidenceTextPage.source), col(EvidenceTextPage.text)]
    if words:
        wanted += [col(EvidenceTextPage.tsv), col(EvidenceTextPage.hocr)]
    query = select(EvidenceTextPage).options(load_only(*wanted)).where(col(EvidenceTextPage.evidence_id) == evidence_id)
    if page is not None:
        query = query.where(col(EvidenceTextPage.page) == page)
    return list(session.exec(query.order_by(col(EvidenceTextPage.page))).all())


def layers(session: Session, evidence_id: uuid.UUID) -> dict[int, bytes]:
    """The OCR text layers of an item's pages, by 0-based page index: what a bundle lays over its pictures."""
    rows = session.exec(
        select(EvidenceTextPage.page, EvidenceTextPage.layer).where(
            col(EvidenceTextPage.evidence_id) == evidence_id, col(EvidenceTextPage.layer).is_not(None)
        )
    ).all()
    return {page - 1: bytes(layer) for page, layer in rows if layer}


@dataclass(frozen=True)
class ShownPage:
    """A page as a screen shows it: its text cut to a length, and how long it is in all."""

    page: int
    source: str
    text: str
    chars: int

    @property
    def cut(self) -> bool:
        return self.chars > len(self.text)


def page_count(session: Session, evidence_id: uuid.UUID) -> int:
    """How many pages of text the item holds now (an earlier reading's, while it is read again)."""
    query = select(func.count()).where(col(EvidenceTextPage.evidence_id) == evidence_id)
    return int(session.exec(query).one())


def page_window(session: Session, evidence_id: uuid.UUID, first: int, count: int, max_chars: int) -> list[ShownPage]:
    """Pages `first` to `first + count - 1`, each cut to `max_chars` characters in the database: a screen of a
    2,000-page item loads what it shows, never the word boxes and text layers stored beside it."""
    text = col(EvidenceTextPage.text)
    query = (
        select(
            col(EvidenceTextPage.page), col(EvidenceTextPage.source), func.substr(text, 1, max_chars), func.length(text)
        )
        .where(
            col(EvidenceTextPage.evidence_id) == evidence_id,
            col(EvidenceTextPage.page) >= first,
            col(EvidenceTextPage.page) < first + count,
        )
        .order_by(col(EvidenceTextPage.page))
    )
    return [ShownPage(page, source, shown or "", chars or 0) for page, source, shown, chars in session.exec(query)]


def plain_text(session: Session, evidence_id: uuid.UUID, page: int | None = None) -> str:
    """The item's text as one plain text, its pages split by form feeds (or just `page`)."""
    query = select(col(EvidenceTextPage.text)).where(col(EvidenceTextPage.evidence_id) == evidence_id)
    if page is not None:
        query = query.where(col(EvidenceTextPage.page) == page)
    return "\f".join(session.exec(query.order_by(col(EvidenceTextPage.page))).all())
