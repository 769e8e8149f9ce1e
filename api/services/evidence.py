"""Evidence items: ingesting an upload, finding what a user may see, editing metadata. Deleting one is
`api/services/deletion.py`."""

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import ValidationError
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from api.config import get_settings
from api.dates import local_as_utc, parse_instant
from api.errors import Forbidden, Gone, NotFound, UnprocessableEntity
from api.services import audit, blobs
from api.services import exhibits as exhibit_service
from api.services import text as text_service
from api.services.inspect import inspect_blob
from api.services.search import index as search_index
from api.services.timeline import derived as timeline_derived
from api.storage import BlobStore, StagedBlob
from models.case import Case, CaseMember, Role
from models.common import utcnow
from models.evidence import EvidenceItem, EvidenceKind, EvidenceUpdate, EvidenceUploadForm
from models.exhibit import Exhibit
from models.facts import validate_facts  # noqa: F401 - re-exported for callers seeding evidence
from models.inputs import TAG_CHARS, TAGS_MAX, FormRefused, describe_errors
from models.safe_json import JSONRefused, load_json
from models.text import EvidenceText
from models.user import User

MAX_TAGS = TAGS_MAX


@dataclass
class EvidenceMeta:
    """Validated upload metadata, ready to store."""

    kind: EvidenceKind
    title: str
    description: str | None = None
    occurred_at: datetime | None = None
    captured_at: datetime | None = None
    source_url: str | None = None
    custodian: str | None = None
    tags: list[str] = field(default_factory=list)
    facts: dict = field(default_factory=dict)


def _check_url(url: str | None) -> str | None:
    if url is None or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UnprocessableEntity(f"source_url must be an absolute http(s) URL, got {url[:200]!r}")
    return url.strip()


def _clean_tags(tags: list[str]) -> list[str]:
    cleaned = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if len(cleaned) > MAX_TAGS or any(len(t) > TAG_CHARS for t in cleaned):
        raise UnprocessableEntity(f"tags: at most {MAX_TAGS} tags of at most {TAG_CHARS} characters each")
    return cleaned


def parse_upload_fields(fields: dict[str, str], case: Case) -> EvidenceMeta:
    """Turn multipart form fields into EvidenceMeta, with a 422 naming the first bad field.

    EvidenceUploadForm checks the fields as sent; what needs the case (its timezone, the facts its kind takes)
    or the decoded JSON is checked here."""
    try:
        form = EvidenceUploadForm.model_validate(fields)
    except FormRefused as exc:
        raise UnprocessableEntity(str(exc)) from None
    except ValidationError as exc:
        raise UnprocessableEntity(describe_errors(exc)) from None
    facts = None
    if form.facts is not None:
        try:
            facts = load_json(form.facts)
        except json.JSONDecodeError as exc:
            raise UnprocessableEntity(f"facts is not valid JSON: {exc}") from None
        except JSONRefused as exc:
            raise UnprocessableEntity(f"{exc.where('facts')} {exc.message}") from None
    try:
        return EvidenceMeta(
            kind=form.kind,
            title=form.title,
            description=form.description,
            occurred_at=parse_instant(form.occurred_at, case.timezone, field="occurred_at")
            if form.occurred_at
            else None,
            captured_at=parse_instant(form.captured_at, case.timezone, field="captured_at")
            if form.captured_at
            else None,
            source_url=_check_url(form.source_url),
            custodian=form.custodian,
            tags=_clean_tags((form.tags or "").split(",")),
            facts=validate_facts(form.kind, facts) if facts is not None else {},
        )
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None


def find_in_case(session: Session, case: Case, sha256: str) -> EvidenceItem | None:
    """Evidence with these bytes that was uploaded into, or is linked into, the case; a live item before a
    deleted one."""
    linked = select(Exhibit.evidence_id).where(Exhibit.case_id == case.id)
    return session.exec(
        select(EvidenceItem)
        .where(
            col(EvidenceItem.sha256) == sha256,
            or_(col(EvidenceItem.case_id) == case.id, col(EvidenceItem.id).in_(linked)),
        )
        .order_by(col(EvidenceItem.deleted_at).is_not(None))
    ).first()


def exhibit_in_case(session: Session, case: Case, item: EvidenceItem) -> Exhibit | None:
    return session.exec(select(Exhibit).where(Exhibit.case_id == case.id, Exhibit.evidence_id == item.id)).first()


def ingest(
    session: Session,
    store: BlobStore,
    *,
    case: Case,
    actor: User,
    staged: StagedBlob,
    meta: EvidenceMeta,
    original_filename: str,
    max_image_pixels: int,
    read_text: bool = True,
) -> tuple[EvidenceItem, Exhibit | None, bool]:
    """Store an uploaded original as evidence in the case and make it an exhibit; its text is queued to be read for
    search unless `read_text` is False (a record set's file: its records are what is searched).

    Returns (item, exhibit, duplicate). Bytes already in the case give back that item and store nothing.
    Bytes of an item deleted from the case restore that item (see `_restore`) as the case's next exhibit.
    """
    if staged.size == 0:
        raise UnprocessableEntity("the file is empty: an evidence item needs at least one byte")
    found = inspect_blob(staged, max_image_pixels=max_image_pixels)
    # Lock the case first: two requests with the same bytes then queue here, and the second sees the first.
    exhibit_service.lock_case(session, case)
    existing = find_in_case(session, case, staged.sha256)
    if existing is not None and existing.deleted_at is None:
        _record_upload(session, actor, existing, original_filename, duplicate=True)
        return existing, exhibit_in_case(session, case, existing), True
    if existing is not None:
        item = _restore(session, existing, actor=actor, original_filename=original_filename)
    else:
        item = EvidenceItem(
            **asdict(meta),
            case_id=case.id,
            sha256=staged.sha256,
            size_bytes=staged.size,
            media_type=found.media_type,
            original_filename=original_filename,
            page_count=found.page_count,
            width=found.width,
            height=found.height,
            inspection_note=found.note,
            uploaded_by=actor.id,
        )
        session.add(item)
        session.flush()
        _record_upload(session, actor, item, original_filename, duplicate=False)
    exhibit = exhibit_service.link(session, case=case, evidence=item, actor=actor)
    search_index.index_item(session, item)
    if read_text and session.get(EvidenceText, item.id) is None:  # a restored item keeps the text it had
        text_service.queue_item(session, item.id)
        text_service.on_commit_wake(session)
    blobs.commit_with(session, store, staged)
    return item, exhibit, False


def _restore(session: Session, item: EvidenceItem, *, actor: User, original_filename: str) -> EvidenceItem:
    """The same bytes uploaded into the case an item was deleted from bring that item back: its id, metadata
    and custody history (one row per case and hash), with the original stored again if it had been purged."""
    previous = {
        "deleted_at": item.deleted_at,
        "deleted_by": item.deleted_by,
        "deleted_reason": item.deleted_reason,
        "purged_at": item.purged_at,
    }
    # Every column written, so a purge committing meanwhile cannot leave purged_at set on a live item.
    session.execute(
        update(EvidenceItem)
        .where(col(EvidenceItem.id) == item.id)
        .values(deleted_at=None, deleted_by=None, deleted_reason=None, purged_at=None, updated_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    session.refresh(item)
    record_access(
        session, "evidence.restore", item, actor, {"original_filename": original_filename, "previous": previous}
    )
    return item


def _record_upload(session: Session, actor: User, item: EvidenceItem, filename: str, *, duplicate: bool) -> None:
    """Acquisition, as the custody report shows it: who, when, the name it came with, its size and hash."""
    audit.record(
        session,
        "evidence.upload",
        actor=actor,
        case_id=item.case_id,
        evidence_id=item.id,
        object_type="evidence",
        object_id=item.id,
        details={
            "original_filename": filename,
            "size_bytes": item.size_bytes,
            "sha256": item.sha256,
            "media_type": item.media_type,
            "duplicate": duplicate,
        },
    )


def ingest_file(session: Session, store: BlobStore, *, case: Case, actor: User, path, meta: EvidenceMeta):
    """Ingest a file from local disk (the demo, benchmarks) exactly as an upload of the same bytes."""
    with open(path, "rb") as f, blobs.staging(store, f) as staged:
        return ingest(
            session,
            store,
            case=case,
            actor=actor,
            staged=staged,
            meta=meta,
            original_filename=Path(path).name,
            max_image_pixels=get_settings().max_image_pixels,
        )


def role_for(session: Session, item: EvidenceItem, user: User) -> Role | None:
    """The highest role the user holds in any case the item belongs to or is linked into: what reading it
    goes by, since a member of a case reads every item in it."""
    linked = select(Exhibit.case_id).where(Exhibit.evidence_id == item.id)
    roles = session.exec(
        select(CaseMember.role).where(
            col(CaseMember.user_id) == user.id,
            or_(col(CaseMember.case_id) == item.case_id, col(CaseMember.case_id).in_(linked)),
        )
    ).all()
    return max((Role(r) for r in roles), key=lambda r: r.rank, default=None)


def home_role(session: Session, item: EvidenceItem, user: User) -> Role | None:
    """The user's role in the case the item was uploaded into (its home), which decides what happens to it."""
    member = session.get(CaseMember, (item.case_id, user.id))
    return Role(member.role) if member is not None else None


def get_visible(session: Session, evidence_id: uuid.UUID, user: User, *, role: Role = Role.viewer) -> EvidenceItem:
    """The item if the user may see it (404 otherwise, as for a missing one) and holds `role` for it.

    Any role in any case the item is in lets a user read it. A role above viewer must be held in its home case:
    its metadata is shared by every case it is linked into, so only its own case's editors change it.
    """
    item = session.get(EvidenceItem, evidence_id)
    held = role_for(session, item, user) if item else None
    if item is None or held is None:
        raise NotFound("evidence not found")
    if role.rank > Role.viewer.rank:
        home = home_role(session, item, user)
        if home is None or home.rank < role.rank:
            raise Forbidden(
                f"this needs the {role.value} role in the case it was uploaded into: every case it is linked into "
                "shares its metadata (an exhibit's note is each case's own)"
            )
    return item


def get_live(session: Session, evidence_id: uuid.UUID, user: User, *, role: Role = Role.viewer) -> EvidenceItem:
    """As `get_visible`, but a deleted item answers 410 saying who deleted it, when and why.

    Its custody report stays readable through `get_visible`: deleting an item keeps its history.
    """
    item = get_visible(session, evidence_id, user, role=role)
    if item.deleted_at is not None:
        raise Gone(deleted_message(session, item))
    return item


def deleted_message(session: Session, item: EvidenceItem) -> str:
    who = session.get(User, item.deleted_by) if item.deleted_by else None
    purged = f"; its original was purged on {item.purged_at:%Y-%m-%d %H:%M} UTC" if item.purged_at else ""
    return (
        f"evidence {item.id} was deleted on {item.deleted_at:%Y-%m-%d %H:%M} UTC"
        f"{f' by {who.email}' if who else ''}: {item.deleted_reason}{purged}. "
        "Uploading the same bytes into its case again restores it."
    )


def update_metadata(session: Session, item: EvidenceItem, data: EvidenceUpdate, *, actor: User) -> EvidenceItem:
    """Change metadata; the bytes, hash, size and sniffed type stay as uploaded."""
    changes = data.model_dump(exclude_unset=True)
    for name in ("kind", "title"):
        if name in changes and changes[name] is None:
            raise UnprocessableEntity(f"{name} cannot be cleared")
    case = case_of(session, item)
    kind = changes.get("kind") or item.kind
    try:
        if "facts" in changes or "kind" in changes:
            changes["facts"] = validate_facts(EvidenceKind(kind), changes.get("facts", item.facts) or {})
    except ValueError as exc:
        raise UnprocessableEntity(str(exc)) from None
    for name in ("occurred_at", "captured_at"):
        if changes.get(name) is not None:
            changes[name] = local_as_utc(changes[name], case.timezone)
    if "source_url" in changes:
        changes["source_url"] = _check_url(changes["source_url"])
    if "tags" in changes:
        changes["tags"] = _clean_tags(changes["tags"] or [])
    before, after = audit.changed(item, changes)
    item.sqlmodel_update(changes)
    item.updated_at = utcnow()
    session.add(item)
    session.flush()
    timeline_derived.sync_evidence(session, item)
    search_index.index_item(session, item)
    record_access(session, "evidence.update", item, actor, {"before": before, "after": after})
    return item


def record_access(
    session: Session, action: str, item: EvidenceItem, actor: User, details: dict | None = None, *, durable=False
) -> None:
    """An event about one evidence item: part of its chain of custody (kept on a rollback too, when durable)."""
    audit.record(
        session,
        action,
        actor=actor,
        case_id=item.case_id,
        evidence_id=item.id,
        object_type="evidence",
        object_id=item.id,
        details=details,
        durable=durable,
    )


def case_of(session: Session, item: EvidenceItem) -> Case:
    case = session.get(Case, item.case_id)
    assert case is not None  # evidence_items.case_id is a foreign key to cases
    return case


def get_item(session: Session, evidence_id: uuid.UUID) -> EvidenceItem:
    item = session.get(EvidenceItem, evidence_id)
    if item is None:
        raise NotFound("evidence not found")
    return item
