"""`casebinder verify`, run as a real process against a store with real uploads and a real bundle.

The instance has a database and data dir of its own: the suite's shared ones hold rows from other tests
(the demo command's, say) whose blobs live elsewhere, so only a store of its own can be verified clean.
"""

import hashlib
import os
import re
import time

import pytest
from sqlalchemy import delete, insert, update
from sqlmodel import Session

from api.db import make_engine
from api.services import verify as verify_service
from api.storage import LocalBlobStore
from models.audit import AuditEvent
from tests.helpers import audit_rows, rechain, restore_chain
from tests.s3_server import local_disk_only
from tests.server_process import Instance, finished_bundle, fresh_database

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def store(tmp_path_factory, corpus):
    tmp = tmp_path_factory.mktemp("verify")
    url, drop = fresh_database(tmp)
    instance = Instance(url, tmp / "blobs")
    instance.add_user()
    instance.start()
    try:
        with instance.client() as http:
            case = http.post("/api/v1/cases", json={"title": "Acme v. Verify", "case_type": "lanham_act"}).json()
            items = []
            for f in corpus[:3]:
                r = http.post(
                    f"/api/v1/cases/{case['id']}/evidence",
                    files={"file": (f.path.name, f.path.read_bytes())},
                    data={"kind": f.kind, "title": f.title},
                )
                assert r.status_code == 201, r.text
                items.append(r.json())
            bundle = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Verify"}).json()
            bundle = finished_bundle(http, bundle["id"], seconds=120)
            assert bundle["status"] == "done", bundle
    finally:
        instance.kill()
    yield instance, items, bundle
    drop()


def blob_path(instance: Instance, sha256: str):
    return instance.data_dir / "sha256" / sha256[:2] / sha256[2:4] / sha256


def verify(instance: Instance):
    started = time.monotonic()
    result = instance.cli("verify")
    assert result.returncode in (0, 1), result.stderr
    return result, time.monotonic() - started


def findings(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^(MISSING|CORRUPT|ORPHAN|BROKEN) ", line)]


def test_a_clean_store_passes(store):
    instance, items, bundle = store
    result, _ = verify(instance)
    assert result.returncode == 0, result.stdout
    assert findings(result.stdout) == []
    assert "originals re-hashed" in result.stdout and "bundle volumes re-hashed" in result.stdout
    assert "audit chain walked" in result.stdout
    assert f"checked {len(items)} originals ({len(items)} evidence items), 1 bundle volumes" in result.stdout
    assert result.stdout.rstrip().endswith("OK: no findings")


@local_disk_only
def test_a_flipped_byte_is_reported_with_the_evidence_id(store):
    instance, items, _ = store
    item = items[1]
    path = blob_path(instance, item["sha256"])
    original = path.read_bytes()
    os.chmod(path, 0o640)  # originals are stored read-only
    try:
        with open(path, "r+b") as f:
            f.seek(len(original) // 2)
            f.write(bytes([original[len(original) // 2] ^ 0x01]))
        result, _ = verify(instance)
        assert result.returncode == 1
        [line] = findings(result.stdout)
        assert line.startswith("CORRUPT") and f"evidence {item['id']}" in line and str(path) in line
        flipped = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"bytes hash to {flipped}, not {item['sha256']}" in line
        assert "FAILED: 1 finding(s): 1 corrupt" in result.stdout
    finally:
        path.write_bytes(original)
        os.chmod(path, 0o440)
    assert verify(instance)[0].returncode == 0


@local_disk_only
def test_a_missing_original_and_a_missing_bundle_volume_are_reported(store):
    instance, items, bundle = store
    item, volume = items[0], bundle["volumes"][0]
    moved = []
    try:
        for sha256 in (item["sha256"], volume["sha256"]):
            path = blob_path(instance, sha256)
            path.rename(path.with_name(f"{sha256}.aside"))
            moved.append(path)
        result, _ = verify(instance)
        assert result.returncode == 1
        lines = findings(result.stdout)
        missing = [line for line in lines if line.startswith("MISSING")]
        assert len(missing) == 2, result.stdout
        assert any(f"evidence {item['id']}" in line and str(moved[0]) in line for line in missing)
        assert any(f"bundle {bundle['id']} volume 1" in line for line in missing)
        # The moved-aside copies are not where any row expects them: blobs without rows.
        assert len([line for line in lines if line.startswith("ORPHAN")]) == 2
    finally:
        for path in moved:
            path.with_name(f"{path.name}.aside").rename(path)
    assert verify(instance)[0].returncode == 0


@local_disk_only
def test_a_blob_without_a_row_is_reported_and_kept(store):
    instance, _, _ = store
    stray = instance.data_dir / "sha256" / "ab" / "cd"
    stray.mkdir(parents=True, exist_ok=True)
    data = b"dropped here by hand"
    planted = [stray / hashlib.sha256(data).hexdigest(), stray / "notes.txt"]
    try:
        for path in planted:
            path.write_bytes(data)
        result, _ = verify(instance)
        assert result.returncode == 1
        lines = findings(result.stdout)
        assert len(lines) == 2 and all(line.startswith("ORPHAN") for line in lines)
        for path in planted:
            assert any(str(path) in line for line in lines)
            assert path.read_bytes() == data  # verify deletes nothing
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    assert verify(instance)[0].returncode == 0


# The audit chain, tampered with directly in SQL as someone with database access could.


@pytest.fixture
def db(store):
    engine = make_engine(store[0].database_url)
    yield engine
    engine.dispose()


def verify_here(instance: Instance, db) -> str:
    """The verify report, from the same service the command runs, without a process start per check."""
    with Session(db) as session:
        return "\n".join(verify_service.render(verify_service.verify_store(session, LocalBlobStore(instance.data_dir))))


def broken(instance: Instance, db, *, command: bool = False) -> str:
    if command:
        result, _ = verify(instance)
        assert result.returncode == 1, result.stdout
        stdout = result.stdout
    else:
        stdout = verify_here(instance, db)
    [line] = findings(stdout)
    assert line.startswith("BROKEN") and "FAILED: 1 finding(s): 1 broken" in stdout
    return line


def intact(instance: Instance, db) -> bool:
    return verify_here(instance, db).endswith("OK: no findings")


def test_the_audit_chain_of_a_clean_store_holds_and_each_run_is_recorded(store, db):
    instance, items, _ = store
    before = audit_rows(db)
    assert verify(instance)[0].returncode == 0
    after = audit_rows(db)
    assert after[: len(before)] == before
    [run] = after[len(before) :]
    assert run["action"] == "verify" and run["actor_email"] == "command line"
    assert run["details"]["ok"] is True and run["details"]["corrupt"] == [] and run["details"]["chain_break"] is None
    uploads = [r for r in after if r["action"] == "evidence.upload"]
    assert sorted(r["details"]["sha256"] for r in uploads) == sorted(i["sha256"] for i in items)


@local_disk_only
def test_an_edited_audit_row_is_reported_at_its_seq(store, db):
    instance = store[0]
    row = next(r for r in audit_rows(db) if r["action"] == "evidence.upload")
    table = AuditEvent.__table__
    with db.begin() as conn:
        conn.execute(update(table).where(table.c.seq == row["seq"]).values(details=row["details"] | {"size_bytes": 1}))
    try:
        line = broken(instance, db, command=True)
        assert f"audit seq {row['seq']} (event {row['id']})" in line and "the row was changed" in line
    finally:
        with db.begin() as conn:
            conn.execute(update(table).where(table.c.seq == row["seq"]).values(details=row["details"]))
    assert intact(instance, db)


@local_disk_only
def test_a_deleted_audit_row_is_reported_as_a_gap(store, db):
    instance = store[0]
    row = audit_rows(db)[3]
    table = AuditEvent.__table__
    with db.begin() as conn:
        conn.execute(delete(table).where(table.c.seq == row["seq"]))
    try:
        line = broken(instance, db)
        assert f"audit seq {row['seq'] + 1}" in line
        assert f"events {row['seq']}..{row['seq']} are missing" in line
    finally:
        with db.begin() as conn:
            conn.execute(insert(table).values(row))
    assert intact(instance, db)


@local_disk_only
def test_reordered_audit_rows_are_reported(store, db):
    instance = store[0]
    first, second = audit_rows(db)[4:6]
    table = AuditEvent.__table__

    def swap() -> None:  # exchange the two events' places in the chain
        with db.begin() as conn:
            conn.execute(update(table).where(table.c.seq == first["seq"]).values(seq=-1))
            conn.execute(update(table).where(table.c.seq == second["seq"]).values(seq=first["seq"]))
            conn.execute(update(table).where(table.c.seq == -1).values(seq=second["seq"]))

    swap()
    try:
        line = broken(instance, db)
        assert f"audit seq {first['seq']} (event {second['id']})" in line
        assert f"prev_hash is {second['prev_hash']}, but the event before it has hash {first['prev_hash']}" in line
    finally:
        swap()
    assert intact(instance, db)


@local_disk_only
def test_events_cut_off_the_end_are_reported_against_the_head(store, db):
    instance = store[0]
    last = audit_rows(db)[-1]
    table = AuditEvent.__table__
    with db.begin() as conn:
        conn.execute(delete(table).where(table.c.seq == last["seq"]))
    try:
        line = broken(instance, db)
        assert f"the head says seq {last['seq']}" in line and "events were removed from the end" in line
    finally:
        with db.begin() as conn:
            conn.execute(insert(table).values(last))
    assert intact(instance, db)


@local_disk_only
def test_a_rewritten_chain_passes_the_walk_but_not_an_anchor_kept_from_before(store, db):
    instance = store[0]
    run, _ = verify(instance)
    [printed] = [line for line in run.stdout.splitlines() if line.startswith("anchor: ")]
    anchor = printed.split()[1]
    last = audit_rows(db)[-2]  # the newest event before the run's own record
    assert anchor == f"{last['seq']}:{last['hash']}"
    ok = instance.cli("verify", "--anchor", anchor)
    assert ok.returncode == 0 and "compared 1 audit anchor(s)" in ok.stdout, ok.stdout

    upload = next(r for r in audit_rows(db) if r["action"] == "evidence.upload")
    original = rechain(db, upload["seq"], upload["details"] | {"original_filename": "innocent.pdf"})
    try:
        assert intact(instance, db)  # every link recomputes: the walk alone cannot tell
        result = instance.cli("verify", "--anchor", anchor, "--anchor", f"{10**9}:{'a' * 64}")
        assert result.returncode == 1, result.stdout
        lines = findings(result.stdout)
        assert len(lines) == 2 and "FAILED: 2 finding(s): 2 broken" in result.stdout
        assert f"audit seq {last['seq']} (anchor)" in lines[0] and f"anchored at {anchor}" in lines[0]
        assert f"was changed or rewritten at or before seq {last['seq']}" in lines[0]
        assert f"the trail has no event {10**9}" in lines[1]
        assert not any(line.startswith("anchor: ") for line in result.stdout.splitlines())  # none for a bad chain
    finally:
        restore_chain(db, original)
    assert intact(instance, db)
    recorded = [r for r in audit_rows(db) if r["action"] == "verify"][-1]["details"]
    assert recorded["anchors"] == sorted([anchor, f"{10**9}:{'a' * 64}"], key=lambda a: int(a.split(":")[0]))
    assert recorded["head"] is None and recorded["ok"] is False

    for bad in ("12", "0:" + "a" * 64, "x:" + "a" * 64, "5:abc"):
        refused = instance.cli("verify", "--anchor", bad)
        assert (refused.returncode, refused.stdout) == (2, "") and "an anchor is SEQ:SHA256" in refused.stderr, bad


def test_admins_verify_over_http_and_the_run_is_recorded(store, db):
    instance = store[0]
    token = instance.add_user(admin=True)
    instance.start()
    try:
        with instance.client() as http:
            r = http.post("/api/v1/admin/verify")
            assert r.status_code == 200, r.text
            report = r.json()
            assert report["ok"] is True and report["findings"] == []
            assert "audit chain walked" in report["checks"] and report["originals"] == 3
            assert report["audit_events"] == len(audit_rows(db)) - 1  # all but its own, written after the walk
            newest = audit_rows(db)[-2]
            assert report["anchor"] == {"seq": newest["seq"], "hash": newest["hash"]}
            again = http.post("/api/v1/admin/verify", json={"anchors": [report["anchor"]]}).json()
            assert again["ok"] is True and again["anchors_checked"] == 1 and "audit anchors compared" in again["checks"]
            forged = http.post("/api/v1/admin/verify", json={"anchors": [report["anchor"] | {"hash": "b" * 64}]})
            assert forged.json()["ok"] is False and forged.json()["anchor"] is None
            [finding] = forged.json()["findings"]
            assert finding["problem"] == "broken" and finding["refs"] == [f"audit seq {newest['seq']} (anchor)"]
            bad = http.post("/api/v1/admin/verify", json={"anchors": [{"seq": 0, "hash": "B" * 64}]})
            assert bad.status_code == 422
        instance.add_user()
        with instance.client() as http:
            r = http.post("/api/v1/admin/verify")
            assert r.status_code == 403 and "administrator" in r.json()["detail"]
    finally:
        instance.kill()
        instance.token = token
    # Three runs recorded; the 422 and the refused non-admin call recorded nothing.
    plain, anchored, forged = [r for r in audit_rows(db) if r["action"] == "verify"][-3:]
    assert plain["actor_email"].startswith("crash-") and plain["details"]["ok"] is True
    assert plain["details"]["head"] == f"{report['anchor']['seq']}:{report['anchor']['hash']}"
    assert (anchored["details"]["ok"], anchored["details"]["anchors"]) == (True, [plain["details"]["head"]])
    assert forged["details"]["ok"] is False and forged["details"]["head"] is None
