"""Productions: the case's documents as the other side receives them (api/production/build.py writes them), and
what the service records of each: its Bates range (continuing the prefix, or from a start that clashes with nothing
issued), the items and the copies produced of them, the manifest, the ZIP's SHA-256, who asked and when; and the
privilege claims and logs that go with them.

A production with `redacted` takes each item's redacted copy (its last applied redaction set) where it has one; an
item with accepted redactions not yet applied is refused, so nothing goes out half-redacted. An item withheld for
privilege is a slip sheet. Every document with redactions is read back before the production is kept
(build.LeakFound), and so is every field of its load-file row.
"""

import email
import email.policy
import hashlib
import logging
import shutil
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC
from email.utils import parsedate_to_datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, func, select

from api.config import get_settings
from api.db import session_scope
from api.errors import Conflict, NotFound, UnprocessableEntity
from api.production import build
from api.redaction import release
from api.redaction.pages import media_kind, render_text_like
from api.services import access, audit, blobs, jobs
from api.services import evidence as evidence_service
from api.services import exhibits as exhibit_service
from api.services import text as text_service
from api.services.bundle_build import DESIGNATION_LEGENDS, DESIGNATION_WORDS, strictest
from api.services.bundles import highest_issued
from api.services.redactions import RedactionsNotApplied, redacted_copy
from api.storage import BlobStore, file_sha256
from api.templating import render, render_pdf
from models.case import Case, Role
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Designation, Exhibit
from models.job import QUEUED, RUNNING
from models.production import PrivilegeClaim, PrivilegeIn, Production, ProductionCreate, ProductionStatus, Treatment
from models.redaction import Redaction, RedactionOrigin, RedactionStatus
from models.user import User

log = logging.getLogger("casebinder.production")
INTERRUPTED = "the server stopped while the production was being written; nothing of it was kept: produce it again"
TEXT_KINDS = ("csv", "json", "email", "text")

QUEUE = jobs.Queue(
    "production",
    Production,
    ProductionStatus,
    order=(Production.created_at, Production.id),
    interrupted=INTERRUPTED,
    serial_by="case_id",  # one production of a case at a time: each continues the Bates numbers of the one before
)


class Interrupted(Exception):
    """The server is stopping: the production is given up before anything is kept."""


class BatesClash(Conflict):
    """The production's Bates numbers would repeat numbers a bundle or production of the case already issued."""

    code = "bates_clash"


def get_visible(session: Session, production_id: uuid.UUID, user: User, role: Role = Role.viewer) -> Production:
    return access.case_object(session, Production, production_id, user, "production", role)


def list_productions(session: Session, case: Case) -> list[Production]:
    """The case's productions, in the order they were asked for."""
    return list(
        session.exec(select(Production).where(col(Production.case_id) == case.id).order_by(col(Production.number)))
    )


def label(production: Production) -> str:
    return f"PROD{production.number:03d}"


def bates_range(production: Production) -> tuple[str, str] | None:
    if production.bates_last_number is None:
        return None
    first = f"{production.prefix}{production.bates_first_number:0{production.digits}d}"
    return first, f"{production.prefix}{production.bates_last_number:0{production.digits}d}"


# Creating ------------------------------------------------------------------------------------------------------------


def _items(session: Session, case: Case, ids: list[uuid.UUID]) -> list[EvidenceItem]:
    if not ids:
        raise UnprocessableEntity("items: a production needs at least one evidence item")
    linked = set(session.exec(select(Exhibit.evidence_id).where(col(Exhibit.case_id) == case.id)).all())
    found = []
    for evidence_id in dict.fromkeys(ids):
        item = session.get(EvidenceItem, evidence_id)
        if item is None or (item.case_id != case.id and item.id not in linked):
            raise UnprocessableEntity(f"items: evidence {evidence_id} is not in this case")
        if item.deleted_at is not None:
            raise UnprocessableEntity(f"items: evidence {evidence_id} was deleted")
        found.append(item)
    return found


def create(session: Session, case: Case, actor: User, data: ProductionCreate) -> Production:
    exhibit_service.lock_case(session, case)
    items = _items(session, case, data.items)
    if data.redacted:
        for item in items:
            redacted_copy(session, item)
    highest, issued_by = highest_issued(session, case, data.prefix)
    running = session.exec(
        select(Production.id).where(
            col(Production.case_id) == case.id, col(Production.prefix) == data.prefix,
            col(Production.status).in_((QUEUED, RUNNING)),
        )
    ).first()  # fmt: skip
    if data.start is not None:
        if highest is not None and data.start <= highest:
            raise BatesClash(
                f"start {data.start} repeats Bates numbers already issued under {data.prefix}: {issued_by} issued up "
                f"to {data.prefix}{highest:0{data.digits}d}; start at {highest + 1} or leave start out to continue"
            )
        if running is not None:
            raise BatesClash(
                f"production {running} under {data.prefix} is still being written: its numbers are not known yet; "
                "leave start out to continue after it"
            )
    number = (
        session.exec(select(func.max(Production.number)).where(col(Production.case_id) == case.id)).one() or 0
    ) + 1
    production = Production(
        case_id=case.id, number=number, name=data.name, recipient=data.recipient, prefix=data.prefix,
        digits=data.digits, bates_first_number=data.start or (highest or 0) + 1,
        items=[str(i.id) for i in items], redacted=data.redacted, natives=[n.lower().lstrip(".") for n in data.natives],
        text=data.text, image_format=data.image_format, encoding=data.encoding, legend=data.legend,
        created_by=actor.id,
    )  # fmt: skip
    production.check = {"start_given": data.start is not None}
    QUEUE.queue(session, production)
    audit.record_case(
        session, "production.create", case.id, actor=actor,
        details={"production_id": str(production.id), "label": label(production), "name": data.name,
                 "recipient": data.recipient, "items": len(items), "prefix": data.prefix, "redacted": data.redacted},
    )  # fmt: skip
    return production


# Running -------------------------------------------------------------------------------------------------------------


def _md5(path: Path) -> str:
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as f:
        while block := f.read(1024 * 1024):
            digest.update(block)
    return digest.hexdigest()


def _date_sent(path: Path) -> str:
    try:
        with path.open("rb") as f:
            message = email.message_from_binary_file(f, policy=email.policy.compat32)
        sent = parsedate_to_datetime(message["Date"]) if message["Date"] else None
    except (ValueError, TypeError, OSError):
        return ""
    return sent.strftime("%m/%d/%Y") if sent else ""


def _native(item: EvidenceItem, natives: list[str]) -> bool:
    ext = Path(item.original_filename).suffix.lower().lstrip(".")
    return media_kind(item) == "native" or str(item.kind) in natives or (ext != "" and ext in natives)


def _documents(session: Session, stack: ExitStack, store: BlobStore, production: Production) -> list[build.Document]:
    docs = []
    designations: dict[uuid.UUID, Designation] = {
        evidence_id: Designation(designation)
        for evidence_id, designation in session.exec(
            select(Exhibit.evidence_id, Exhibit.designation).where(col(Exhibit.case_id) == production.case_id)
        )
    }
    for evidence_id in production.items:
        item = session.get(EvidenceItem, uuid.UUID(evidence_id))
        if item is None or item.deleted_at is not None:
            raise UnprocessableEntity(f"evidence {evidence_id} was deleted since the production was asked for")
        claim = session.get(PrivilegeClaim, item.id)
        withheld = str(claim.privilege) if claim is not None and claim.treatment == Treatment.withheld else None
        redaction_set, redactions = redacted_copy(session, item) if production.redacted and not withheld else (None, [])
        produced = item
        if redaction_set is not None and redaction_set.derived_evidence_id is not None:
            copy = session.get(EvidenceItem, redaction_set.derived_evidence_id)
            if copy is None or copy.deleted_at is not None:
                raise RedactionsNotApplied(
                    f"the redacted copy of evidence {item.id} was deleted: apply its redactions again"
                )
            produced = copy
        original = stack.enter_context(store.local_copy(item.sha256))
        source = original if produced is item else stack.enter_context(store.local_copy(produced.sha256))
        designation = designations.get(item.id)
        legend = (
            strictest(production.legend, DESIGNATION_LEGENDS.get(designation)) if designation else production.legend
        )
        kind = media_kind(produced)
        # What detectors found is looked for in every document produced; a hand-drawn box's words were checked on
        # its own page when the redactions were applied.
        wanted = [
            release.Wanted(r.found or r.text or "", r.rule, r.page, str(r.id))
            for r in redactions
            if r.origin != RedactionOrigin.drawn
        ]
        fields = {
            "CUSTODIAN": item.custodian or "",
            "CONFIDENTIALITY": DESIGNATION_WORDS.get(designation, "") if designation else "",
            "DATECREATED": item.occurred_at.strftime("%m/%d/%Y") if item.occurred_at else "",
        }
        if not withheld:
            fields |= {
                "FILENAME": item.original_filename, "FILEEXT": Path(item.original_filename).suffix.lstrip(".").lower(),
                "MD5HASH": _md5(original), "SHA256HASH": item.sha256,
                "DATESENT": _date_sent(original) if media_kind(item) == "email" else "",
            }  # fmt: skip
            if wanted and release.Matcher(wanted).found(item.original_filename):
                fields["FILENAME"] = "REDACTED"  # the file's own name holds what was redacted
        renderer: Callable[[Path, str], Path] | None = None
        if kind in TEXT_KINDS:
            renderer = _renderer(produced, source)
        stored = {p.page: p.text for p in text_service.pages(session, produced.id) if p.source == "ocr"}
        native = not withheld and not redactions and _native(item, production.natives)
        docs.append(
            build.Document(
                evidence_id=str(item.id), source=source, media_type=produced.media_type, kind=kind,
                filename=item.original_filename, native=native,
                redacted=bool(redactions), withheld=withheld, legend=legend, fields=fields, wanted=wanted,
                stored_text=stored, render_text_like=renderer,
            )
        )  # fmt: skip
    return docs


def _renderer(item: EvidenceItem, source: Path) -> Callable[[Path, str], Path]:
    def render(out: Path, label: str) -> Path:
        return render_text_like(item, source, out, label=label)

    return render


def _start(session: Session, production: Production) -> int:
    """Where the production's numbers start: as given, or one past the highest issued now (the productions of a
    case run one at a time, so the one before has recorded its numbers)."""
    if production.check.get("start_given"):
        return production.bates_first_number
    case = session.get(Case, production.case_id)
    assert case is not None
    return (highest_issued(session, case, production.prefix)[0] or 0) + 1


def execute(production_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    store = blobs.served_store()
    settings = get_settings()
    scratch = store.scratch_path(f"production-{uuid.uuid4().hex}")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with session_scope() as session, ExitStack() as stack:
            production = session.get(Production, production_id)
            assert production is not None, "a claimed job's row is there"
            first = _start(session, production)
            docs = _documents(session, stack, store, production)
            config = build.Settings(
                prefix=production.prefix, digits=production.digits, first_number=first, volume=label(production),
                image_format=str(production.image_format), text=production.text, encoding=str(production.encoding),
                max_pixels=settings.max_image_pixels,
            )  # fmt: skip
            produced = build.produce(docs, config, scratch)
            tick()
            zip_sha256, zip_size = file_sha256(produced.zip_path), produced.zip_path.stat().st_size
            staged = store.adopt(produced.zip_path, zip_sha256, zip_size)
            staged.commit()
            staged.settle(committed=True)
            actor = session.get(User, production.created_by)
            finished = QUEUE.finish(
                session, production_id, bates_first_number=first, bates_last_number=produced.last_number,
                documents=produced.documents, manifest=produced.manifest, zip_sha256=zip_sha256,
                zip_size=zip_size, check=production.check | produced.check,
            )  # fmt: skip
            if finished:
                _record(session, production, produced, zip_sha256, first, actor)
    except (build.LeakFound, UnprocessableEntity, Conflict) as exc:
        message = exc.args[0] if isinstance(exc, build.LeakFound) else str(exc)
        if isinstance(exc, build.LeakFound):
            message = (
                f"the release check found redacted text in what would be produced ({message}); nothing was released"
            )
        with session_scope() as session:
            QUEUE.fail(session, production_id, message)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _record(
    session: Session, production: Production, produced: build.Produced, zip_sha256: str, first: int, actor
) -> None:
    name = label(production)
    for doc in produced.documents:
        item = session.get(EvidenceItem, uuid.UUID(doc["evidence_id"]))
        if item is not None and actor is not None:
            evidence_service.record_access(
                session, "evidence.produced", item, actor,
                {"production_id": str(production.id), "production": name, "recipient": production.recipient,
                 "bates_first": doc["bates_first"], "bates_last": doc["bates_last"], "redacted": doc["redacted"],
                 "withheld": doc["withheld"]},
            )  # fmt: skip
    audit.record_case(
        session, "production.done", production.case_id, actor=actor,
        details={"production_id": str(production.id), "production": name, "zip_sha256": zip_sha256,
                 "bates_first": f"{production.prefix}{first:0{production.digits}d}",
                 "bates_last": f"{production.prefix}{produced.last_number:0{production.digits}d}",
                 "documents": len(produced.documents), "files": len(produced.manifest)},
    )  # fmt: skip


def reproduce(session: Session, production: Production, actor: User) -> dict:
    """Write the production again from what it recorded, and compare the ZIP's bytes with the first."""
    if production.status != ProductionStatus.done:
        raise UnprocessableEntity(f"the production is {production.status}: reproduce it once it is done")
    store = blobs.served_store()
    scratch = store.scratch_path(f"reproduce-{uuid.uuid4().hex}")
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        with ExitStack() as stack:
            docs = _documents(session, stack, store, production)
            config = build.Settings(
                prefix=production.prefix, digits=production.digits, first_number=production.bates_first_number,
                volume=label(production), image_format=str(production.image_format), text=production.text,
                encoding=str(production.encoding), max_pixels=get_settings().max_image_pixels,
            )  # fmt: skip
            again = build.produce(docs, config, scratch)
            sha256 = file_sha256(again.zip_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    same = sha256 == production.zip_sha256
    different = sorted(p for p in set(again.manifest) | set(production.manifest)
                       if again.manifest.get(p) != production.manifest.get(p))  # fmt: skip
    audit.record_case(
        session, "production.reproduce", production.case_id, actor=actor,
        details={"production_id": str(production.id), "same": same, "zip_sha256": sha256},
    )  # fmt: skip
    return {"same": same, "zip_sha256": production.zip_sha256, "reproduced_sha256": sha256, "different": different}


# Privilege -----------------------------------------------------------------------------------------------------------


def put_claim(session: Session, item: EvidenceItem, actor: User, data: PrivilegeIn) -> PrivilegeClaim:
    claim = session.get(PrivilegeClaim, item.id) or PrivilegeClaim(
        evidence_id=item.id, case_id=item.case_id, treatment=data.treatment, privilege=data.privilege,
        basis=data.basis, subject=data.subject, updated_by=actor.id,
    )  # fmt: skip
    claim.treatment, claim.privilege, claim.basis, claim.subject = (
        data.treatment,
        data.privilege,
        data.basis,
        data.subject,
    )
    claim.dated, claim.author, claim.recipients = data.date, data.author, list(data.recipients)
    claim.updated_by, claim.updated_at = actor.id, utcnow()
    session.add(claim)
    evidence_service.record_access(
        session, "evidence.privilege", item, actor,
        {"treatment": str(data.treatment), "privilege": str(data.privilege)},
    )  # fmt: skip
    return claim


def drop_claim(session: Session, item: EvidenceItem, actor: User) -> None:
    claim = session.get(PrivilegeClaim, item.id)
    if claim is None:
        raise NotFound("the item has no privilege claim")
    session.delete(claim)
    evidence_service.record_access(session, "evidence.privilege_withdrawn", item, actor, {})


def produced_ranges(session: Session, case_id: uuid.UUID) -> dict[str, list[str]]:
    """Every Bates range each item was produced under, by evidence id, in production order."""
    ranges: dict[str, list[str]] = {}
    rows = session.exec(
        select(Production)
        .where(col(Production.case_id) == case_id, col(Production.status) == ProductionStatus.done)
        .order_by(col(Production.number))
    ).all()
    for production in rows:
        for doc in production.documents:
            shown = (
                doc["bates_first"]
                if doc["bates_first"] == doc["bates_last"]
                else f"{doc['bates_first']}-{doc['bates_last']}"
            )
            ranges.setdefault(doc["evidence_id"], []).append(shown)
    return ranges


def privilege_log(session: Session, case: Case) -> list[dict]:
    """One entry per item withheld or redacted for privilege, with the Bates ranges it was produced under (a
    withheld item's slip sheet)."""
    ranges = produced_ranges(session, case.id)
    claims = session.exec(select(PrivilegeClaim).where(col(PrivilegeClaim.case_id) == case.id)).all()
    entries = []
    for claim in claims:
        item = session.get(EvidenceItem, claim.evidence_id)
        if item is None or item.deleted_at is not None:
            continue
        entries.append({
            "bates": "; ".join(ranges.get(str(item.id), [])), "evidence_id": str(item.id),
            "date": claim.dated.isoformat() if claim.dated else "", "author": claim.author or "",
            "recipients": "; ".join(claim.recipients), "privilege": str(claim.privilege),
            "treatment": "Withheld" if claim.treatment == Treatment.withheld else "Redacted",
            "basis": claim.basis, "subject": claim.subject,
        })  # fmt: skip
    return sorted(entries, key=lambda e: (e["bates"] or "~", e["date"], e["evidence_id"]))


def redaction_log(session: Session, case: Case) -> list[dict]:
    """Every accepted redaction that is not for privilege (FRCP 5.2 and protective-order redactions), with the Bates
    ranges its item was produced under; what was redacted is never in it."""
    ranges = produced_ranges(session, case.id)
    rows = session.exec(
        select(Redaction, EvidenceItem)
        .join(EvidenceItem, col(EvidenceItem.id) == col(Redaction.evidence_id))
        .where(col(EvidenceItem.case_id) == case.id, col(Redaction.status) == RedactionStatus.accepted)
        .order_by(col(EvidenceItem.created_at), col(Redaction.page), col(Redaction.y0))
    ).all()
    privileged = set(session.exec(select(PrivilegeClaim.evidence_id).where(col(PrivilegeClaim.case_id) == case.id)))
    return [
        {"bates": "; ".join(ranges.get(str(item.id), [])), "evidence_id": str(item.id), "page": r.page,
         "rule": r.rule, "reason": r.reason}
        for r, item in rows
        if item.id not in privileged or not r.reason.lower().startswith("privilege")
    ]  # fmt: skip


PRIVILEGE_KEYS = ("bates", "date", "author", "recipients", "privilege", "treatment", "basis", "subject")


def privilege_log_pdf(case: Case, rows: list[dict], titles: list[str]) -> bytes:
    """The privilege log for service: the case's caption, then a row per entry, dated in the case's timezone."""
    now = utcnow()
    html = render(
        "production/privilege_log.html", case=case, rows=rows, columns=list(zip(PRIVILEGE_KEYS, titles, strict=True)),
        generated=now.astimezone(ZoneInfo(case.timezone)).strftime("%Y-%m-%d %H:%M %Z"),
        created=now.astimezone(UTC).isoformat(timespec="seconds"),
    )  # fmt: skip
    return render_pdf(html)
