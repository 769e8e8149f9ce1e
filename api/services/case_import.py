"""Case import: restore a case export (api/services/case_export) into this instance, whole or not at all.

`check` reads the ZIP and the database and writes nothing: the manifest must parse and match this schema,
every file must be listed, safely named, present and hash to its listed SHA-256 and size, every original and
bundle volume the rows need must be among them, every audit event must match its own hash, and the case must
not exist here yet. Only then does `restore` write: every row in one transaction, with the originals staged
into the store and put in place just before it commits (as an upload is), so a committed row never lacks its
file and a rollback takes back the files it brought.

The source's audit events keep their source seq and hashes in `imported_audit_events`: they are history of
another chain and cannot join this one. This instance records the import itself as a `case.import` event.
"""

import hashlib
import json
import re
import uuid
import zipfile
import zlib
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import JSON, Boolean, Integer, String, Table, Uuid, insert, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from api.db import on_commit, on_rollback, session_scope
from api.errors import DomainError
from api.services import audit
from api.services import case_export as spec
from api.services import users as user_service
from api.storage import BlobStore, StagedBlob, stage_stream
from models.audit import AuditEvent
from models.bundle import Bundle, BundleStatus
from models.case import Case, CaseMember, Role
from models.common import UTCDateTime, utcnow
from models.evidence import EvidenceItem
from models.user import User

SUPPORTED_VERSIONS = {1}
SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
# Not an argon2 hash, so no password ever verifies against it; the account is inactive as well.
UNUSABLE_PASSWORD = "!imported"
MAX_PROBLEMS = 50
BATCH = 1000


class ImportRefused(Exception):
    """The export cannot be imported; nothing was written. `problems` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass
class ImportPlan:
    """What `check` found: the parsed rows, ready to insert, and the files to bring into the store."""

    path: Path
    manifest_sha256: str
    manifest: dict
    case: dict
    users: list[dict]
    members: list[dict]
    sections: dict[str, list[dict]]
    placements: list[dict]
    history: list[dict]  # earlier imported history first, then the source's own events
    files: dict[str, dict]  # path -> {"sha256", "size"}
    blobs: dict[str, str]  # sha256 -> the path to read it from
    reused_evidence: set[uuid.UUID] = field(default_factory=set)
    rehomed_evidence: list[str] = field(default_factory=list)
    as_email: str | None = None


@dataclass
class ImportResult:
    case_id: uuid.UUID
    title: str
    counts: dict
    created_users: list[str]
    rehomed_evidence: list[str]
    manifest_sha256: str


class _Problems:
    def __init__(self):
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def refuse_if_any(self) -> None:
        if self.items:
            shown = self.items[:MAX_PROBLEMS]
            if len(self.items) > MAX_PROBLEMS:
                shown.append(f"... and {len(self.items) - MAX_PROBLEMS} more")
            raise ImportRefused(shown)


def unsafe_name(name: str) -> str | None:
    """Why a name in the ZIP could escape or confuse a directory it is extracted to (None when it is safe)."""
    if not name:
        return "an empty name"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "a control character"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a '..', '.' or empty path segment"
    return None


# --- parsing rows -------------------------------------------------------------------------------------------


def _parse_value(column, value, where: str, problems: _Problems):
    if value is None:
        if not column.nullable:
            problems.add(f"{where}: is null, but is required")
        return None
    kind = column.type
    try:
        if isinstance(kind, Uuid):
            return uuid.UUID(value) if isinstance(value, str) else _bad("not a UUID")
        if isinstance(kind, UTCDateTime):
            moment = datetime.fromisoformat(value) if isinstance(value, str) else _bad("not an ISO 8601 instant")
            return moment if moment.tzinfo is not None else _bad("an instant without a UTC offset")
        if isinstance(kind, JSON):
            return value
        if isinstance(kind, Boolean):
            return value if isinstance(value, bool) else _bad("not true or false")
        if isinstance(kind, Integer):
            return value if isinstance(value, int) and not isinstance(value, bool) else _bad("not an integer")
        if isinstance(kind, String):
            if not isinstance(value, str):
                _bad("not text")
            if kind.length is not None and len(value) > kind.length:
                _bad(f"longer than {kind.length} characters")
            if "\x00" in value:
                _bad("contains a NUL character")
            return value
    except (ValueError, TypeError) as exc:
        problems.add(f"{where}: {exc}")
        return None
    return value


def _bad(why: str):
    raise ValueError(why)


def _parse_row(table: Table, row, where: str, problems: _Problems, *, extra: tuple[str, ...] = ()) -> dict | None:
    """A manifest row as insertable values; user columns stay as `<name>_email` for `restore` to resolve.

    None when anything in it is wrong (the problems say what), so later checks only see whole rows.
    """
    before = len(problems.items)
    if not isinstance(row, dict):
        problems.add(f"{where}: not a JSON object")
        return None
    users = spec.user_columns(table)
    expected = {c.name for c in table.columns if c.name not in users} | {f"{n}_email" for n in users} | set(extra)
    missing, unknown = expected - row.keys(), row.keys() - expected
    if missing or unknown:
        parts = [f"missing {', '.join(sorted(missing))}" if missing else "", f"unknown {', '.join(sorted(unknown))}"]
        problems.add(f"{where}: fields do not match this version's {table.name}: {'; '.join(p for p in parts if p)}")
        return None
    parsed = {}
    for column in table.columns:
        if column.name in users:
            email = row[f"{column.name}_email"]
            if email is None and not column.nullable:
                problems.add(f"{where}.{column.name}_email: is null, but is required")
            elif email is not None and not isinstance(email, str):
                problems.add(f"{where}.{column.name}_email: not text")
            parsed[f"{column.name}_email"] = email
        else:
            parsed[column.name] = _parse_value(column, row[column.name], f"{where}.{column.name}", problems)
    for name in extra:
        parsed[name] = row[name]
    return parsed if len(problems.items) == before else None


def _list(manifest: dict, name: str, problems: _Problems) -> list:
    value = manifest.get(name)
    if not isinstance(value, list):
        problems.add(f"manifest: {name} is missing or not a list")
        return []
    return value


# --- check: everything verified, nothing written ------------------------------------------------------------


def check(path: Path, *, as_email: str | None = None) -> ImportPlan:
    """Verify the export completely against the ZIP and this database. Raises ImportRefused; writes nothing."""
    path = Path(path)
    if not path.is_file():
        raise ImportRefused([f"{path}: no such file"])
    try:
        with zipfile.ZipFile(path) as zf:
            plan = _check_zip(zf, path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError) as exc:
        raise ImportRefused([f"{path.name}: not a readable ZIP ({exc})"]) from None
    plan.as_email = as_email
    with session_scope() as session:
        _check_database(session, plan)
    return plan


def _check_zip(zf: zipfile.ZipFile, path: Path) -> ImportPlan:
    problems = _Problems()
    names = [info.filename for info in zf.infolist()]
    seen: set[str] = set()
    for name in names:
        why = unsafe_name(name)
        if why:
            problems.add(f"ZIP entry {name!r}: refused, the name has {why}")
        if name in seen:
            problems.add(f"ZIP entry {name!r}: appears twice")
        seen.add(name)
    if spec.MANIFEST not in seen:
        problems.add(f"the ZIP has no {spec.MANIFEST}: it is not a casebinder case export")
    problems.refuse_if_any()

    raw = zf.read(spec.MANIFEST)
    manifest_sha256 = hashlib.sha256(raw).hexdigest()
    try:
        manifest = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused([f"{spec.MANIFEST}: not valid JSON ({exc})"]) from None
    if not isinstance(manifest, dict) or manifest.get("format") != spec.FORMAT:
        raise ImportRefused([f"{spec.MANIFEST}: not a casebinder case export (format {spec.FORMAT!r} expected)"])
    version = manifest.get("format_version")
    if version not in SUPPORTED_VERSIONS:
        supported = ", ".join(str(v) for v in sorted(SUPPORTED_VERSIONS))
        raise ImportRefused([f"{spec.MANIFEST}: format_version {version!r} is not supported here ({supported} is)"])

    case = _parse_row(spec.CASES, manifest.get("case"), "case", problems)
    case_id = case.get("id") if case else None
    users = _parse_users(manifest, problems)
    members = _parse_members(manifest, users, problems)
    sections = {
        name: [
            row
            for i, raw_row in enumerate(_list(manifest, name, problems))
            if (row := _parse_row(table, raw_row, f"{name}[{i}]", problems, extra=_extras(name))) is not None
        ]
        for name, table in spec.SECTIONS.items()
    }
    placements = _parse_placements(sections["bundles"], problems)
    for name, table, rows in [("case", spec.CASES, [case] if case else [])] + [
        (name, spec.SECTIONS[name], rows) for name, rows in sections.items()
    ]:
        for row in rows:
            for column in spec.user_columns(table):
                email = row[f"{column}_email"]
                if email is not None and email not in users:
                    problems.add(f"{name} {row['id']}: {column}_email {email} is not in the manifest's users")
    _check_references(case_id, sections, problems)
    audit_events = _parse_events(manifest, "audit_events", problems)
    earlier = _parse_events(manifest, "imported_history", problems)
    _check_chain(manifest, audit_events, case_id, problems)
    ids = [e["id"] for e in earlier + audit_events]
    if len(set(ids)) != len(ids):
        problems.add("audit_events and imported_history name the same event twice")

    files = _check_files(zf, manifest, seen, problems)
    blobs = _needed_blobs(sections, files, problems)
    problems.refuse_if_any()
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


def _extras(section: str) -> tuple[str, ...]:
    return ("placements",) if section == "bundles" else ()


def _parse_users(manifest: dict, problems: _Problems) -> dict[str, dict]:
    users: dict[str, dict] = {}
    for i, row in enumerate(_list(manifest, "users", problems)):
        if not isinstance(row, dict) or set(row) != {"email", "full_name"}:
            problems.add(f"users[{i}]: expected an object with email and full_name")
            continue
        try:
            email = user_service.normalize_email(row["email"]) if isinstance(row["email"], str) else None
        except DomainError as exc:
            problems.add(f"users[{i}]: {exc.message}")
            continue
        if email is None or email != row["email"]:
            problems.add(f"users[{i}]: email {row['email']!r} is not a normalised address")
            continue
        name = row["full_name"]
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            problems.add(f"users[{i}]: full_name must be text of at most 200 characters")
            continue
        if email in users:
            problems.add(f"users[{i}]: {email} is listed twice")
        users[email] = {"email": email, "full_name": name}
    return users


def _parse_members(manifest: dict, users: dict, problems: _Problems) -> list[dict]:
    members, seen = [], set()
    for i, row in enumerate(_list(manifest, "members", problems)):
        if not isinstance(row, dict) or set(row) != {"email", "full_name", "role", "added_at"}:
            problems.add(f"members[{i}]: expected an object with email, full_name, role and added_at")
            continue
        if row["email"] not in users:
            problems.add(f"members[{i}]: {row['email']!r} is not in the manifest's users")
        if row["email"] in seen:
            problems.add(f"members[{i}]: {row['email']} is listed twice")
        seen.add(row["email"])
        if row["role"] not in {r.value for r in Role}:
            problems.add(f"members[{i}]: unknown role {row['role']!r}")
        added = _parse_value(CaseMember.__table__.c.added_at, row["added_at"], f"members[{i}].added_at", problems)
        members.append({"email": row["email"], "role": row["role"], "added_at": added})
    if members and not any(m["role"] == Role.owner for m in members):
        problems.add("members: the case has no owner")
    return members


def _parse_placements(bundles: list[dict], problems: _Problems) -> list[dict]:
    rows = []
    for bundle in bundles:
        placed = bundle.pop("placements")
        if not isinstance(placed, list):
            problems.add(f"bundle {bundle['id']}: placements is not a list")
            continue
        for i, raw in enumerate(placed):
            row = _parse_row(spec.PLACEMENTS, raw, f"bundle {bundle['id']} placements[{i}]", problems)
            if row is not None:
                if row["bundle_id"] != bundle["id"]:
                    problems.add(f"bundle {bundle['id']} placements[{i}]: belongs to bundle {row['bundle_id']}")
                rows.append(row)
    return rows


def _check_references(case_id, sections: dict[str, list[dict]], problems: _Problems) -> None:
    """Rows must belong to the exported case and point only at rows the manifest brings."""
    for name in ("exhibits", "timeline_events", "bundles"):
        for row in sections[name]:
            if row["case_id"] != case_id:
                problems.add(f"{name} {row['id']}: belongs to case {row['case_id']}, not the exported case")
    evidence = {row["id"] for row in sections["evidence"]}
    exhibits = {row["id"] for row in sections["exhibits"]}
    for row in sections["exhibits"]:
        if row["evidence_id"] not in evidence:
            problems.add(f"exhibit {row['id']}: its evidence {row['evidence_id']} is not in the manifest")
    for row in sections["timeline_events"]:
        if row["evidence_id"] is not None and row["evidence_id"] not in evidence:
            problems.add(f"timeline event {row['id']}: its evidence {row['evidence_id']} is not in the manifest")
        if row["exhibit_id"] is not None and row["exhibit_id"] not in exhibits:
            problems.add(f"timeline event {row['id']}: its exhibit {row['exhibit_id']} is not in the manifest")
    for name in ("evidence", "exhibits", "timeline_events", "bundles"):
        ids = [row["id"] for row in sections[name]]
        if len(set(ids)) != len(ids):
            problems.add(f"{name}: the same id appears twice")


def _parse_events(manifest: dict, name: str, problems: _Problems) -> list[dict]:
    """Audit events, parsed for hashing but kept verbatim (`raw`) for storage."""
    events = []
    for i, raw in enumerate(_list(manifest, name, problems)):
        row = _parse_row(AuditEvent.__table__, raw, f"{name}[{i}]", problems)
        if row is None:
            continue
        if not (SHA256_RE.match(row["hash"] or "") and SHA256_RE.match(row["prev_hash"] or "")):
            problems.add(f"{name}[{i}]: hash and prev_hash must be SHA-256 hex digests")
            continue
        if audit.chain_hash(row["prev_hash"], row) != row["hash"]:
            problems.add(f"{name}[{i}] (seq {row['seq']}, {row['action']}): its content does not match its hash")
            continue
        events.append(row | {"raw": raw})
    return events


def _check_chain(manifest: dict, events: list[dict], case_id, problems: _Problems) -> None:
    """The case's events are a part of the source chain: where two are adjacent there, they must link."""
    for a, b in zip(events, events[1:], strict=False):
        if b["seq"] <= a["seq"]:
            problems.add(f"audit_events: seq {b['seq']} follows seq {a['seq']}; they must be in chain order")
        elif b["seq"] == a["seq"] + 1 and b["prev_hash"] != a["hash"]:
            problems.add(f"audit_events: seq {b['seq']} does not link to seq {a['seq']} before it")
    for event in events:
        if event["case_id"] != case_id:
            problems.add(f"audit_events seq {event['seq']}: belongs to case {event['case_id']}, not the exported case")
    source = manifest.get("source")
    head = source.get("audit_head") if isinstance(source, dict) else None
    if events and isinstance(head, dict) and isinstance(head.get("seq"), int) and events[-1]["seq"] > head["seq"]:
        problems.add(f"audit_events: seq {events[-1]['seq']} is past the source chain head {head['seq']}")


def _check_files(zf: zipfile.ZipFile, manifest: dict, names: set[str], problems: _Problems) -> dict[str, dict]:
    """Every listed file present, safely named, and hashing to its listed SHA-256 and size; nothing unlisted."""
    files: dict[str, dict] = {}
    for i, entry in enumerate(_list(manifest, "files", problems)):
        if not isinstance(entry, dict) or set(entry) != {"path", "sha256", "size"}:
            problems.add(f"files[{i}]: expected an object with path, sha256 and size")
            continue
        name, sha256, size = entry["path"], entry["sha256"], entry["size"]
        if not isinstance(name, str) or (why := unsafe_name(name)):
            problems.add(f"files[{i}] {name!r}: refused, the path has {why or 'no text'}")
            continue
        if not isinstance(sha256, str) or not SHA256_RE.match(sha256) or not isinstance(size, int) or size < 0:
            problems.add(f"files[{i}] {name}: sha256 must be a hex digest and size a byte count")
            continue
        if name in files or name == spec.MANIFEST:
            problems.add(f"files[{i}] {name}: listed twice")
            continue
        files[name] = {"sha256": sha256, "size": size}
    for name in sorted(names - files.keys() - {spec.MANIFEST}):
        problems.add(f"ZIP entry {name}: not listed in the manifest's files")
    for name, entry in files.items():
        if name not in names:
            problems.add(f"{name}: listed in the manifest but missing from the ZIP")
            continue
        actual = _hash_member(zf, name, entry["size"])
        if isinstance(actual, str):
            problems.add(f"{name}: damaged, it cannot be read back ({actual})")
        elif actual != (entry["sha256"], entry["size"]):
            problems.add(
                f"{name}: hashes to {actual[0]} ({actual[1]} bytes), but the manifest says {entry['sha256']} "
                f"({entry['size']} bytes)"
            )
    return files


def _hash_member(zf: zipfile.ZipFile, name: str, limit: int) -> tuple[str, int] | str:
    """(sha256, size) of a ZIP member, read in chunks and never past limit + 1 bytes; or why it cannot be read."""
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as member:
            while chunk := member.read(spec.CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                if size > limit:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        return str(exc)
    return digest.hexdigest(), size


def _needed_blobs(sections: dict[str, list[dict]], files: dict[str, dict], problems: _Problems) -> dict[str, str]:
    """Every original (unless purged) and every done bundle volume must come with its file."""
    blobs: dict[str, str] = {}

    def need(path: str, sha256: str, size: int, what: str) -> None:
        entry = files.get(path)
        if entry is None:
            problems.add(f"{what}: its file {path} is not in the export")
        elif (entry["sha256"], entry["size"]) != (sha256, size):
            problems.add(f"{what}: the manifest lists {path} with another sha256 or size than the row")
        else:
            blobs.setdefault(sha256, path)

    for row in sections["evidence"]:
        if row["purged_at"] is None and isinstance(row["sha256"], str):
            need(spec.evidence_path(row["sha256"]), row["sha256"], row["size_bytes"], f"evidence {row['id']}")
    for row in sections["bundles"]:
        if row["status"] == BundleStatus.done:
            for volume in row["volumes"] if isinstance(row["volumes"], list) else []:
                try:
                    path = spec.volume_path(row["id"], volume["number"])
                    need(path, volume["sha256"], volume["size_bytes"], f"bundle {row['id']} volume {volume['number']}")
                except (KeyError, TypeError):
                    problems.add(f"bundle {row['id']}: a volume lacks number, sha256 or size_bytes")
        elif row["status"] != BundleStatus.failed:
            problems.add(f"bundle {row['id']}: status {row['status']!r} cannot be imported (done or failed only)")
    return blobs


def _existing(session: Session, table: Table, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    found: set[uuid.UUID] = set()
    for start in range(0, len(ids), BATCH):
        found |= set(session.execute(select(table.c.id).where(table.c.id.in_(ids[start : start + BATCH]))).scalars())
    return found


def _check_database(session: Session, plan: ImportPlan) -> None:
    """What this instance already holds: the case must be new, the rows' ids free, `--as` an active user."""
    problems = _Problems()
    case_id = plan.case["id"]
    if session.get(Case, case_id) is not None:
        raise ImportRefused([f"case {case_id} already exists here"])
    if plan.as_email is not None:
        user = user_service.get_by_email(session, plan.as_email)
        if user is None or not user.is_active:
            problems.add(f"--as {plan.as_email}: no active user with that email here")
    for name in ("exhibits", "timeline_events", "bundles"):
        taken = _existing(session, spec.SECTIONS[name], [row["id"] for row in plan.sections[name]])
        for row_id in sorted(taken):
            problems.add(f"{name} {row_id}: a row with this id already exists here")
    evidence = plan.sections["evidence"]
    present = {
        row.id: row
        for start in range(0, len(evidence), BATCH)
        for row in session.execute(
            select(EvidenceItem).where(EvidenceItem.id.in_([r["id"] for r in evidence[start : start + BATCH]]))
        ).scalars()
    }
    home: dict[str, uuid.UUID] = {}
    for row in evidence:
        existing = present.get(row["id"])
        if existing is not None:
            # The same item (same id, same bytes) came here before, with another case that links it: the
            # imported case links to it as it is, wherever its home is now.
            if existing.sha256 != row["sha256"]:
                problems.add(f"evidence {row['id']}: an item with this id but other bytes already exists here")
            else:
                plan.reused_evidence.add(row["id"])
            continue
        if row["case_id"] != case_id:
            # Linked in from a case that is not here: the imported case becomes its home.
            plan.rehomed_evidence.append(str(row["id"]))
        if row["sha256"] in home:
            problems.add(
                f"evidence {row['id']}: the same bytes as evidence {home[row['sha256']]}, "
                "and a case holds each original once"
            )
        home[row["sha256"]] = row["id"]
    problems.refuse_if_any()


# --- restore: one transaction ---------------------------------------------------------------------------------


def restore(plan: ImportPlan, store: BlobStore) -> ImportResult:
    """Write everything `check` verified, in one transaction; the files are stored only if it commits."""
    try:
        with zipfile.ZipFile(plan.path) as zf, session_scope() as session:
            return _restore(session, store, zf, plan)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ImportRefused([f"{plan.path.name}: could not be read again ({exc})"]) from None
    except IntegrityError as exc:
        reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
        raise ImportRefused([f"the database refused the rows: {reason}"]) from None


def _restore(session: Session, store: BlobStore, zf: zipfile.ZipFile, plan: ImportPlan) -> ImportResult:
    case_id = plan.case["id"]
    # The files first, each registered for removal if the transaction rolls back: whatever fails after this
    # (a row the database refuses) takes them back with it.
    blobs = _stage_blobs(session, store, zf, plan)
    actor = user_service.get_by_email(session, plan.as_email) if plan.as_email else None
    user_ids, created = _resolve_users(session, plan, actor)

    def with_ids(table: Table, row: dict) -> dict:
        row = dict(row)
        for name in spec.user_columns(table):
            email = row.pop(f"{name}_email")
            row[name] = user_ids[email] if email is not None else None
        return row

    session.execute(insert(spec.CASES), [with_ids(spec.CASES, plan.case)])
    members = {
        m["email"]: {"case_id": case_id, "user_id": user_ids[m["email"]], "role": m["role"], "added_at": m["added_at"]}
        for m in plan.members
    }
    if actor is not None and members.get(actor.email, {}).get("role") != Role.owner:
        added = members.get(actor.email, {}).get("added_at") or utcnow()
        members[actor.email] = {"case_id": case_id, "user_id": actor.id, "role": Role.owner.value, "added_at": added}
    _insert(session, spec.MEMBERS, list(members.values()))
    rehomed = set(plan.rehomed_evidence)
    evidence = [
        with_ids(spec.EVIDENCE, row) | ({"case_id": case_id} if str(row["id"]) in rehomed else {})
        for row in plan.sections["evidence"]
        if row["id"] not in plan.reused_evidence
    ]
    _insert(session, spec.EVIDENCE, evidence)
    for name in ("exhibits", "timeline_events", "bundles"):
        table = spec.SECTIONS[name]
        _insert(session, table, [with_ids(table, row) for row in plan.sections[name]])
    _insert(session, spec.PLACEMENTS, plan.placements)
    imported_at = utcnow()
    _insert(
        session,
        spec.IMPORTED,
        [
            {
                "id": uuid.uuid4(),
                "case_id": case_id,
                "ordinal": ordinal,
                "source_seq": event["seq"],
                "source_event_id": event["id"],
                "source_prev_hash": event["prev_hash"],
                "source_hash": event["hash"],
                "event": event["raw"],
                "import_manifest_sha256": plan.manifest_sha256,
                "imported_at": imported_at,
            }
            for ordinal, event in enumerate(plan.history, 1)
        ],
    )
    session.flush()
    counts = {
        "members": len(members),
        **{name: len(rows) for name, rows in plan.sections.items()},
        "placements": len(plan.placements),
        "imported_history": len(plan.history),
        "files": len(plan.files),
        "blobs_added": blobs,
    }
    source = plan.manifest.get("source") if isinstance(plan.manifest.get("source"), dict) else {}
    audit.record(
        session,
        "case.import",
        actor=actor,
        actor_email=None if actor else "command line",
        case_id=case_id,
        object_type="case",
        object_id=case_id,
        details={
            "source_manifest_sha256": plan.manifest_sha256,
            "source_exported_at": plan.manifest.get("exported_at"),
            "source_version": source.get("version"),
            "source_audit_head": source.get("audit_head"),
            "counts": counts,
            "created_users": created,
            "rehomed_evidence": plan.rehomed_evidence,
            "reused_evidence": sorted(str(i) for i in plan.reused_evidence),
        },
    )
    return ImportResult(
        case_id=case_id,
        title=plan.case["title"],
        counts=counts,
        created_users=created,
        rehomed_evidence=plan.rehomed_evidence,
        manifest_sha256=plan.manifest_sha256,
    )


def _insert(session: Session, table: Table, rows: list[dict]) -> None:
    for start in range(0, len(rows), BATCH):
        session.execute(insert(table), rows[start : start + BATCH])


def _resolve_users(session: Session, plan: ImportPlan, actor: User | None) -> tuple[dict[str, uuid.UUID], list[str]]:
    """Users by email; the missing ones become inactive accounts without a usable password, so rows keep authors."""
    ids, created = {}, []
    for row in plan.users:
        user = user_service.get_by_email(session, row["email"])
        if user is None:
            user = User(
                email=row["email"],
                full_name=row["full_name"],
                password_hash=UNUSABLE_PASSWORD,
                is_active=False,
            )
            session.add(user)
            session.flush()
            created.append(user.email)
            audit.record(
                session,
                "user.create",
                actor=actor,
                actor_email=None if actor else "command line",
                object_type="user",
                object_id=user.id,
                details={"email": user.email, "is_admin": False, "is_active": False, "reason": "case import"},
            )
        ids[row["email"]] = user.id
    return ids, created


def _stage_blobs(session: Session, store: BlobStore, zf: zipfile.ZipFile, plan: ImportPlan) -> int:
    """Copy each needed file into the store; in place before the commit, taken back if the transaction rolls back."""
    bind = session.get_bind()
    added = 0
    for sha256, name in plan.blobs.items():
        with zf.open(name) as member:
            staged = stage_stream(store, member)
        if staged.sha256 != sha256:  # the ZIP changed since it was checked
            staged.discard()
            raise ImportRefused([f"{name}: changed while it was being imported"])
        created = staged.commit()
        added += created
        on_commit(session, lambda s=staged: s.settle(committed=True))
        on_rollback(session, lambda s=staged, c=created: _undo_blob(store, s, c, bind))
    return added


def _undo_blob(store: BlobStore, staged: StagedBlob, created: bool, bind) -> None:
    """After a rollback: drop the staged copy, and the stored blob if this import made it and nothing uses it."""
    staged.settle(committed=False)
    if not created:
        return
    with Session(bind) as check_session:
        if check_session.execute(select(EvidenceItem.id).where(EvidenceItem.sha256 == staged.sha256)).first():
            return
        for volumes in check_session.execute(
            select(Bundle.volumes).where(Bundle.status == BundleStatus.done)
        ).scalars():
            if any(v.get("sha256") == staged.sha256 for v in volumes or []):
                return
    store.delete(staged.sha256)
