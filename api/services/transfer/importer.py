"""Case import: restore a case export (transfer.export) into this instance as a new case, whole or
not at all.

`check` reads the ZIP and the database and writes nothing: the manifest must fit the limits (its size and
nesting, each file's size, all files together; transfer.manifest), parse and match this schema (transfer.rows);
every file must be listed, safely named, present and hash to its listed SHA-256 and size, and every original
and bundle volume the rows need must be among them (transfer.files); every audit event must match its own hash.
Only then does `restore` (transfer.restore) write: every row in one transaction under fresh ids, with the
originals staged into the store and put in place just before it commits (as an upload is), so a committed
row never lacks its file and a rollback takes back the files it brought.

An import never reaches anything that was here before it: every id it brings is replaced, and it stores only
the bytes it brings. The same export imported twice gives two independent cases; since that is rarely meant,
a second import of the same manifest is refused unless asked for (`again`).

The source's audit events keep their source seq and hashes in `imported_audit_events`: they are history of
another chain and cannot join this one. This instance records the import itself as a `case.import` event.
"""

import uuid
import zipfile
from pathlib import Path

from sqlalchemy import select
from sqlmodel import Session, col

from api.db import session_scope
from api.services import users as user_service
from api.services.transfer import spec
from api.services.transfer.files import check_files, check_names, needed_blobs
from api.services.transfer.manifest import ImportLimits, ImportPlan, ImportRefused, Problems, read_manifest
from api.services.transfer.restore import ImportFailed, ImportResult, restore
from api.services.transfer.rows import (
    check_chain,
    check_references,
    check_users_named,
    parse_events,
    parse_members,
    parse_placements,
    parse_row,
    parse_sections,
    parse_users,
)
from models.audit import AuditEvent

__all__ = ["ImportFailed", "ImportLimits", "ImportPlan", "ImportRefused", "ImportResult", "check", "restore"]

SUPPORTED_VERSIONS = {1}


def check(
    path: Path, *, as_email: str | None = None, again: bool = False, limits: ImportLimits | None = None
) -> ImportPlan:
    """Verify the export completely against the ZIP and this database. Raises ImportRefused; writes nothing."""
    path = Path(path)
    if not path.is_file():
        raise ImportRefused([f"{path}: no such file"])
    try:
        with zipfile.ZipFile(path) as zf:
            plan = _check_zip(zf, path, limits or ImportLimits.from_settings())
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise ImportRefused([f"{path.name}: not a readable ZIP ({exc})"]) from None
    plan.as_email, plan.again = as_email, again
    with session_scope() as session:
        _check_database(session, plan)
    return plan


def _check_zip(zf: zipfile.ZipFile, path: Path, limits: ImportLimits) -> ImportPlan:
    names = check_names(zf)
    manifest_sha256, manifest = read_manifest(zf, limits)
    if not isinstance(manifest, dict) or manifest.get("format") != spec.FORMAT:
        raise ImportRefused([f"{spec.MANIFEST}: not a casebinder case export (format {spec.FORMAT!r} expected)"])
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise ImportRefused([f"{spec.MANIFEST}: format_version {version!r} is not supported here ({supported} is)"])

    problems = Problems()
    case = parse_row(spec.CASES, manifest.get("case"), "case", problems)
    case_id = case.get("id") if case else None
    users = parse_users(manifest, problems)
    members = parse_members(manifest, users, problems)
    sections = parse_sections(manifest, problems)
    placements = parse_placements(sections["bundles"], problems)
    check_users_named(case, sections, users, problems)
    check_references(case, sections, problems)
    audit_events = parse_events(manifest, "audit_events", problems)
    earlier = parse_events(manifest, "imported_history", problems)
    check_chain(manifest, audit_events, case_id, problems)
    ids = [e["id"] for e in earlier + audit_events]
    if len(set(ids)) != len(ids):
        problems.add("audit_events and imported_history name the same event twice")

    files = check_files(zf, manifest, names, limits, problems)
    blobs = needed_blobs(sections, files, problems)
    problems.refuse_if_any()
    assert case is not None  # a case row that did not parse added its problems, and refuse_if_any raised
    return ImportPlan(
        path=path,
        manifest_sha256=manifest_sha256,
        manifest=manifest,
        case=case,
        users=list(users.values()),
        members=members,
        sections=sections,
        placements=placements,
        history=earlier + audit_events,
        files=files,
        blobs=blobs,
    )


def imported_before(session: Session, manifest_sha256: str) -> list[uuid.UUID]:
    """The cases made here by importing this very manifest."""
    found = session.execute(
        select(col(AuditEvent.case_id)).where(
            col(AuditEvent.action) == "case.import",
            AuditEvent.details["source_manifest_sha256"].as_string() == manifest_sha256,
        )
    )
    return [case_id for (case_id,) in found]


def _check_database(session: Session, plan: ImportPlan) -> None:
    """What this instance already holds: `--as` must be an active user, and the export new here (or `again`)."""
    problems = Problems()
    if plan.as_email is not None:
        user = user_service.get_by_email(session, plan.as_email)
        if user is None or not user.is_active:
            problems.add(f"--as {plan.as_email}: no active user with that email here")
    if not plan.again:
        for case_id in imported_before(session, plan.manifest_sha256):
            problems.add(
                f"this export was imported here before, as case {case_id}; "
                "import it again only to make another, independent copy (--again)"
            )
    problems.refuse_if_any()
