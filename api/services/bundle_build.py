"""One build, run in a build process: load the bundle's spec from the database, have the engine build it, store the
volumes and record the outcome."""

import logging
import shutil
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

from sqlmodel import col, select

from api import dates
from api.bundle.assemble import build
from api.bundle.converter import Converter
from api.bundle.spec import BuildResult, BuildSpec, BundleError, CaseCaption, ExhibitSource, RecordLimits, Volume
from api.config import get_settings
from api.db import get_engine, on_commit, session_scope
from api.services import blobs, text_layers
from api.services import bundles as bundle_service
from api.services.redactions import RedactionsNotApplied
from api.storage import BlobStore
from models.bundle import Bundle, BundleExhibit, BundleStatus, Legend
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Designation, Exhibit
from models.timeline import Precision

log = logging.getLogger(__name__)
# A build whose object store does not answer tries again after these pauses (doubling), for as long as
# `bundle_store_wait_seconds` allows: a store restarting is back within seconds, one being moved within minutes.
STORE_FIRST_PAUSE, STORE_MAX_PAUSE = 5.0, 60.0

DESIGNATION_LEGENDS = {
    Designation.confidential: Legend.confidential.value,
    Designation.attorneys_eyes_only: Legend.attorneys_eyes_only.value,
}
DESIGNATION_WORDS = {Designation.confidential: "Confidential", Designation.attorneys_eyes_only: "Attorneys' Eyes Only"}
# The designations whose titles each `redact_titles_of` value withholds: itself and the more restrictive ones.
WITHHOLDS = {
    "confidential": {Designation.confidential, Designation.attorneys_eyes_only},
    "aeo": {Designation.attorneys_eyes_only},
}


def strictest(*legends: str | None) -> str | None:
    """The most restrictive of these legends (None when there is none)."""
    order = list(Legend)
    found = [Legend(legend) for legend in legends if legend]
    return max(found, key=order.index).value if found else None


def run(bundle_id: str, workdir: str, stores: Callable[[], BlobStore]) -> None:
    """Build the bundle in `workdir` (made here, removed after); on any failure record a readable error and leave
    no file behind."""
    bundle_uuid = uuid.UUID(bundle_id)
    settings = get_settings()
    scratch = Path(workdir)
    # One converter process per build, closed with it: a child left behind would hold up the worker's exit.
    converter = Converter(timeout=settings.bundle_convert_timeout, max_pixels=settings.max_image_pixels)
    try:
        error = _build_while_the_store_answers(
            bundle_uuid, stores, scratch, converter, settings.bundle_store_wait_seconds
        )
    finally:
        converter.close()
        shutil.rmtree(scratch, ignore_errors=True)
    if error:  # recorded only once the scratch files are gone, so "failed" never leaves anything behind
        with session_scope() as session:
            bundle_service.mark_failed(session, bundle_uuid, error)


def _build_while_the_store_answers(
    bundle_uuid: uuid.UUID, stores: Callable[[], BlobStore], scratch: Path, converter: Converter, patience: float
) -> str | None:
    """Build; None when built, else the bundle's error in words. A build stopped by an object store that does not
    answer (down, restarting) starts again after a pause, for up to `patience` seconds of pauses in all."""
    waited, pause = 0.0, STORE_FIRST_PAUSE
    while True:
        try:
            _build_once(bundle_uuid, stores(), scratch, converter)
            return None
        except Exception as exc:  # noqa: BLE001 - every failure becomes the bundle's error, never a silent crash
            # The bundle's error is in words; what the exception was, and where, is for the server log.
            log.error("bundle %s failed", bundle_uuid, exc_info=True)
            if not bundle_service.object_store_away(exc):
                return bundle_service.failure_reason(exc)
            if waited >= patience:
                return bundle_service.store_away(waited)
            pause = min(pause, patience - waited)
            log.warning("bundle %s: the object store is not answering; building again in %g s", bundle_uuid, pause)
            time.sleep(pause)
            waited, pause = waited + pause, min(pause * 2, STORE_MAX_PAUSE)


def _build_once(bundle_uuid: uuid.UUID, store: BlobStore, scratch: Path, converter: Converter) -> None:
    """One try at the build, in `scratch`, emptied first of what an earlier try left."""
    shutil.rmtree(scratch, ignore_errors=True)
    scratch.mkdir(parents=True)  # in here: on a full disk even this fails, and must say so
    spec = _load_spec(bundle_uuid)
    layers = _write_layers(spec, scratch / "layers")
    result = build(spec, store, scratch, converter, _progress_writer(bundle_uuid), layers)
    _record(store, bundle_uuid, spec, result)


def _write_layers(spec: BuildSpec, directory: Path) -> Path:
    """The OCR text layers of the exhibits' pages, as files in the build's scratch directory for its converter."""
    with session_scope() as session:
        text_layers.write_files(session, (uuid.UUID(ex.evidence_id) for ex in spec.exhibits), directory)
    return directory


def _occurred(moment: datetime, tz_name: str) -> str:
    """When the exhibit's event happened, as its slip sheet prints it.

    A bare date (stored as local midnight) stays a date. A time is given in the case timezone with its zone
    name, then in UTC: a document made late in the evening in California carries the next day's date in UTC,
    and the page should agree with whichever of the two the document itself shows.
    """
    span = dates.instant_span(moment, tz_name)
    local = dates.display(span.start, span.until, span.precision, tz_name)
    if span.precision.value in dates.COARSE or moment.astimezone(dates.zone(tz_name)).utcoffset() == timedelta(0):
        return local
    utc = moment.astimezone(UTC)
    seconds = f":{utc.second:02d}" if span.precision is Precision.second else ""
    return (
        f"{local} ({dates.MONTHS[utc.month - 1]} {utc.day}, {utc.year}, {utc.hour:02d}:{utc.minute:02d}{seconds} UTC)"
    )


def _load_spec(bundle_id: uuid.UUID) -> BuildSpec:
    with session_scope() as session:
        bundle = session.get(Bundle, bundle_id)
        assert bundle is not None  # this build claimed it, and bundles are never deleted
        case = session.get(Case, bundle.case_id)
        assert case is not None  # the bundle's case, by its foreign key
        params = dict(bundle.params)
        if params.get("bates_start") is None:
            # Resolved once, under the case lock, and kept: a rebuild reuses the same numbers.
            params["bates_start"] = bundle_service.next_bates_start(session, case, params["bates_prefix"])
            bundle.params = params
            session.add(bundle)
        tz_name = case.timezone
        dated = bundle_service.original(session, bundle).created_at  # a rebuild beside prints the same date
        ids = [uuid.UUID(i) for i in params["exhibit_ids"]]
        rows = {
            ex.id: (ex, ev)
            for ex, ev in session.exec(
                select(Exhibit, EvidenceItem)
                .join(EvidenceItem, col(EvidenceItem.id) == Exhibit.evidence_id)
                .where(col(Exhibit.id).in_(ids))
            )
        }
        withheld = set().union(*(WITHHOLDS[name] for name in params.get("redact_titles_of") or []))
        missing = [str(i) for i in ids if i not in rows]
        if missing:
            raise BundleError(f"exhibits no longer in the case: {', '.join(missing)}")
        if params.get("filing_copy"):  # each exhibit as its redacted copy, where it has one
            try:
                rows = {k: (ex, bundle_service.filing_source(session, ev)) for k, (ex, ev) in rows.items()}
            except RedactionsNotApplied as exc:
                raise BundleError(str(exc)) from None
        unread = text_layers.pending(session, (ev.id for _ex, ev in rows.values()))
        exhibits = []
        for seq, exhibit_id in enumerate(ids, 1):
            ex, ev = rows[exhibit_id]
            exhibits.append(
                ExhibitSource(
                    seq=seq,
                    exhibit_id=str(ex.id),
                    evidence_id=str(ev.id),
                    label=ex.label,
                    title=ev.title,
                    kind=ev.kind,
                    description=ev.description,
                    occurred_at=ev.occurred_at,
                    occurred_display=_occurred(ev.occurred_at, tz_name) if ev.occurred_at else None,
                    # The local date; the index names the zone in its heading.
                    occurred_short=(
                        ev.occurred_at.astimezone(dates.zone(tz_name)).date().isoformat() if ev.occurred_at else None
                    ),
                    # A bundle legend adds to an exhibit's own designation; it never lowers it.
                    legend=strictest(params.get("legend"), DESIGNATION_LEGENDS.get(ex.designation)),
                    sha256=ev.sha256,
                    size_bytes=ev.size_bytes,
                    media_type=ev.media_type,
                    original_filename=ev.original_filename,
                    source_url=ev.source_url,
                    custodian=ev.custodian,
                    acquired_at=ev.created_at,
                    acquired_display=dates.display(ev.created_at, ev.created_at, Precision.minute, tz_name),
                    withheld=DESIGNATION_WORDS[ex.designation] if ex.designation in withheld else None,
                    text_pending=ev.id in unread,
                )
            )
        max_mb = params.get("max_volume_mb")
        settings = get_settings()
        return BuildSpec(
            bundle_title=bundle.title,
            caption=CaseCaption(case.title, case.court, case.docket_number, list(case.parties or [])),
            exhibits=exhibits,
            bates_prefix=params["bates_prefix"],
            bates_start=params["bates_start"],
            bates_digits=params["bates_digits"],
            cover=params["cover"],
            index=params["index"],
            slip_sheets=params["slip_sheets"],
            certificate=params["certificate"],
            max_volume_bytes=int(max_mb * 1_000_000) if max_mb else None,
            legend=strictest(params.get("legend"), *(ex.legend for ex in exhibits)),
            # In the case timezone, not UTC: the PDF's creation date then falls on the day the cover prints,
            # and the index can name the zone its dates are in. Stored, so a rebuild keeps the same date.
            created_at=dated.astimezone(dates.zone(tz_name)),
            created_display=dates.display(dated, dated, Precision.day, tz_name),
            volume_basename=f"{params['bates_prefix']}_{bundle.title}",
            limits=RecordLimits(
                table_pages=settings.bundle_table_max_pages,
                text_chars=settings.bundle_text_max_chars,
                cell_chars=settings.bundle_cell_max_chars,
            ),
            allow_incomplete=bool(params.get("allow_incomplete", False)),
            author=settings.producer_name,
        )


def _progress_writer(bundle_id: uuid.UUID) -> Callable[[int, int], None]:
    write = bundle_service.QUEUE.progress(bundle_id)
    return lambda done, total: write(final=done >= total, progress_done=done, progress_total=total)


def _record(store: BlobStore, bundle_id: uuid.UUID, spec: BuildSpec, result: BuildResult) -> None:
    """Store the volumes and the bundle's results together, unless the build was cancelled meanwhile.

    Each volume file becomes its blob by a rename within the data dir (no copy, so no second helping of disk),
    after the bundle is marked done and before that commits: a done bundle never names a missing file. Where the
    results go is `recording_target`'s call (a bundle beside this one when its case went on hold meanwhile); the
    volumes they supersede leave the store once recorded, and the ones stored here go if recording fails."""
    bind = get_engine()
    stored: list[str] = []
    try:
        with session_scope() as session:
            # Marked done first, so the row (on SQLite, the database) stays locked until the results commit: a cancel
            # either lands before and the results are dropped, or waits and finds the bundle done. Its finish time
            # is written with the results, to the bundle they go to (a bundle kept under a hold keeps its own).
            if not bundle_service.QUEUE.finish(session, bundle_id, finished_at=Bundle.finished_at):
                return
            bundle, superseded = bundle_service.recording_target(session, bundle_id)
            volumes = []
            for volume in result.volumes:
                if _store_volume(store, volume):
                    stored.append(volume.sha256)
                volumes.append(
                    {
                        "number": volume.number,
                        "page_count": volume.page_count,
                        "size_bytes": volume.size_bytes,
                        "sha256": volume.sha256,
                        "bates_first": spec.bates(volume.bates_first),
                        "bates_last": spec.bates(volume.bates_last),
                        "filename": volume.filename,
                    }
                )
            by_seq = {ex.seq: ex for ex in spec.exhibits}
            for old in session.exec(select(BundleExhibit).where(BundleExhibit.bundle_id == bundle.id)):
                session.delete(old)
            session.flush()
            for placed in result.exhibits:
                ex = by_seq[placed.seq]
                session.add(
                    BundleExhibit(
                        bundle_id=bundle.id,
                        seq=placed.seq,
                        exhibit_id=uuid.UUID(ex.exhibit_id),
                        evidence_id=uuid.UUID(ex.evidence_id),
                        label=ex.label,
                        evidence_sha256=ex.sha256,
                        start_page=placed.start_page,
                        page_count=placed.page_count,
                        first_content_page=placed.first_content_page,
                        bates_first=spec.bates(placed.bates_first),
                        bates_last=spec.bates(placed.bates_last),
                        bates_first_number=placed.bates_first,
                        volume=placed.volume,
                        rendering=placed.rendering,
                        rendering_reason=placed.rendering_reason,
                    )
                )
            bundle.status = BundleStatus.done
            bundle.page_count, bundle.size_bytes, bundle.sha256 = result.page_count, result.size_bytes, result.sha256
            bundle.bates_first, bundle.bates_last = spec.bates(result.bates_first), spec.bates(result.bates_last)
            bundle.bates_last_number = result.bates_last
            bundle.volumes, bundle.validation = volumes, result.validation
            bundle.progress_done = bundle.progress_total = result.page_count
            bundle.finished_at, bundle.error = utcnow(), None
            session.add(bundle)
            bundle_service.record(
                session,
                "bundle.done",
                None,
                bundle,
                {"sha256": bundle.sha256, "pages": bundle.page_count, "bates": [bundle.bates_first, bundle.bates_last]},
            )
            # The volumes this build replaced leave the store once it is recorded, unless something still uses them.
            for sha256 in sorted(set(superseded) - {v["sha256"] for v in volumes}):
                on_commit(session, partial(blobs.remove, store, sha256, bind))
    except BaseException:
        _discard(store, stored, bind)
        raise


def _store_volume(store: BlobStore, volume: Volume) -> bool:
    """Put a finished volume file in the store under its SHA-256, durably.
    True when this stored it; False when the store held those bytes already."""
    staged = store.adopt(volume.path, volume.sha256, volume.size_bytes)
    created = staged.commit()
    staged.settle(committed=True)
    return created


def _discard(store, hashes: list[str], bind) -> None:
    """The build was not recorded: the volume files it stored go, unless something uses the same bytes."""
    for sha256 in hashes:
        try:
            blobs.remove(store, sha256, bind)
        except Exception:  # noqa: BLE001 - the build's own error is the one to report; purge --orphans clears these
            log.warning("could not remove the unrecorded bundle volume %s", sha256, exc_info=True)
