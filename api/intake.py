"""An uploaded original, from the request's body to an evidence item and its exhibit (and, for a record set, its
import queued).

The one way in for the API's upload routes and the web app's uploaders, so a file sent from a page meets the same
limits as one sent to the API: the largest size, counted while it streams; hashing as it arrives; the stall
timeout; and nothing half-written (a refused or broken upload leaves no staged file and no row). The caller holds
`api.request_body.receiving_body` around it, for the upload slot and the released connection.
"""

from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from api.config import get_settings
from api.services import evidence as evidence_service
from api.services import record_sets as record_set_service
from api.storage import BlobStore
from api.upload import UploadForm, read_upload
from models.case import Case
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.record_set import RecordSet
from models.user import User


@dataclass
class Received:
    item: EvidenceItem
    exhibit: Exhibit | None
    duplicate: bool  # the bytes were already evidence in the case: `item` is that one, and nothing was stored


def _as_sent(form: UploadForm) -> dict[str, str]:
    return form.fields


async def receive_evidence(
    request: Request,
    session: Session,
    store: BlobStore,
    *,
    case: Case,
    actor: User,
    fields: Callable[[UploadForm], dict[str, str]] = _as_sent,
    before_ingest: Callable[[UploadForm], None] | None = None,
    read_text: bool = True,
) -> Received:
    """Stream the request's multipart upload into the blob store and ingest it as evidence in `case`.

    `fields` gives the metadata fields to check, from the form as read (the uploader fills in defaults there,
    such as a title from the file's name). `before_ingest` checks the staged file before it becomes evidence (a
    record set's mapping against its header), raising a 4xx to refuse it. No database connection is used while the
    body arrives; the item is recorded once the whole file is staged, and the staged file is gone whatever happens."""
    settings = get_settings()

    def precheck(sent: UploadForm) -> None:
        evidence_service.parse_upload_fields(fields(sent), case)

    form = await read_upload(request, store, max_file_bytes=settings.max_upload_bytes, precheck=precheck)
    staged = form.staged
    assert staged is not None  # read_upload returns once the file is staged, and refuses a form without one
    try:
        meta = evidence_service.parse_upload_fields(fields(form), case)
        if before_ingest is not None:
            await run_in_threadpool(before_ingest, form)
        item, exhibit, duplicate = await run_in_threadpool(
            evidence_service.ingest,
            session,
            store,
            case=case,
            actor=actor,
            staged=staged,
            meta=meta,
            original_filename=form.filename,
            max_image_pixels=settings.max_image_pixels,
            read_text=read_text,
        )
    finally:
        staged.discard()  # no-op once committed into the store
    return Received(item, exhibit, duplicate)


# A record set's file keeps these evidence fields as sent; its kind is "other" and its title the set's name.
RECORD_SET_EVIDENCE_FIELDS = ("description", "custodian", "sha256", "source_url", "captured_at", "tags")


async def receive_record_set(
    request: Request,
    session: Session,
    store: BlobStore,
    *,
    case: Case,
    actor: User,
    fields: Callable[[UploadForm], dict[str, str]] = _as_sent,
) -> RecordSet:
    """A record set's upload: its name, role, mapping and format checked as soon as they arrive (before the file),
    the file checked once staged (a CSV's header against the mapping), then stored as evidence (an exhibit of the
    case, its text not read: its records are what is searched) and its import queued. A refusal is a 4xx naming
    the field, with nothing stored. `fields` gives the form's fields as the API takes them."""
    checked: dict = {}

    def evidence_fields(form: UploadForm) -> dict[str, str]:
        sent = fields(form)
        checked["form"] = record_set_service.check_form(sent)
        kept = {k: v for k, v in sent.items() if k in RECORD_SET_EVIDENCE_FIELDS}
        return kept | {"kind": "other", "title": checked["form"].name}

    def check_file(form: UploadForm) -> None:
        assert form.staged is not None
        sent = checked["form"]
        found = record_set_service.check_file(form.staged, sent.role, sent.mapping, sent.fmt)
        checked.update(fmt=found[0], compressed=found[1], header=found[2])

    received = await receive_evidence(
        request, session, store, case=case, actor=actor, fields=evidence_fields, before_ingest=check_file,
        read_text=False,  # its records are what is searched (`q`); reading a dump of millions for search helps nobody
    )  # fmt: skip
    return await run_in_threadpool(
        record_set_service.create,
        session,
        case=case,
        actor=actor,
        item=received.item,
        form=checked["form"],
        fmt=checked["fmt"],
        compressed=checked["compressed"],
        header=checked["header"],
    )
