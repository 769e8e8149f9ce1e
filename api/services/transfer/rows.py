"""Import, rows: every row of a manifest parsed column by column against this version's tables, and checked
to belong to the exported case and to refer only to rows the manifest brings.

Ids are only checked to be well formed and consistent here: the restore replaces every one of them with a
fresh id (transfer.restore), so no id in a manifest can reach a row that is already here.
"""

import uuid
from datetime import datetime

from sqlalchemy import JSON, BigInteger, Boolean, Integer, String, Table, Uuid

from api.errors import DomainError
from api.services import audit
from api.services import users as user_service
from api.services.transfer import spec
from api.services.transfer.manifest import Problems
from models.case import Role
from models.common import UTCDateTime, is_sha256_hex
from models.inputs import text_problem, year_problem
from models.safe_json import check_json


def _bad(why: str):
    raise ValueError(why)


def parse_value(column, value, where: str, problems: Problems):
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
            if moment.tzinfo is None:
                _bad("an instant without a UTC offset")
            return moment if (problem := year_problem(moment)) is None else _bad(problem)
        if isinstance(kind, JSON):
            check_json(value)  # what a request body may hold, a manifest may too
            return value
        if isinstance(kind, Boolean):
            return value if isinstance(value, bool) else _bad("not true or false")
        if isinstance(kind, Integer):
            if not isinstance(value, int) or isinstance(value, bool):
                _bad("not an integer")
            low, high = (-(2**63), 2**63 - 1) if isinstance(kind, BigInteger) else (-(2**31), 2**31 - 1)
            return value if low <= value <= high else _bad(f"out of range ({low} to {high})")
        if isinstance(kind, String):
            if not isinstance(value, str):
                _bad("not text")
            if kind.length is not None and len(value) > kind.length:
                _bad(f"longer than {kind.length} characters")
            return value if (problem := text_problem(value)) is None else _bad(problem)
    except (ValueError, TypeError) as exc:
        problems.add(f"{where}: {exc}")
        return None
    return value


def parse_row(table: Table, row, where: str, problems: Problems, *, extra: tuple[str, ...] = ()) -> dict | None:
    """A manifest row as insertable values; user columns stay as `<name>_email` for the restore to resolve.

    None when anything in it is wrong (the problems say what), so later checks only see whole rows.
    """
    before = len(problems.items)
    if not isinstance(row, dict):
        problems.add(f"{where}: not a JSON object")
        return None
    users = spec.user_columns(table)
    expected = {c.name for c in table.columns if c.name not in users} | {f"{n}_email" for n in users} | set(extra)
    added = spec.ADDED_COLUMNS.get(table.name, frozenset())
    row = {name: None for name in added} | row  # an export from before a column was added lacks it: null
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
            parsed[column.name] = parse_value(column, row[column.name], f"{where}.{column.name}", problems)
    for name in extra:
        parsed[name] = row[name]
    return parsed if len(problems.items) == before else None


def listed(manifest: dict, name: str, problems: Problems) -> list:
    value = manifest.get(name)
    if not isinstance(value, list):
        problems.add(f"manifest: {name} is missing or not a list")
        return []
    return value


def parse_sections(manifest: dict, problems: Problems) -> dict[str, list[dict]]:
    """The evidence, exhibits, timeline events and bundles, each row whole or left out with a problem."""
    sections = {}
    for name, table in spec.SECTIONS.items():
        extra = ("placements",) if name == "bundles" else ()
        sections[name] = [
            row
            for i, raw in enumerate(listed(manifest, name, problems))
            if (row := parse_row(table, raw, f"{name}[{i}]", problems, extra=extra)) is not None
        ]
    return sections


def parse_users(manifest: dict, problems: Problems) -> dict[str, dict]:
    users: dict[str, dict] = {}
    for i, row in enumerate(listed(manifest, "users", problems)):
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


def parse_members(manifest: dict, users: dict, problems: Problems) -> list[dict]:
    members, seen = [], set()
    for i, row in enumerate(listed(manifest, "members", problems)):
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
        added = parse_value(spec.MEMBERS.c.added_at, row["added_at"], f"members[{i}].added_at", problems)
        members.append({"email": row["email"], "role": row["role"], "added_at": added})
    if members and not any(m["role"] == Role.owner for m in members):
        problems.add("members: the case has no owner")
    return members


def parse_placements(bundles: list[dict], problems: Problems) -> list[dict]:
    rows = []
    for bundle in bundles:
        placed = bundle.pop("placements")
        if not isinstance(placed, list):
            problems.add(f"bundle {bundle['id']}: placements is not a list")
            continue
        for i, raw in enumerate(placed):
            row = parse_row(spec.PLACEMENTS, raw, f"bundle {bundle['id']} placements[{i}]", problems)
            if row is not None:
                if row["bundle_id"] != bundle["id"]:
                    problems.add(f"bundle {bundle['id']} placements[{i}]: belongs to bundle {row['bundle_id']}")
                rows.append(row)
    return rows


def check_users_named(case: dict | None, sections: dict, users: dict, problems: Problems) -> None:
    """Every user a row names must be among the manifest's users."""
    for name, table, rows in [("case", spec.CASES, [case] if case else [])] + [
        (name, spec.SECTIONS[name], rows) for name, rows in sections.items()
    ]:
        for row in rows:
            for column in spec.user_columns(table):
                email = row[f"{column}_email"]
                if email is not None and email not in users:
                    problems.add(f"{name} {row['id']}: {column}_email {email} is not in the manifest's users")


def check_references(case: dict | None, sections: dict[str, list[dict]], problems: Problems) -> None:
    """Rows must belong to the exported case and point only at rows the manifest brings (its filed bundle too);
    an original a case holds once; a purged item (deleted, its original gone) is history and no exhibit of the
    case."""
    case_id = case.get("id") if case else None
    for name in ("exhibits", "timeline_events", "bundles"):
        for row in sections[name]:
            if row["case_id"] != case_id:
                problems.add(f"{name} {row['id']}: belongs to case {row['case_id']}, not the exported case")
    evidence = {row["id"]: row for row in sections["evidence"]}
    exhibits = {row["id"] for row in sections["exhibits"]}
    for row in sections["exhibits"]:
        item = evidence.get(row["evidence_id"])
        if item is None:
            problems.add(f"exhibit {row['id']}: its evidence {row['evidence_id']} is not in the manifest")
        elif item["purged_at"] is not None:
            problems.add(
                f"exhibit {row['id']}: its evidence {row['evidence_id']} was purged, and an exhibit needs its original"
            )
    for row in sections["timeline_events"]:
        if row["evidence_id"] is not None and row["evidence_id"] not in evidence:
            problems.add(f"timeline event {row['id']}: its evidence {row['evidence_id']} is not in the manifest")
        if row["exhibit_id"] is not None and row["exhibit_id"] not in exhibits:
            problems.add(f"timeline event {row['id']}: its exhibit {row['exhibit_id']} is not in the manifest")
    for row in sections["bundles"]:
        ids = row["params"].get("exhibit_ids", []) if isinstance(row["params"], dict) else None
        if not isinstance(ids, list) or not all(isinstance(i, str) and _is_uuid(i) for i in ids):
            problems.add(f"bundle {row['id']}: params must be an object whose exhibit_ids is a list of ids")
    bundles = {row["id"] for row in sections["bundles"]}
    if case is not None and case["filed_bundle_id"] is not None and case["filed_bundle_id"] not in bundles:
        problems.add(f"case: filed_bundle_id {case['filed_bundle_id']} is not a bundle in the manifest")
    for row in sections["bundles"]:
        if row["rebuilt_from"] is not None and row["rebuilt_from"] not in bundles:
            problems.add(f"bundle {row['id']}: rebuilt_from {row['rebuilt_from']} is not a bundle in the manifest")
    home: dict[str, uuid.UUID] = {}
    for row in sections["evidence"]:
        if row["purged_at"] is not None and row["deleted_at"] is None:
            problems.add(f"evidence {row['id']}: purged but not deleted; an original is only purged once deleted")
        if row["sha256"] in home:
            problems.add(
                f"evidence {row['id']}: the same bytes as evidence {home[row['sha256']]}, "
                "and a case holds each original once"
            )
        home[row["sha256"]] = row["id"]
        if not is_sha256_hex(row["sha256"]):
            problems.add(f"evidence {row['id']}: sha256 is not a SHA-256 hex digest")
    for name in ("evidence", "exhibits", "timeline_events", "bundles"):
        ids = [row["id"] for row in sections[name]]
        if len(set(ids)) != len(ids):
            problems.add(f"{name}: the same id appears twice")


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except ValueError:
        return False
    return True


def parse_events(manifest: dict, name: str, problems: Problems) -> list[dict]:
    """Audit events, parsed for hashing but kept verbatim (`raw`) for storage."""
    events = []
    for i, raw in enumerate(listed(manifest, name, problems)):
        row = parse_row(spec.AUDIT, raw, f"{name}[{i}]", problems)
        if row is None:
            continue
        if not (is_sha256_hex(row["hash"] or "") and is_sha256_hex(row["prev_hash"] or "")):
            problems.add(f"{name}[{i}]: hash and prev_hash must be SHA-256 hex digests")
            continue
        if audit.chain_hash(row["prev_hash"], row) != row["hash"]:
            problems.add(f"{name}[{i}] (seq {row['seq']}, {row['action']}): its content does not match its hash")
            continue
        events.append(row | {"raw": raw})
    return events


def check_chain(manifest: dict, events: list[dict], case_id, problems: Problems) -> None:
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
