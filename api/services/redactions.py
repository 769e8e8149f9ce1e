"""Redactions of an item: a case's terms, suggestions from the detectors, people's decisions and boxes, and the
redaction sets that burn the accepted ones into a derived item after a release check (api/redaction/).

The original is never changed: applying makes a new evidence item in the same case, linked to its original through
its redaction set, in the custody of both. A box is only ever burned into the bytes it was placed on: one placed
on an item whose bytes have changed since (its SHA-256 no longer the one read back from the store) is refused.
"""

import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session, col, func, select

from api.config import get_settings
from api.db import session_scope
from api.errors import Conflict, NotFound, UnprocessableEntity
from api.redaction import burn, detect, release
from api.redaction.pages import (
    Box,
    PagesRefused,
    PageText,
    boxes_of,
    media_kind,
    ocr_page_text,
    open_pdf,
    pdf_page_text,
    render_text_like,
)
from api.services import access, audit, blobs, jobs
from api.services import evidence as evidence_service
from api.services import previews as preview_service
from api.services import text as text_service
from api.services.evidence import EvidenceMeta
from api.storage import BlobStore, file_sha256
from api.text import ocr
from models.case import Case, Role
from models.common import utcnow
from models.evidence import EvidenceItem, EvidenceKind
from models.job import QUEUED, RUNNING
from models.redaction import (
    DrawnRedaction,
    Redaction,
    RedactionDecision,
    RedactionOrigin,
    RedactionSet,
    RedactionSetStatus,
    RedactionStatus,
    RedactionTerms,
    TermsIn,
)
from models.text import EvidenceText, EvidenceTextPage
from models.user import User

log = logging.getLogger("casebinder.redaction")
INTERRUPTED = "the server stopped while the redactions were being applied; apply them again"
READABLE = ("pdf", "image", "csv", "json", "email", "text")
PAD = 0.002  # of the page, added around a detector's box so the glyphs' edges are covered too
SAME_BOX = 0.004  # boxes closer than this on every side are the same box

QUEUE = jobs.Queue(
    "redaction",
    RedactionSet,
    RedactionSetStatus,
    order=(RedactionSet.created_at, RedactionSet.id),
    interrupted=INTERRUPTED,
)


class Interrupted(Exception):
    """The server is stopping: the set is given up before anything is stored."""


class RedactionStale(Conflict):
    """A redaction was placed on bytes the item no longer has."""

    code = "redaction_stale"


class BoxTaken(Conflict):
    """Another redaction already covers the box drawn."""

    code = "redaction_box_taken"


class RedactionsBeingApplied(Conflict):
    """A redaction set of the item is queued or running."""

    code = "redactions_being_applied"


class RedactionsNotApplied(Conflict):
    """An item has accepted redactions that no applied redaction set holds yet."""

    code = "redactions_not_applied"


# Terms ---------------------------------------------------------------------------------------------------------------


def terms_of(session: Session, case_id: uuid.UUID) -> RedactionTerms | None:
    return session.get(RedactionTerms, case_id)


def put_terms(session: Session, case: Case, actor: User, data: TermsIn) -> RedactionTerms:
    try:
        detect.compile_patterns(data.patterns)
    except detect.PatternRefused as exc:
        raise UnprocessableEntity(str(exc)) from None
    row = session.get(RedactionTerms, case.id) or RedactionTerms(case_id=case.id, updated_by=actor.id)
    row.terms = list(dict.fromkeys(data.terms))
    row.patterns = list(dict.fromkeys(data.patterns))
    row.updated_by, row.updated_at = actor.id, utcnow()
    session.add(row)
    audit.record_case(
        session, "redaction.terms", case.id, actor=actor,
        details={"terms": len(row.terms), "patterns": len(row.patterns)},
    )  # fmt: skip
    return row


# Pages -------------------------------------------------------------------------------------------------------------


def redactable(item: EvidenceItem) -> bool:
    """Whether redaction reads the item's pages: a PDF, a picture, a CSV, JSON, e-mail or text file."""
    return media_kind(item) in READABLE


def _check_readable(item: EvidenceItem) -> str:
    kind = media_kind(item)
    if kind not in READABLE:
        raise UnprocessableEntity(
            f"{item.media_type} files cannot be redacted here: redact PDFs, pictures, CSV, JSON, e-mail and text"
        )
    return kind


def _text_rows(session: Session, item: EvidenceItem, kind: str) -> dict[int, EvidenceTextPage]:
    """The item's OCR'd pages (pictures and image-only PDF pages), once its text has been read."""
    if kind not in ("pdf", "image"):
        return {}
    status = session.exec(select(EvidenceText.status).where(col(EvidenceText.id) == item.id)).first()
    if status in (QUEUED, RUNNING):
        raise text_service.TextBeingRead(
            "the item's text is still being read (GET /evidence/{id}/text): redactions are suggested from its words"
        )
    rows = session.exec(
        select(EvidenceTextPage).where(
            col(EvidenceTextPage.evidence_id) == item.id, col(EvidenceTextPage.source) == "ocr"
        )
    ).all()
    return {row.page: row for row in rows if row.tsv and row.width and row.height}


@dataclass
class Read:
    pages: list[PageText]
    source: Path  # the file burned: the original, or the rendering of a text-like one
    kind: str
    original: Path


@contextmanager
def read_pages(session: Session, store: BlobStore, item: EvidenceItem) -> Iterator[Read]:
    """The item's pages with their characters' boxes, and the file they are pages of, for the length of the block."""
    kind = _check_readable(item)
    ocr_rows = _text_rows(session, item, kind)
    scratch = store.scratch_path(f"redact-{uuid.uuid4().hex}")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with store.local_copy(item.sha256) as original:
            if kind == "image":
                pages = [
                    ocr_page_text(n, r.tsv or "", r.width or 1, r.height or 1) for n, r in sorted(ocr_rows.items())
                ]
                yield Read(pages, original, kind, original)
                return
            source = original if kind == "pdf" else render_text_like(item, original, scratch / "rendering.pdf")
            try:
                pdf = open_pdf(source)
            except PagesRefused as exc:
                raise UnprocessableEntity(str(exc)) from None
            try:
                pages = []
                for index in range(len(pdf)):
                    row = ocr_rows.get(index + 1)
                    if row is not None:
                        pages.append(ocr_page_text(index + 1, row.tsv or "", row.width or 1, row.height or 1))
                        continue
                    page = pdf[index]
                    try:
                        pages.append(pdf_page_text(page, index + 1, "embedded" if kind == "pdf" else "rendering"))
                    finally:
                        page.close()
            finally:
                pdf.close()
            yield Read(pages, source, kind, original)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


# Suggestions, decisions, boxes drawn ---------------------------------------------------------------------------------


def _padded(box: Box) -> Box:
    x0, y0, x1, y1 = box
    return (max(0.0, x0 - PAD), max(0.0, y0 - PAD), min(1.0, x1 + PAD), min(1.0, y1 + PAD))


def _same(a: Redaction, page: int, box: Box) -> bool:
    return a.page == page and all(abs(u - v) < SAME_BOX for u, v in zip(a.box, box, strict=True))


def listing(session: Session, item: EvidenceItem) -> list[Redaction]:
    return list(
        session.exec(
            select(Redaction)
            .where(col(Redaction.evidence_id) == item.id)
            .order_by(col(Redaction.page), col(Redaction.y0), col(Redaction.x0), col(Redaction.id))
        ).all()
    )


def suggest(session: Session, store: BlobStore, item: EvidenceItem, actor: User) -> tuple[list[Redaction], int]:
    """Run the detectors and the case's terms over the item's pages; suggestions already made (or decided) are not
    made again. Every redaction of the item, and how many were added."""
    terms = terms_of(session, item.case_id)
    patterns = detect.compile_patterns(terms.patterns) if terms else []
    region = get_settings().records_phone_region
    existing = listing(session, item)
    added = 0
    with read_pages(session, store, item) as read:
        for page in read.pages:
            for hit in detect.find(page.text, terms=terms.terms if terms else [], patterns=patterns, region=region):
                for covered, box in boxes_of(page, hit.start, hit.end):
                    padded = _padded(box)
                    if any(_same(r, page.page, padded) for r in existing):
                        continue
                    redaction = Redaction(
                        evidence_id=item.id, page=page.page, x0=padded[0], y0=padded[1], x1=padded[2], y1=padded[3],
                        text=covered, found=hit.found, rule=hit.rule, reason=hit.reason,
                        origin=RedactionOrigin.detected, sha256=item.sha256, created_by=actor.id,
                    )  # fmt: skip
                    session.add(redaction)
                    existing.append(redaction)
                    added += 1
    evidence_service.record_access(session, "redaction.suggest", item, actor, {"added": added})
    session.flush()
    return listing(session, item), added


def get_redaction(session: Session, item: EvidenceItem, redaction_id: uuid.UUID) -> Redaction:
    found = session.get(Redaction, redaction_id)
    if found is None or found.evidence_id != item.id:
        raise NotFound("no such redaction on this item")
    return found


def decide(
    session: Session, item: EvidenceItem, redaction_id: uuid.UUID, actor: User, data: RedactionDecision
) -> Redaction:
    redaction = get_redaction(session, item, redaction_id)
    redaction.status = data.status
    if data.reason:
        redaction.reason = data.reason
    redaction.decided_by, redaction.decided_at = actor.id, utcnow()
    session.add(redaction)
    evidence_service.record_access(
        session, "redaction.decide", item, actor,
        {"redaction_id": str(redaction.id), "status": str(data.status), "reason": redaction.reason},
    )  # fmt: skip
    return redaction


def draw(session: Session, store: BlobStore, item: EvidenceItem, actor: User, data: DrawnRedaction) -> Redaction:
    """A box drawn by a person: accepted as drawn, on a page the item has."""
    with read_pages(session, store, item) as read:
        pages = len(read.pages) if read.kind != "image" else _frames(read.source)
        covered = _covered(read.pages, data.page, tuple(data.box))  # type: ignore[arg-type]
    if data.page > pages:
        raise UnprocessableEntity(f"page {data.page} is past the item's last page ({pages})")
    for other in listing(session, item):
        if _same(other, data.page, tuple(data.box)) and other.status != RedactionStatus.rejected:  # type: ignore[arg-type]
            raise BoxTaken(f"redaction {other.id} already covers this box on page {data.page}")
    x0, y0, x1, y1 = data.box
    redaction = Redaction(
        evidence_id=item.id, page=data.page, x0=x0, y0=y0, x1=x1, y1=y1, text=covered or None, rule="drawn",
        reason=data.reason, status=RedactionStatus.accepted, origin=RedactionOrigin.drawn, sha256=item.sha256,
        created_by=actor.id, decided_by=actor.id, decided_at=utcnow(),
    )  # fmt: skip
    session.add(redaction)
    session.flush()
    evidence_service.record_access(
        session, "redaction.draw", item, actor, {"redaction_id": str(redaction.id), "page": data.page}
    )
    return redaction


def _frames(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return getattr(im, "n_frames", 1) if im.format == "TIFF" else 1


def _covered(pages: list[PageText], number: int, box: Box) -> str:
    """The text whose characters' middles lie inside a box."""
    page = next((p for p in pages if p.page == number), None)
    if page is None:
        return ""
    x0, y0, x1, y1 = box
    out: list[str] = []
    for char, char_box in zip(page.text, page.boxes, strict=True):
        if char_box is None:
            if out and out[-1] != " ":
                out.append(" ")
            continue
        mx, my = (char_box[0] + char_box[2]) / 2, (char_box[1] + char_box[3]) / 2
        if x0 <= mx <= x1 and y0 <= my <= y1:
            out.append(char)
        elif out and out[-1] != " ":
            out.append(" ")
    return "".join(out).strip()


# Applying ------------------------------------------------------------------------------------------------------------


def get_set(session: Session, set_id: uuid.UUID, user: User, role: Role = Role.viewer) -> RedactionSet:
    return access.case_object(session, RedactionSet, set_id, user, "redaction set", role)


def apply(session: Session, item: EvidenceItem, actor: User) -> RedactionSet:
    """Queue the burning of the item's accepted redactions into a derived copy."""
    _check_readable(item)
    accepted = [r for r in listing(session, item) if r.status == RedactionStatus.accepted]
    if not accepted:
        raise UnprocessableEntity("the item has no accepted redaction: accept a suggestion or draw a box first")
    stale = [r for r in accepted if r.sha256 != item.sha256]
    if stale:
        raise RedactionStale(
            f"{len(stale)} redaction(s) were placed on other bytes than the item's (SHA-256 {stale[0].sha256[:12]}…): "
            "suggest or draw them again"
        )
    running = session.exec(
        select(RedactionSet.id).where(
            col(RedactionSet.evidence_id) == item.id, col(RedactionSet.status).in_((QUEUED, RUNNING))
        )
    ).first()
    if running is not None:
        raise RedactionsBeingApplied(f"redaction set {running} of this item is being applied: wait for it to end")
    redaction_set = RedactionSet(
        case_id=item.case_id, evidence_id=item.id, sha256=item.sha256,
        redaction_ids=[str(r.id) for r in accepted], created_by=actor.id,
    )  # fmt: skip
    QUEUE.queue(session, redaction_set)
    evidence_service.record_access(
        session,
        "redaction.apply",
        item,
        actor,
        {"redaction_set_id": str(redaction_set.id), "redactions": len(accepted)},
    )
    return redaction_set


def _ocr(language: str) -> burn.OcrRead:
    limits = text_service.limits(language)

    def read(picture: Path, width: int, height: int, dpi: int) -> ocr.OcrPage:
        return ocr.read(
            picture, language=language, width=width, height=height, dpi=dpi, timeout=limits.page_timeout,
            nice=limits.nice,
        )  # fmt: skip

    return read


class Refused(Exception):
    """The redaction set cannot be applied: args[0] says why, in words."""


def execute(set_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Burn a claimed set's redactions into a copy, check it, and store it as a derived item; or fail saying why."""
    store = blobs.served_store()
    try:
        with session_scope() as session:
            redaction_set = session.get(RedactionSet, set_id)
            assert redaction_set is not None, "a claimed job's row is there"
            item = session.get(EvidenceItem, redaction_set.evidence_id)
            if item is None or item.deleted_at is not None:
                raise Refused("the item was deleted")
            wanted = [session.get(Redaction, uuid.UUID(r)) for r in redaction_set.redaction_ids]
            redactions = [r for r in wanted if r is not None and r.status == RedactionStatus.accepted]
            if not redactions:
                raise Refused("none of its redactions is accepted any more")
            language = session.exec(select(EvidenceText.language).where(col(EvidenceText.id) == item.id)).first()
            stored_ocr = {row.page: row.text for row in text_service.pages(session, item.id) if row.source == "ocr"}
            derived = _burn_and_check(session, store, item, redactions, redaction_set, language or "eng", stored_ocr)
            tick()
            case = session.get(Case, item.case_id)
            actor = session.get(User, redaction_set.created_by)
            assert case is not None and actor is not None
            new_item = _store_derived(session, store, case, actor, item, redaction_set, redactions, derived)
            QUEUE.finish(session, set_id, derived_evidence_id=new_item.id, check=redaction_set.check)
    except (Refused, UnprocessableEntity, Conflict) as exc:
        message = exc.args[0] if isinstance(exc, Refused) else str(exc)
        check = exc.checked.summary() if isinstance(exc, Leaked) else {}
        with session_scope() as session:
            QUEUE.fail(session, set_id, message, check=check)


class Leaked(Refused):
    def __init__(self, message: str, checked: release.Checked):
        super().__init__(message)
        self.checked = checked


@dataclass
class Derived:
    path: Path
    media_type: str
    scratch: Path


def _burn_and_check(
    session: Session,
    store: BlobStore,
    item: EvidenceItem,
    redactions: list[Redaction],
    redaction_set: RedactionSet,
    language: str,
    stored_ocr: dict[int, str],
) -> Derived:
    boxes: dict[int, list[Box]] = {}
    for r in redactions:
        boxes.setdefault(r.page, []).append((r.x0, r.y0, r.x1, r.y1))
    scratch = store.scratch_path(f"redacted-{uuid.uuid4().hex}")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        return _burn_into(session, store, item, redactions, redaction_set, language, stored_ocr, boxes, scratch)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)  # refused, leaked or failed: nothing of the copy stays behind
        raise


def _burn_into(
    session: Session,
    store: BlobStore,
    item: EvidenceItem,
    redactions: list[Redaction],
    redaction_set: RedactionSet,
    language: str,
    stored_ocr: dict[int, str],
    boxes: dict[int, list[Box]],
    scratch: Path,
) -> Derived:
    stem = _stem(item.original_filename)
    with read_pages(session, store, item) as read:
        original_hash = file_sha256(read.original)
        if original_hash != item.sha256 or original_hash != redaction_set.sha256:
            raise Refused(
                f"the original's bytes in the store (SHA-256 {original_hash}) are not the ones the redactions were "
                f"placed on ({redaction_set.sha256}): nothing was released; verify the item's original"
            )
        wanted = _wanted(read.pages, redactions)
        if read.kind == "image":
            burned = burn.picture(read.source, boxes, scratch, stem)
            ocr_text = _read_pictures(burned, language)
        else:
            burned = burn.pdf(read.source, boxes, scratch, stem, _ocr(language))
            ocr_text = burned.ocr_text
    checked = release.check(
        burned.path, burned.media_type, wanted, ocr_text=ocr_text,
        stored_ocr=stored_ocr if read.kind == "pdf" else {},
    )  # fmt: skip
    redaction_set.check = checked.summary()
    if checked.leaks:
        first = checked.leaks[0]
        raise Leaked(
            f"the release check found redacted text still in the copy ({len(checked.leaks)} time(s)); the first: "
            f"{first.where}, the {first.wanted.rule} redaction of page {first.wanted.page}. Nothing was released: "
            "redact every place it appears, then apply again",
            checked,
        )
    return Derived(burned.path, burned.media_type, scratch)


def _wanted(pages: list[PageText], redactions: list[Redaction]) -> list[release.Wanted]:
    out: list[release.Wanted] = []
    for r in redactions:
        text = r.found or r.text or _covered(pages, r.page, (r.x0, r.y0, r.x1, r.y1))
        if text:
            out.append(release.Wanted(text, r.rule, r.page, str(r.id), everywhere=r.origin != RedactionOrigin.drawn))
    return out


def _read_pictures(burned: burn.Burned, language: str) -> dict[int, str]:
    from PIL import Image

    read = _ocr(language)
    out = {}
    with Image.open(burned.path) as im:
        for n in range(getattr(im, "n_frames", 1)):
            im.seek(n)
            frame = burned.path.parent / f"frame-{n}.png"
            im.save(frame, "PNG")
            out[n + 1] = read(frame, im.width, im.height, 300).text
            frame.unlink()
    return out


def _stem(filename: str) -> str:
    stem = Path(filename).stem or "item"
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in stem)[:80] + "-redacted"


def _store_derived(
    session: Session,
    store: BlobStore,
    case: Case,
    actor: User,
    item: EvidenceItem,
    redaction_set: RedactionSet,
    redactions: list[Redaction],
    derived: Derived,
) -> EvidenceItem:
    rules = sorted({r.reason for r in redactions})
    description = (
        f"Redacted copy of {item.title} (original SHA-256 {item.sha256}): {len(redactions)} redaction(s) burned in "
        f"by redaction set {redaction_set.id} ({'; '.join(rules)}). The original is unchanged."
    )
    meta = EvidenceMeta(
        kind=EvidenceKind(item.kind), title=f"{item.title} (redacted)"[:300], description=description[:4000],
        tags=["redacted"],
    )  # fmt: skip
    try:
        new_item, _, _ = evidence_service.ingest_file(
            session, store, case=case, actor=actor, path=derived.path, meta=meta
        )
    finally:
        shutil.rmtree(derived.scratch, ignore_errors=True)
    audit.record(
        session, "redaction.derived", actor=actor, case_id=case.id, evidence_id=item.id,
        object_type="redaction_set", object_id=redaction_set.id,
        details={"derived_evidence_id": str(new_item.id), "derived_sha256": new_item.sha256,
                 "redactions": len(redactions), "check": redaction_set.check},
    )  # fmt: skip
    audit.record(
        session, "redaction.derived_from", actor=actor, case_id=case.id, evidence_id=new_item.id,
        object_type="redaction_set", object_id=redaction_set.id,
        details={"original_evidence_id": str(item.id), "original_sha256": item.sha256},
    )  # fmt: skip
    return new_item


# The pages as a reviewer sees them -----------------------------------------------------------------------------------


@dataclass
class Sheets:
    """What the redaction page shows an item's pages with: how many it has (as far as can be told), and what each
    page's picture is: the PDF's own page, the picture itself, a page of a text-like item's rendering (the pages its
    boxes are fractions of), or nothing (a picture a browser cannot show, a PDF that cannot be drawn)."""

    pages: int
    picture: str | None  # "pdf", "image", "rendering" or None
    note: str | None = None  # why there is no picture, in words


def _rendering(item: EvidenceItem) -> preview_service.Rendering:
    made_of = hashlib.sha256(f"{item.title}\0{item.original_filename}\0{item.media_type}".encode()).hexdigest()
    return preview_service.Rendering(made_of[:24], lambda original, out: render_text_like(item, original, out))


def sheets(session: Session, store: BlobStore, item: EvidenceItem) -> Sheets:
    kind = _check_readable(item)
    placed = session.exec(select(func.max(Redaction.page)).where(col(Redaction.evidence_id) == item.id)).first() or 1
    try:
        if kind == "pdf":
            return Sheets(preview_service.pdf_pages(store, item), "pdf")
        if kind != "image":
            return Sheets(preview_service.rendering_pages(store, item, _rendering(item)), "rendering")
    except preview_service.PageNotDrawn as exc:
        return Sheets(placed, None, str(exc.message))
    if item.media_type in preview_service.BROWSER_IMAGES:
        return Sheets(1, "image")
    return Sheets(placed, None, preview_service.NOT_IN_BROWSER)


def page_picture(store: BlobStore, item: EvidenceItem, page: int, width: int) -> bytes:
    """Page `page` as a PNG: a PDF's page as its preview draws it, or a page of a text-like item's rendering."""
    kind = _check_readable(item)
    if kind == "pdf":
        return preview_service.thumbnail(store, item, page, width)
    if kind == "image":
        raise NotFound("a picture is its own page: show the original")
    return preview_service.rendering_page(store, item, page, width, _rendering(item))


def sets_of(session: Session, item: EvidenceItem, limit: int = 5) -> list[RedactionSet]:
    """The item's latest redaction sets, newest first."""
    return list(
        session.exec(
            select(RedactionSet)
            .where(col(RedactionSet.evidence_id) == item.id)
            .order_by(col(RedactionSet.created_at).desc(), col(RedactionSet.id).desc())
            .limit(limit)
        ).all()
    )


def redacted_copy(session: Session, item: EvidenceItem) -> tuple[RedactionSet | None, list[Redaction]]:
    """The item's last applied redaction set and its redactions; RedactionsNotApplied when accepted redactions are
    not all in it (or there is none to hold them)."""
    accepted = {
        r.id: r
        for r in session.exec(
            select(Redaction).where(
                col(Redaction.evidence_id) == item.id, col(Redaction.status) == RedactionStatus.accepted
            )
        ).all()
    }
    last = session.exec(
        select(RedactionSet)
        .where(col(RedactionSet.evidence_id) == item.id, col(RedactionSet.status) == RedactionSetStatus.done)
        .order_by(col(RedactionSet.finished_at).desc())
        .limit(1)
    ).first()
    if not accepted:
        return None, []
    held = {uuid.UUID(r) for r in last.redaction_ids} if last is not None else set()
    if last is None or last.derived_evidence_id is None or set(accepted) - held:
        raise RedactionsNotApplied(
            f"items: evidence {item.id} ({item.title[:80]}) has accepted redactions that are not applied yet: apply "
            "them (POST /evidence/{id}/redactions/apply), then produce it"
        )
    return last, [accepted[i] for i in held if i in accepted]
