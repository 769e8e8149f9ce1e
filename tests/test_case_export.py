"""Case export and import: a real case exported over HTTP, imported by the `casebinder import` command into a
second, empty instance (its own database and data dir), exported again from that instance's own server, and
compared; broken exports are refused whole, with nothing written."""

import hashlib
import io
import json
import uuid
import zipfile

import pytest
from sqlalchemy import text
from sqlmodel import select

from api.db import make_engine, session_scope
from api.services import users as user_service
from models.audit import AuditEvent
from models.bundle import Bundle, BundleStatus
from models.case import Case
from models.common import utcnow
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from tests.conftest import PASSWORD, Actor, live_client
from tests.helpers import build, new_actor, rezip, snapshot, wait_done
from tests.s3_server import local_disk_only
from tests.server_process import Instance, fresh_database

pytestmark = pytest.mark.slow

# Differ between any two exports by design: when, and from which instance and by whom.
VOLATILE = ("exported_at", "source")


def read_zip(data: bytes) -> tuple[bytes, dict, dict[str, str]]:
    """The manifest's bytes, the manifest, and the SHA-256 of every other member, by name."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        raw = zf.read("manifest.json")
        hashes = {n: hashlib.sha256(zf.read(n)).hexdigest() for n in zf.namelist() if n != "manifest.json"}
    return raw, json.loads(raw), hashes


def flip_byte_in(data: bytes, member: str) -> bytes:
    """The export with one byte in the middle of a member's stored data inverted (the ZIP structure intact)."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        info = zf.getinfo(member)
    header = info.header_offset
    name_len = int.from_bytes(data[header + 26 : header + 28], "little")
    extra_len = int.from_bytes(data[header + 28 : header + 30], "little")
    at = header + 30 + name_len + extra_len + info.compress_size // 2
    return data[:at] + bytes([data[at] ^ 0xFF]) + data[at + 1 :]


def import_records(instance: Instance) -> list[tuple[uuid.UUID, dict]]:
    """Every case.import event of an instance, oldest first: the new case's id and the event's details."""
    engine = make_engine(instance.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(AuditEvent.case_id, AuditEvent.details)
                .where(AuditEvent.action == "case.import")
                .order_by(AuditEvent.seq)
            ).all()
    finally:
        engine.dispose()
    return [(case_id, details) for case_id, details in rows]


def id_mapping(case_id: uuid.UUID, details: dict) -> dict[str, str]:
    """Every source id an import named and the fresh id it got, as the case.import event records them."""
    mapping = {details["source_case_id"]: str(case_id)}
    for kind in ("evidence", "exhibits"):
        mapping |= {row["source_id"]: row["id"] for row in details[kind]}
    for ids in details["source_ids"].values():
        mapping |= ids
    return mapping


def remapped(value, mapping: dict[str, str]):
    """`value` (any JSON) with every source id replaced by the id it got here."""
    text = json.dumps(value)
    for source, fresh in mapping.items():
        text = text.replace(source, fresh)
    return json.loads(text)


def row_ids(manifest: dict) -> set[str]:
    """The id of every row a manifest brings (audit events aside: they are history, kept verbatim)."""
    ids = {manifest["case"]["id"]}
    for name in ("evidence", "exhibits", "timeline_events", "bundles"):
        ids |= {row["id"] for row in manifest[name]}
    ids |= {p["id"] for bundle in manifest["bundles"] for p in bundle["placements"]}
    return ids


def make_instance(tmp_path_factory, name: str):
    root = tmp_path_factory.mktemp(name)
    url, drop = fresh_database(root)
    return Instance(url, root / "blobs"), drop


@pytest.fixture(scope="module")
def owner(client) -> Actor:
    return new_actor(client)


@pytest.fixture(scope="module")
def exported(client, owner, corpus, tmp_path_factory):
    """A case with originals of several types, two members, exhibits, manual events and a built bundle, exported."""
    editor = new_actor(client)
    case = owner.make_case(
        bates_prefix="ACME",
        court="C.D. Cal.",
        docket_number="2:21-cv-04417",
        parties=[{"name": "Acme Audio LLC", "role": "plaintiff"}, {"name": "Mpow Direct", "role": "defendant"}],
    )
    r = owner.post(f"/api/v1/cases/{case['id']}/members", json={"email": editor.email, "role": "editor"})
    assert r.status_code == 201, r.text
    items = []
    for kind in ("review_screenshot", "product_insert_card", "refund_record", "email"):
        f = next(f for f in corpus if f.kind == kind)
        r = owner.upload(
            case["id"],
            f.path.read_bytes(),
            filename=f.path.name,
            kind=kind,
            title=f.title,
            occurred_at=f.occurred_at.isoformat(),
            tags=",".join(f.tags),
        )
        assert r.status_code == 201, r.text
        items.append(r.json())
    chat = next(f for f in corpus if f.kind == "chat_log")
    r = editor.upload(case["id"], chat.path.read_bytes(), filename=chat.path.name, kind="chat_log", title=chat.title)
    assert r.status_code == 201, r.text
    items.append(r.json())
    base = f"/api/v1/cases/{case['id']}"
    r = owner.patch(f"{base}/exhibits/{items[1]['exhibit']['id']}", json={"designation": "confidential", "note": "n"})
    assert r.status_code == 200, r.text
    events = [
        {"occurred_at": "2021-03", "title": "Listing rating jumps", "kind": "listing_changed", "tags": ["rating"]},
        {"occurred_at": "2021-03-04T17:30", "title": "Refund paid", "evidence_id": items[2]["id"], "page": 1},
    ]
    for body in events:
        r = editor.post(f"{base}/events", json=body)
        assert r.status_code == 201, r.text
    bundle = build(owner, case["id"], title="Plaintiff's Trial Exhibits")
    r = owner.request("PUT", f"{base}/filed-bundle", json={"bundle_id": bundle["id"]})
    assert r.status_code == 200, r.text
    with session_scope() as session:  # a hold and a soft delete, so the export carries those columns filled in
        owner_id = user_service.get_by_email(session, owner.email).id
        held = session.get(Case, uuid.UUID(case["id"]))
        held.legal_hold_at, held.legal_hold_by, held.legal_hold_reason = utcnow(), owner_id, "Preservation letter"
        gone = session.get(EvidenceItem, uuid.UUID(items[-1]["id"]))
        gone.deleted_at, gone.deleted_by, gone.deleted_reason = utcnow(), owner_id, "Sent by mistake"
    r = owner.post(f"/api/v1/bundles/{bundle['id']}/rebuild")  # under the hold: a new bundle beside the filed one
    assert r.status_code == 202 and r.json()["rebuilt_from"] == bundle["id"], r.text
    assert wait_done(owner, r.json()["id"])["status"] == "done"
    r = owner.get(f"{base}/export")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/zip"
    assert (
        r.headers["content-disposition"].startswith("attachment; filename=")
        and ".zip" in r.headers["content-disposition"]
    )
    path = tmp_path_factory.mktemp("export") / "case.zip"
    path.write_bytes(r.content)
    return {"case": case, "items": items, "bundle": bundle, "editor": editor, "zip": r.content, "path": path}


@pytest.fixture(scope="module")
def target(tmp_path_factory, owner, exported):
    """A second, empty instance where the owner has an account (so the imported case has an active owner)."""
    instance, drop = make_instance(tmp_path_factory, "target")
    made = instance.cli("user", "create", owner.email, "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    yield instance
    instance.kill()
    drop()


@pytest.fixture(scope="module")
def imported(target, exported):
    result = target.cli("import", str(exported["path"]))
    assert result.returncode == 0, result.stderr
    return result


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    """An instance that every refused import is tried against: it must stay exactly as it was."""
    instance, drop = make_instance(tmp_path_factory, "empty")
    yield instance
    drop()


def test_export_manifest_lists_every_row_and_file(owner, exported):
    raw, manifest, hashes = read_zip(exported["zip"])
    case, items, bundle = exported["case"], exported["items"], exported["bundle"]
    assert manifest["format"] == "casebinder-case-export" and manifest["format_version"] == 1
    assert manifest["case"]["id"] == case["id"] and manifest["case"]["created_by_email"] == owner.email
    assert manifest["case"]["parties"] == case["parties"]
    assert {m["email"]: m["role"] for m in manifest["members"]} == {
        owner.email: "owner",
        exported["editor"].email: "editor",
    }
    by_id = {e["id"]: e for e in manifest["evidence"]}
    assert set(by_id) == {i["id"] for i in items}
    for item in items:
        row = by_id[item["id"]]
        assert (row["sha256"], row["size_bytes"], row["media_type"]) == (
            item["sha256"],
            item["size_bytes"],
            item["media_type"],
        )
        assert row["original_filename"] == item["original_filename"] and "deleted_at" in row
        assert hashes[f"evidence/{item['sha256']}"] == item["sha256"]
    assert by_id[items[-1]["id"]]["uploaded_by_email"] == exported["editor"].email
    assert (by_id[items[-1]["id"]]["deleted_by_email"], by_id[items[-1]["id"]]["deleted_reason"]) == (
        owner.email,
        "Sent by mistake",
    )
    assert manifest["case"]["legal_hold_by_email"] == owner.email and manifest["case"]["legal_hold_at"]
    assert [e["label"] for e in manifest["exhibits"]] == [i["exhibit"]["label"] for i in items]
    sources = sorted(e["source"] for e in manifest["timeline_events"])
    assert sources.count("manual") == 2 and "derived" in sources
    [exported_bundle, beside] = sorted(manifest["bundles"], key=lambda b: b["rebuilt_from"] is not None)
    assert exported_bundle["sha256"] == bundle["sha256"] and exported_bundle["status"] == "done"
    # The rebuild under the hold: a second bundle, naming the filed one, byte for byte the same document.
    assert beside["rebuilt_from"] == bundle["id"] and beside["sha256"] == bundle["sha256"]
    assert manifest["case"]["filed_bundle_id"] == bundle["id"]
    assert [p["bates_first"] for p in exported_bundle["placements"]] == [e["bates_first"] for e in bundle["exhibits"]]
    for volume in bundle["volumes"]:
        assert hashes[f"bundles/{bundle['id']}/volume-{volume['number']}.pdf"] == volume["sha256"]
    assert {f["path"]: f["sha256"] for f in manifest["files"]} == hashes
    actions = [e["action"] for e in manifest["audit_events"]]
    assert actions[0] == "case.create" and "bundle.done" in actions and "evidence.upload" in actions
    seqs = [e["seq"] for e in manifest["audit_events"]]
    assert seqs == sorted(seqs) and seqs[-1] <= manifest["source"]["audit_head"]["seq"]
    # The export itself is on record, with the hash of exactly the manifest that was sent.
    with session_scope() as session:
        recorded = session.exec(
            select(AuditEvent)
            .where(AuditEvent.action == "case.export", AuditEvent.case_id == uuid.UUID(case["id"]))
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert recorded.actor_email == owner.email
    assert recorded.details["manifest_sha256"] == hashlib.sha256(raw).hexdigest()
    assert recorded.details["files"] == len(manifest["files"])


def test_round_trip_into_an_empty_instance_gives_the_same_case(owner, exported, target, imported):
    """The same case, row for row and byte for byte, except that every row has a fresh id here: the export's
    ids are mapped to new ones consistently, and the mapping is on record in the case.import event."""
    assert "imported case" in imported.stdout
    checked = target.cli("verify")  # every blob re-hashed, the audit chain walked: all intact after the import
    assert checked.returncode == 0, checked.stdout + checked.stderr
    [(case_id, details)] = import_records(target)
    mapping = id_mapping(case_id, details)
    raw1, first, hashes1 = read_zip(exported["zip"])
    assert row_ids(first) <= mapping.keys()  # every row's id was replaced...
    assert not set(mapping.values()) & (mapping.keys() | row_ids(first))  # ...by one that is new
    assert str(case_id) != exported["case"]["id"] and f"exported as {exported['case']['id']}" in imported.stdout

    issued = target.cli("token", "create", owner.email)
    assert issued.returncode == 0, issued.stderr
    target.token = issued.stdout.strip()
    target.start()
    try:
        with target.client() as http:
            again = http.get(f"/api/v1/cases/{case_id}/export")
            assert again.status_code == 200, again.text
            # Accounts created by the import are inactive: they keep authorship but cannot sign in.
            login = http.post("/api/v1/auth/token", data={"username": exported["editor"].email, "password": PASSWORD})
            assert login.status_code == 401
            assert http.get(f"/api/v1/cases/{case_id}").json()["title"] == exported["case"]["title"]
            assert http.get(f"/api/v1/cases/{exported['case']['id']}").status_code == 404
            # Every imported original's text is read here in turn: each has a text job.
            exhibits = http.get(f"/api/v1/cases/{case_id}/exhibits").json()["items"]
            items = [http.get(f"/api/v1/evidence/{e['evidence_id']}") for e in exhibits]
            assert exhibits and all(r.json()["text_status"] for r in items if r.status_code == 200), [
                r.text for r in items
            ]
    finally:
        target.kill()

    raw2, second, hashes2 = read_zip(again.content)
    assert hashes2 == remapped(hashes1, mapping)  # every original and bundle PDF byte for byte
    own_events = second.pop("audit_events")  # this instance's own chain: the import, nothing else yet
    assert [e["action"] for e in own_events] == ["case.import"]
    assert own_events[0]["details"]["source_manifest_sha256"] == hashlib.sha256(raw1).hexdigest()
    assert own_events[0]["details"]["created_users"] == [exported["editor"].email]
    # The source's events come back verbatim as imported history, seq and hashes included.
    assert second.pop("imported_history") == first.pop("imported_history") + first.pop("audit_events")
    for key in VOLATILE:
        first.pop(key), second.pop(key)
    assert second == remapped(first, mapping)
    assert second["case"]["filed_bundle_id"] == mapping[exported["bundle"]["id"]]  # the same bundle, filed here


def test_importing_the_same_export_twice_is_refused_unless_asked_for(target, imported, exported):
    """A second import would make a second, independent copy of the case (tests/test_import_ids.py), which is
    rarely meant: it takes --again."""
    [(case_id, _)] = import_records(target)
    before = snapshot(target)
    again = target.cli("import", str(exported["path"]))
    assert again.returncode == 1
    assert f"this export was imported here before, as case {case_id}" in again.stderr and "--again" in again.stderr
    assert snapshot(target) == before


def _drop_file_entry(path: str):
    def edit(manifest):
        manifest["files"] = [f for f in manifest["files"] if f["path"] != path]

    return edit


def _tamper_event(manifest):
    manifest["audit_events"][0]["details"]["title"] = "Someone else v. Mpow Direct"


def _version(manifest):
    manifest["format_version"] = 99


def _png(exported) -> str:
    return next(f"evidence/{i['sha256']}" for i in exported["items"] if i["media_type"] == "image/png")


def _other_bytes(exported) -> bytes:
    """As many bytes as the PNG, but not the PNG's: only its hash can tell."""
    size = next(i["size_bytes"] for i in exported["items"] if i["media_type"] == "image/png")
    return b"\x89PNG" + b"x" * (size - 4)


def _listed(name: str, body: bytes):
    def edit(manifest):
        manifest["files"].append({"path": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)})

    return edit


def _rebuilt_from_elsewhere(manifest):
    beside = next(b for b in manifest["bundles"] if b["rebuilt_from"] is not None)
    beside["rebuilt_from"] = str(uuid.uuid4())


def _before_rebuilt_from(manifest):
    for bundle in manifest["bundles"]:
        del bundle["rebuilt_from"]
    del manifest["case"]["filed_bundle_id"]


def _filed_elsewhere(manifest):
    manifest["case"]["filed_bundle_id"] = str(uuid.uuid4())


BROKEN = {
    # name: (how to break the export, what the refusal must say)
    "flipped byte": (lambda ex: flip_byte_in(ex["zip"], _png(ex)), "cannot be read"),
    "other bytes": (
        lambda ex: rezip(ex["zip"], drop={_png(ex)}, add={_png(ex): _other_bytes(ex)}),
        "but the manifest says",
    ),
    "other size": (
        lambda ex: rezip(ex["zip"], drop={_png(ex)}, add={_png(ex): b"\x89PNG not the original"}),
        "the ZIP says it inflates to 21 bytes",
    ),
    "missing file": (lambda ex: rezip(ex["zip"], drop={_png(ex)}), "listed in the manifest but missing from the ZIP"),
    "original not exported": (
        lambda ex: rezip(ex["zip"], drop={_png(ex)}, edit=_drop_file_entry(_png(ex))),
        "is not in the export",
    ),
    "parent path": (
        lambda ex: rezip(ex["zip"], add={"../../evil.txt": b"x"}, edit=_listed("../../evil.txt", b"x")),
        "'..'",
    ),
    "absolute path": (
        lambda ex: rezip(ex["zip"], add={"/tmp/evil.txt": b"x"}, edit=_listed("/tmp/evil.txt", b"x")),
        "an absolute path",
    ),
    "backslash": (
        lambda ex: rezip(ex["zip"], add={"evidence\\..\\evil": b"x"}, edit=_listed("evidence\\..\\evil", b"x")),
        "a backslash",
    ),
    "unlisted file": (lambda ex: rezip(ex["zip"], add={"extra.txt": b"x"}), "not listed in the manifest's files"),
    "edited audit event": (lambda ex: rezip(ex["zip"], edit=_tamper_event), "does not match its hash"),
    "rebuilt from a bundle not exported": (
        lambda ex: rezip(ex["zip"], edit=_rebuilt_from_elsewhere),
        "is not a bundle in the manifest",
    ),
    "filed bundle not exported": (
        lambda ex: rezip(ex["zip"], edit=_filed_elsewhere),
        "filed_bundle_id",
    ),
    "unknown version": (lambda ex: rezip(ex["zip"], edit=_version), "format_version 99 is not supported"),
    "not a zip": (lambda ex: b"PK\x03\x04 but then nothing", "not a readable ZIP"),
}


@pytest.mark.parametrize("how", list(BROKEN))
def test_a_broken_export_is_refused_and_nothing_is_written(how, exported, empty, tmp_path):
    breaker, message = BROKEN[how]
    path = tmp_path / "broken.zip"
    path.write_bytes(breaker(exported))
    before = snapshot(empty)
    result = empty.cli("import", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused; nothing was written" in result.stderr and message in result.stderr, result.stderr
    assert snapshot(empty) == before  # no row in any table, no file in the store, nothing staged
    assert not (tmp_path / "evil.txt").exists()


def test_a_row_the_database_refuses_rolls_back_rows_and_files(exported, empty, tmp_path):
    """A fault only the database notices (two placements in one slot): the transaction and the files go back."""

    def clash(manifest):
        placements = manifest["bundles"][0]["placements"]
        placements[1]["seq"] = placements[0]["seq"]

    path = tmp_path / "clash.zip"
    path.write_bytes(rezip(exported["zip"], edit=clash))
    before = snapshot(empty)
    result = empty.cli("import", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused; nothing was written" in result.stderr and "database refused" in result.stderr, result.stderr
    assert snapshot(empty) == before


def test_an_export_from_before_bundles_named_their_source_imports(exported, tmp_path_factory, tmp_path):
    """Columns added since format version 1 are nullable, and an export that lacks them imports them as null."""
    instance, drop = make_instance(tmp_path_factory, "older-export")
    try:
        path = tmp_path / "older.zip"
        path.write_bytes(rezip(exported["zip"], edit=_before_rebuilt_from))
        result = instance.cli("import", str(path))
        assert result.returncode == 0, result.stderr
        engine = make_engine(instance.database_url)
        try:
            with engine.connect() as conn:
                sources = conn.execute(select(Bundle.rebuilt_from)).scalars().all()
                filed = conn.execute(select(Case.filed_bundle_id)).scalars().all()
        finally:
            engine.dispose()
        assert len(sources) == 2 and sources == [None, None]
        assert filed == [None]
    finally:
        drop()


def test_import_as_a_user_makes_them_an_owner(exported, tmp_path_factory):
    instance, drop = make_instance(tmp_path_factory, "as-owner")
    try:
        email = f"partner-{uuid.uuid4().hex[:8]}@firm.example"
        unknown = instance.cli("import", str(exported["path"]), "--as", email)
        assert unknown.returncode == 1 and "no active user" in unknown.stderr
        assert instance.cli("user", "create", email, "--password", PASSWORD).returncode == 0
        done = instance.cli("import", str(exported["path"]), "--as", email)
        assert done.returncode == 0, done.stderr
        engine = make_engine(instance.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT u.email, m.role, u.is_active FROM case_members m JOIN users u ON u.id = m.user_id")
                ).all()
                actor = conn.execute(text("SELECT actor_email FROM audit_events WHERE action = 'case.import'")).one()
        finally:
            engine.dispose()
        members = {email: (role, bool(active)) for email, role, active in rows}
        assert members[email] == ("owner", True)
        assert members[exported["editor"].email] == ("editor", False)  # created inactive by the import
        assert actor[0] == email
    finally:
        drop()


@local_disk_only
def test_evidence_linked_from_another_case_travels_with_the_case(alice, corpus, tmp_path_factory):
    """Linked-in evidence comes along as evidence of the imported case, its home here, since the case it was
    uploaded into need not be imported. Importing that case too gives it a row of its own: two independent items
    of the same bytes, stored once. Neither import reaches the other's rows."""
    home, linking = alice.make_case(title="Home case"), alice.make_case(title="Linking case")
    f = next(f for f in corpus if f.kind == "refund_record")
    item = alice.upload(home["id"], f.path.read_bytes(), filename=f.path.name, kind="refund_record", title="Refund")
    assert item.status_code == 201, item.text
    item = item.json()
    r = alice.post(f"/api/v1/cases/{linking['id']}/exhibits", json={"evidence_id": item["id"]})
    assert r.status_code == 201, r.text
    instance, drop = make_instance(tmp_path_factory, "linked")
    try:
        for case in (linking, home):
            path = tmp_path_factory.mktemp("zips") / "case.zip"
            path.write_bytes(alice.get(f"/api/v1/cases/{case['id']}/export").content)
            result = instance.cli("import", str(path))
            assert result.returncode == 0, result.stderr
        assert instance.cli("verify").returncode == 0
        imports = {details["source_case_id"]: (case_id, details) for case_id, details in import_records(instance)}
        engine = make_engine(instance.database_url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(EvidenceItem.id, EvidenceItem.case_id).where(EvidenceItem.sha256 == item["sha256"])
                ).all()
                links = conn.execute(select(Exhibit.evidence_id, Exhibit.case_id)).all()
        finally:
            engine.dispose()
        (linking_id, linking_import), (home_id, home_import) = imports[linking["id"]], imports[home["id"]]
        [in_linking], [in_home] = linking_import["evidence"], home_import["evidence"]
        assert in_linking["source_id"] == in_home["source_id"] == item["id"]
        assert {(str(i), c) for i, c in rows} == {(in_linking["id"], linking_id), (in_home["id"], home_id)}
        assert {(str(e), c) for e, c in links} == {(in_linking["id"], linking_id), (in_home["id"], home_id)}
        assert linking_import["rehomed_evidence"] == [in_linking["id"]] and home_import["rehomed_evidence"] == []
        stored = [p for p in (instance.data_dir / "sha256").rglob(item["sha256"])]
        assert len(stored) == 1
    finally:
        drop()


def test_only_owners_export_and_non_members_see_nothing(client, owner, alice, bob):
    case = alice.make_case()
    r = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "editor"})
    assert r.status_code == 201
    assert bob.get(f"/api/v1/cases/{case['id']}/export").status_code == 403
    assert owner.get(f"/api/v1/cases/{case['id']}/export").status_code == 404
    assert alice.get(f"/api/v1/cases/{case['id']}/export").status_code == 200


def test_export_streams_a_large_original_intact(alice, live_server):
    case = alice.make_case()
    big = hashlib.sha256(b"seed").digest() * (6 * 1024 * 1024 // 32)  # 6 MiB
    r = alice.upload(case["id"], big, filename="warehouse-footage.bin", title="Footage")
    assert r.status_code == 201, r.text
    chunks = 0
    body = io.BytesIO()
    with live_client(live_server, alice) as http, http.stream("GET", f"/api/v1/cases/{case['id']}/export") as resp:
        assert resp.status_code == 200
        assert resp.headers.get("transfer-encoding") == "chunked" and "content-length" not in resp.headers
        for chunk in resp.iter_raw():
            chunks += 1
            body.write(chunk)
    assert chunks > 1
    _, manifest, hashes = read_zip(body.getvalue())
    sha = hashlib.sha256(big).hexdigest()
    assert hashes[f"evidence/{sha}"] == sha
    assert {"path": f"evidence/{sha}", "sha256": sha, "size": len(big)} in manifest["files"]
    assert resp.headers["x-manifest-sha256"] == hashlib.sha256(zipfile.ZipFile(body).read("manifest.json")).hexdigest()


def test_an_empty_case_exports_a_valid_zip(alice):
    case = alice.make_case()
    r = alice.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200
    raw, manifest, hashes = read_zip(r.content)
    assert hashes == {} and manifest["files"] == [] and manifest["evidence"] == []
    assert r.headers["x-manifest-sha256"] == hashlib.sha256(raw).hexdigest()


def test_no_export_while_a_bundle_is_being_built(alice):
    case = alice.make_case()
    with session_scope() as session:
        user = user_service.get_by_email(session, alice.email)
        bundle = Bundle(
            case_id=uuid.UUID(case["id"]),
            title="Exhibits",
            params={},
            bates_prefix="CB",
            status=BundleStatus.running,
            created_by=user.id,
        )
        session.add(bundle)
    r = alice.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 409 and "being built" in r.json()["detail"]
    with session_scope() as session:
        session.get(Bundle, bundle.id).status = BundleStatus.failed
    r = alice.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200
    _, manifest, hashes = read_zip(r.content)
    assert [b["status"] for b in manifest["bundles"]] == ["failed"] and hashes == {}
