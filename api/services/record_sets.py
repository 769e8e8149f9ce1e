"""Record sets: a data file uploaded as evidence, then read into records by a background job.

The upload is an evidence upload like any other (hashed as it streams, stored once, an exhibit of the case, under
the case's legal hold), checked first against its mapping; the record set row is queued in the same transaction.
The import job (kind "records") streams the stored original: memory stays flat whatever its size. Records are
written a batch per transaction with the progress; a line that cannot be a record is refused with its line number
and reading goes on, up to `records_max_rejected` refused lines, after which the import fails. A failed import
keeps no record (`_ended`), and one that is run again (its worker died) starts from the first line.
"""

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from sqlmodel import Session, col, select

from api.collecting import fewer_collections
from api.config import get_settings
from api.db import get_engine, session_scope
from api.errors import Conflict, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.records import load, parallel, reading, written_times
from api.records.fields import Converter, Mapping, MappingRefused, check_mapping
from api.services import access, audit, blobs, holds, jobs
from api.services import evidence as evidence_service
from api.storage import BlobStore, StagedBlob
from models.case import Case
from models.evidence import EvidenceItem, EvidenceKind
from models.exhibit import Exhibit
from models.record_set import (
    RecordError,
    RecordFormat,
    RecordRole,
    RecordSet,
    RecordSetPublic,
    RecordSetStatus,
)
from models.user import User

log = logging.getLogger("casebinder.records")
INTERRUPTED = "interrupted: the server stopped during the import, so none of its records were kept; import it again"
LOST = "the original file of this record set is missing from the store, so nothing was imported"
ERRORS_KEPT = 100  # the first refused lines listed with their reasons
# A block of lines a reader process takes at a time: a few thousand leak-sized records, one transaction.
PARALLEL_BLOCK_BYTES = 4 * 1024**2
NAME_CHARS = 300
MAPPING_CHARS = 100_000
HEAD_BYTES = 64 * 1024


class RecordSetBusy(Conflict):
    """The record set is still being imported: it can be deleted once its import has ended."""

    code = "record_set_importing"


# Checking what is sent, before and after the file arrives.


@dataclass(frozen=True)
class Form:
    """A record set's form fields, checked."""

    name: str
    role: RecordRole
    mapping: dict[str, str]
    fmt: RecordFormat | None  # if given; else told from the file's first bytes
    date_order: str | None


def check_form(fields: dict[str, str]) -> Form:
    """The upload's form fields, checked; 422 naming the first bad one."""
    name = (fields.get("name") or "").strip()
    if not name:
        raise UnprocessableEntity("name: give the record set a name (e.g. 'Leaked reviewer database')")
    if len(name) > NAME_CHARS or "\x00" in name:
        raise UnprocessableEntity(f"name: at most {NAME_CHARS} characters, and no NUL")
    try:
        role = RecordRole((fields.get("role") or "").strip())
    except ValueError:
        raise UnprocessableEntity(
            f"role: {fields.get('role', '')[:50]!r} is not one of {', '.join(r.value for r in RecordRole)}"
        ) from None
    raw = fields.get("mapping")
    if not raw:
        raise UnprocessableEntity('mapping: send the mapping, a JSON object {"<source path>": "<canonical field>"}')
    if len(raw) > MAPPING_CHARS:
        raise UnprocessableEntity(f"mapping: at most {MAPPING_CHARS:,} characters")
    try:
        sent = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise UnprocessableEntity(f"mapping is not valid JSON: {exc}") from None
    try:
        mapping = check_mapping(sent, role)
    except MappingRefused as exc:
        raise UnprocessableEntity(str(exc)) from None
    fmt = None
    if fields.get("format"):
        try:
            fmt = RecordFormat(fields["format"].strip())
        except ValueError:
            raise UnprocessableEntity(
                f"format: {fields['format'][:20]!r} is not one of {', '.join(f.value for f in RecordFormat)}"
            ) from None
    date_order = (fields.get("date_order") or "").strip().lower() or None
    if date_order is not None and date_order not in written_times.DATE_ORDERS:
        raise UnprocessableEntity(
            f"date_order: {fields['date_order'][:20]!r} is not one of mdy (03/04/2021 is March 4) or dmy (it is "
            "3 April); leave it out when the file's dates are ISO 8601 or start with the year"
        )
    return Form(name, role, mapping, fmt, date_order)


def check_file(staged: StagedBlob, role: RecordRole, mapping: dict[str, str], fmt: RecordFormat | None) -> tuple:
    """(format, compressed, CSV header) of the staged file, told from its first bytes unless given; 422 when the
    mapping names a column a CSV's header does not have, or the file is empty."""
    if staged.size == 0:
        raise UnprocessableEntity("the file is empty: a record set needs at least one record")
    with staged.open() as f:
        head = f.read(HEAD_BYTES)
    sniffed, compressed = reading.sniff(head)
    fmt = fmt or sniffed
    wrong = next((p for p in mapping if not p.startswith(("_source.", "_id", "_index", "_score"))), None)
    if fmt == RecordFormat.es and wrong is not None:
        raise UnprocessableEntity(
            f"mapping[{wrong!r}]: paths into an Elasticsearch export start at the hit: _id, or _source.<field>"
        )
    header: list[str] = []
    if fmt == RecordFormat.csv:
        with staged.open() as f:
            source = reading.Source(f, max_inflated=get_settings().records_max_inflated_bytes)
            first = next(reading.lines(source.chunks(), max_line_bytes=get_settings().records_max_line_bytes), None)
        if first is None:
            raise UnprocessableEntity("the file is empty: a record set needs at least one record")
        try:
            header = reading.csv_header(first)
        except reading.FileRefused as exc:
            raise UnprocessableEntity(str(exc)) from None
        missing = Mapping.of(mapping, role, fmt).missing_columns(header)
        if missing:
            shown = ", ".join(repr(h) for h in header[:30])
            raise UnprocessableEntity(
                f"mapping names {', '.join(repr(m) for m in missing)}, which the CSV's header does not have; "
                f"its columns are {shown}"
            )
    return fmt, compressed, header


def create(
    session: Session,
    *,
    case: Case,
    actor: User,
    item: EvidenceItem,
    form: Form,
    fmt: RecordFormat,
    compressed: bool,
    header: list[str],
) -> RecordSet:
    """Queue the import of an item just stored as evidence, in the same transaction (`fmt`: the file's format, as
    given or told)."""
    name, role, mapping = form.name, form.role, form.mapping
    record_set = RecordSet(
        case_id=case.id,
        evidence_id=item.id,
        name=name,
        role=role,
        format=fmt,
        compressed=compressed,
        mapping=mapping,
        date_order=form.date_order,
        columns=header,
        created_by=actor.id,
    )
    QUEUE.queue(session, record_set)
    audit.record(
        session,
        "record_set.create",
        actor=actor,
        case_id=case.id,
        evidence_id=item.id,
        object_type="record_set",
        object_id=record_set.id,
        details={
            "name": name,
            "role": role.value,
            "format": fmt.value,
            "mapping": mapping,
            "date_order": form.date_order,
        },  # fmt: skip
    )
    return record_set


def create_from_file(
    session: Session, store: BlobStore, *, case: Case, actor: User, path: Path, name: str, role: RecordRole,
    mapping: dict[str, str], date_order: str | None = None,
) -> RecordSet:  # fmt: skip
    """A record set from a file on local disk (the demo), checked, stored and queued exactly as an upload of the same
    bytes with this name, role, mapping and date order."""
    fields = {"name": name, "role": role.value, "mapping": orjson.dumps(mapping).decode(), "date_order": date_order}
    form = check_form({k: v for k, v in fields.items() if v})
    with path.open("rb") as f, blobs.staging(store, f) as staged:
        fmt, compressed, header = check_file(staged, form.role, form.mapping, form.fmt)
        meta = evidence_service.EvidenceMeta(kind=EvidenceKind.other, title=form.name)
        item, _, _ = evidence_service.ingest(
            session, store, case=case, actor=actor, staged=staged, meta=meta, original_filename=path.name,
            max_image_pixels=get_settings().max_image_pixels, read_text=False,
        )  # fmt: skip
    return create(session, case=case, actor=actor, item=item, form=form, fmt=fmt, compressed=compressed, header=header)


# Reading them.


def get_visible(session: Session, record_set_id: uuid.UUID, user: User, role=None) -> RecordSet:
    """The record set if the user is a member of its case (404 otherwise, as for a missing one)."""
    if role is None:
        return access.case_object(session, RecordSet, record_set_id, user, "record set")
    return access.case_object(session, RecordSet, record_set_id, user, "record set", role)


def exhibit_label(session: Session, record_set: RecordSet) -> str | None:
    return session.exec(
        select(Exhibit.label).where(
            Exhibit.case_id == record_set.case_id, Exhibit.evidence_id == record_set.evidence_id
        )
    ).first()


def citation_label(session: Session, record_set: RecordSet) -> str:
    """What its records are cited by: its original's exhibit label, or its name when the original is no exhibit."""
    return exhibit_label(session, record_set) or record_set.name


def viewed(session: Session, record_set: RecordSet, user: User, details: dict) -> None:
    """Records read (listed, looked up), on the audit trail as every read of evidence is."""
    audit.record(
        session,
        "records.view",
        actor=user,
        case_id=record_set.case_id,
        evidence_id=record_set.evidence_id,
        object_type="record_set",
        object_id=record_set.id,
        details=details,
    )


def public(session: Session, record_set: RecordSet) -> RecordSetPublic:
    item = session.get(EvidenceItem, record_set.evidence_id)
    assert item is not None, "a record set's original is evidence, kept while the set is"
    return RecordSetPublic(
        id=record_set.id,
        case_id=record_set.case_id,
        evidence_id=record_set.evidence_id,
        exhibit_label=exhibit_label(session, record_set),
        sha256=item.sha256,
        name=record_set.name,
        role=record_set.role,
        format=record_set.format,
        compressed=record_set.compressed,
        mapping=record_set.mapping,
        date_order=record_set.date_order,
        status=record_set.status,
        rows_done=record_set.rows_done,
        rows_total=record_set.rows_total,
        rows_rejected=record_set.rows_rejected,
        errors=[RecordError.model_validate(e) for e in record_set.errors or []],
        bytes_read=record_set.bytes_read,
        size_bytes=item.size_bytes,
        message=record_set.message,
        created_by=record_set.created_by,
        created_at=record_set.created_at,
        started_at=record_set.started_at,
        finished_at=record_set.finished_at,
    )


def list_sets(session: Session, case: Case, *, limit: int, cursor: str | None):
    return keyset_page(
        session,
        select(RecordSet).where(RecordSet.case_id == case.id),
        kind="record_sets",
        columns=[RecordSet.created_at, RecordSet.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda r: (r.created_at, r.id),
        limit=limit,
        cursor=cursor,
    )


def delete_set(session: Session, record_set: RecordSet, *, actor: User) -> None:
    """Remove a record set and its records (the original file stays evidence). Refused under a legal hold, and
    while it is being imported."""
    holds.refuse_if_held(
        session,
        case_id=record_set.case_id,
        attempted="record_set.delete",
        target=f"delete record set {record_set.name!r}",
        actor=actor,
        details={"record_set_id": record_set.id},
    )
    if record_set.status in (RecordSetStatus.queued, RecordSetStatus.running):
        raise RecordSetBusy("the record set is still being imported; delete it once its import has ended")
    load.remove(session, record_set.id)
    audit.record(
        session,
        "record_set.delete",
        actor=actor,
        case_id=record_set.case_id,
        evidence_id=record_set.evidence_id,
        object_type="record_set",
        object_id=record_set.id,
        details={"name": record_set.name, "rows": record_set.rows_done},
    )
    session.delete(record_set)


def forget(session: Session, evidence_id: uuid.UUID) -> None:
    """An original purged: the record sets read from it go, with their records and indexes (a purge removes the
    content, and records are the content)."""
    for record_set in session.exec(select(RecordSet).where(col(RecordSet.evidence_id) == evidence_id)).all():
        load.remove(session, record_set.id)
        session.delete(record_set)


# The import job's side (api/worker.py).


class Interrupted(Exception):
    """The server is stopping: the import gives up and is failed."""


class TooManyRefused(Exception):
    pass


def _ended(session: Session, record_set_id: uuid.UUID) -> None:
    """A failed import keeps none of its records, nor their indexes."""
    load.remove(session, record_set_id)


QUEUE = jobs.Queue(
    "records",
    RecordSet,
    RecordSetStatus,
    order=(RecordSet.created_at, RecordSet.id),
    interrupted=INTERRUPTED,
    reason="message",
    ended=_ended,
)


def execute(record_set_id: uuid.UUID, *, tick: Callable[[], None]) -> None:
    """Run a claimed import to its end: done, or failed with why (and then none of its records kept). `tick` is
    called after each batch and raises Interrupted when the server stops."""
    settings = get_settings()
    load.drop_emptied(get_engine())  # the partitions of the sets removed since the last import
    with session_scope() as session:
        record_set = session.get(RecordSet, record_set_id)
        assert record_set is not None, "a claimed job's row is there"
        item = session.get(EvidenceItem, record_set.evidence_id)
        case = session.get(Case, record_set.case_id)
        if item is None or case is None:
            raise LookupError("the record set's case or original is gone")
        # Its records' place (a run again after a worker died starts from the first line, with nothing kept).
        load.prepare(session, record_set_id)
        dialect = session.get_bind().dialect.name
        timezone, sha256, size = case.timezone, item.sha256, item.size_bytes
    store = blobs.served_store()
    if not store.exists(sha256):
        with session_scope() as session:
            QUEUE.fail(session, record_set_id, LOST)
        return
    tally = _Tally(settings.records_max_rejected)
    started = time.perf_counter()
    try:
        with store.open(sha256) as raw, fewer_collections():
            source = reading.Source(raw, max_inflated=settings.records_max_inflated_bytes)
            readers = settings.records_import_processes
            if record_set.format != RecordFormat.csv and readers > 1 and size >= settings.records_parallel_min_bytes:
                spec = parallel.Spec(
                    record_set_id, get_engine().url.render_as_string(hide_password=False), record_set.mapping,
                    RecordRole(record_set.role), RecordFormat(record_set.format), timezone, record_set.date_order,
                    settings.records_phone_region, settings.records_max_line_bytes, ERRORS_KEPT,
                )  # fmt: skip
                _read_in_parallel(spec, source, size, tally, tick, readers)
            else:
                _read_here(record_set, source, size, tally, tick, dialect, timezone)
    except TooManyRefused:
        first = tally.errors[0]
        message = (
            f"more than {settings.records_max_rejected:,} lines were refused, so the import stopped and kept nothing "
            f"(the first, line {first['line']:,}: {first['message']}); check the mapping and the file's format"
        )
        _fail(record_set_id, message, tally.refused, tally.errors)
        return
    except reading.FileRefused as exc:
        _fail(record_set_id, f"{exc}; nothing of it was kept", tally.refused, tally.errors)
        return
    except parallel.ReaderFailed as exc:
        _fail(record_set_id, f"the import failed and kept nothing: {exc}", tally.refused, tally.errors)
        return
    done, refused, errors = tally.done, tally.refused, tally.errors
    read = time.perf_counter()
    if done >= settings.records_indexed_from_rows:
        load.create_indexes(record_set_id, RecordRole(record_set.role))
    indexed = time.perf_counter()
    with session_scope() as session:
        if done >= 10_000:
            load.analyze(session, record_set_id)
        finished = QUEUE.finish(
            session, record_set_id, rows_done=done, rows_rejected=refused, rows_total=done + refused,
            errors=errors, bytes_read=source.bytes_read,
        )  # fmt: skip
        if not finished:  # failed or cancelled meanwhile: its records went, and so do their indexes
            load.drop_indexes(session, record_set_id)
        if finished:
            audit.record(
                session,
                "record_set.import",
                actor=session.get(User, record_set.created_by),
                case_id=case.id,
                evidence_id=item.id,
                object_type="record_set",
                object_id=record_set_id,
                details={"rows": done, "rejected": refused, "sha256": sha256},
            )
    log.info(
        "record set %s: %d records, %d lines refused; read and written in %.1f s, indexed in %.1f s, then %.1f s",
        record_set_id, done, refused, read - started, indexed - read, time.perf_counter() - indexed,
    )  # fmt: skip


@dataclass
class _Tally:
    """An import's count of records stored and lines refused, with the first refused lines' reasons; more refused
    lines than `max_refused` stop it."""

    max_refused: int
    done: int = 0
    refused: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)

    def refuse(self, line: int, message: str) -> None:
        self.refused += 1
        if len(self.errors) < ERRORS_KEPT:
            self.errors.append({"line": line, "message": message[:500]})
        if self.refused > self.max_refused:
            raise TooManyRefused

    def add(self, outcome: parallel.Outcome) -> None:
        self.done += outcome.done
        self.refused += outcome.refused
        self.errors.extend(outcome.errors[: ERRORS_KEPT - len(self.errors)])
        if self.refused > self.max_refused:
            raise TooManyRefused

    def progress(self, source: reading.Source, size: int) -> dict[str, Any]:
        """The record set's progress columns: rows_total is estimated from the share of the file read so far."""
        read = max(source.bytes_read, 1)
        seen = self.done + self.refused
        return {
            "rows_done": self.done,
            "rows_rejected": self.refused,
            "rows_total": int(seen * size / read) if read < size else seen,
            "bytes_read": source.bytes_read,
            "errors": list(self.errors),
        }


def _read_here(
    record_set: RecordSet, source: reading.Source, size: int, tally: _Tally, tick: Callable[[], None], dialect: str,
    timezone: str,
) -> None:  # fmt: skip
    """Read the file in this thread, writing each batch with the set's progress."""
    settings = get_settings()
    mapping = Mapping.of(record_set.mapping, record_set.role, record_set.format)
    converter = Converter(
        mapping, timezone=timezone, phone_region=settings.records_phone_region, date_order=record_set.date_order
    )
    records = reading.records(source, record_set.format, max_line_bytes=settings.records_max_line_bytes)
    with load.Batches(record_set.id, dialect, RecordRole(record_set.role)) as batches:
        for row in load.made_rows(records, converter, batches.make, tally.refuse):
            tally.done += 1
            if batches.add(row):
                batches.write(tally.progress(source, size))
                tick()
        batches.write(tally.progress(source, size))
        tick()


def _read_in_parallel(
    spec: parallel.Spec, source: reading.Source, size: int, tally: _Tally, tick: Callable[[], None], processes: int
) -> None:
    """Read the file's blocks in reader processes, which write their records; the progress is written here as
    their outcomes come back."""
    progress = QUEUE.progress(spec.record_set_id)
    blocks = reading.line_blocks(source.chunks(), max_line_bytes=spec.max_line_bytes, block_bytes=PARALLEL_BLOCK_BYTES)
    with parallel.Readers(spec, processes) as readers:
        for block in blocks:
            for outcome in readers.give(block):
                tally.add(outcome)
                tick()
                progress(**tally.progress(source, size))
        for outcome in readers.drain():
            tally.add(outcome)
            tick()
    progress(final=True, **tally.progress(source, size))


def _fail(record_set_id: uuid.UUID, message: str, refused: int, errors: list[dict]) -> None:
    with session_scope() as session:
        QUEUE.fail(session, record_set_id, message, rows_rejected=refused, errors=errors, rows_done=0)
