"""`casebinder verify` checks the rows, not only the files: an evidence row pointed at other bytes, moved to
another case, or an exhibit planted or removed behind the audit trail's back is a finding, even when every
file in the store hashes to its name.

The instance has a history with everything that changes rows legitimately (uploads, a duplicate, links and
unlinks, a delete and a restore, a purge, an import of a case into the same instance), and verifies clean.
"""

import hashlib
import re
import uuid

import pytest
from sqlalchemy import delete, insert, select, update

from api.db import make_engine
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from tests.helpers import audit_rows, rechain, restore_chain
from tests.server_process import Instance, fresh_database

pytestmark = pytest.mark.slow


def unique(label: str) -> bytes:
    return f"{label} {uuid.uuid4()}".encode()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("verify-rows")
    url, drop = fresh_database(root)
    instance = Instance(url, root / "blobs", settings={"CASEBINDER_BLOB_BACKEND": "local"})  # files planted on disk
    instance.add_user()
    instance.start()
    try:
        with instance.client() as http:

            def case(title: str) -> dict:
                return http.post("/api/v1/cases", json={"title": title, "case_type": "lanham_act"}).json()

            def upload(case_id: str, content: bytes, expect: int = 201) -> dict:
                r = http.post(
                    f"/api/v1/cases/{case_id}/evidence",
                    files={"file": ("f.txt", content)},
                    data={"kind": "other", "title": "Record"},
                )
                assert r.status_code == expect, r.text
                return r.json()

            def unlink(case_id: str, exhibit_id: str) -> None:
                r = http.delete(f"/api/v1/cases/{case_id}/exhibits/{exhibit_id}")
                assert r.status_code == 204, r.text

            def link(case_id: str, evidence_id: str) -> dict:
                r = http.post(f"/api/v1/cases/{case_id}/exhibits", json={"evidence_id": evidence_id})
                assert r.status_code == 201, r.text
                return r.json()

            def remove(item: dict) -> None:
                unlink(item["case_id"], item["exhibit"]["id"])
                r = http.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "uploaded by mistake"})
                assert r.status_code == 204, r.text

            a, b = case("Acme v. Rows"), case("Acme v. Other Seller")
            kept, shared, restored, purged = (unique(n) for n in ("kept", "shared", "restored", "purged"))
            first = upload(a["id"], kept)
            upload(a["id"], kept, expect=200)  # a duplicate: no new row
            both = upload(a["id"], shared)
            again = upload(a["id"], restored)
            remove(again)
            upload(a["id"], restored)  # the same bytes bring the deleted item back
            gone = upload(a["id"], purged)
            remove(gone)
            linked = link(b["id"], first["id"])
            unlink(b["id"], linked["id"])
            link(b["id"], both["id"])
            own = upload(b["id"], unique("only in b"))
            export = http.get(f"/api/v1/cases/{a['id']}/export")
            assert export.status_code == 200, export.text
    finally:
        instance.kill()
    assert instance.cli("purge").returncode == 0
    path = root / "a.zip"
    path.write_bytes(export.content)
    imported = instance.cli("import", str(path))
    assert imported.returncode == 0, imported.stderr
    yield instance, {"a": a, "b": b, "first": first, "own": own}
    drop()


@pytest.fixture
def db(store):
    engine = make_engine(store[0].database_url)
    yield engine
    engine.dispose()


def findings(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^(MISSING|CORRUPT|ORPHAN|BROKEN|MISMATCH) ", line)]


def verify(instance: Instance) -> tuple[int, list[str], str]:
    result = instance.cli("verify")
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, findings(result.stdout), result.stdout


def test_a_store_with_a_full_history_verifies_clean(store):
    code, lines, stdout = verify(store[0])
    assert (code, lines) == (0, []), stdout
    assert "evidence rows and exhibits compared with the audit trail" in stdout
    assert re.search(r"compared 9 evidence rows and 8 exhibits with the audit trail", stdout), stdout


def blob_path(instance: Instance, sha256: str):
    return instance.data_dir / "sha256" / sha256[:2] / sha256[2:4] / sha256


def test_an_evidence_row_repointed_at_a_planted_blob_is_reported(store, db):
    """The reported tampering: the row's sha256 and size changed to a blob planted in the store, the original
    deleted. Every file still hashes to its name and no blob lacks a row; only the trail can tell."""
    instance, made = store
    item = made["own"]
    planted = b"what the other side would rather the record said"
    digest = hashlib.sha256(planted).hexdigest()
    original = blob_path(instance, item["sha256"])
    kept = original.read_bytes()
    target = blob_path(instance, digest)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(planted)
    original.chmod(0o640)
    original.unlink()
    rows = EvidenceItem.__table__
    with db.begin() as conn:
        conn.execute(
            update(rows).where(rows.c.id == uuid.UUID(item["id"])).values(sha256=digest, size_bytes=len(planted))
        )
    try:
        code, lines, stdout = verify(instance)
        assert code == 1, stdout
        [line] = lines
        assert line.startswith(f"MISMATCH evidence {item['id']}: the row says sha256 {digest}, {len(planted)} bytes")
        assert f"recorded sha256 {item['sha256']}, {item['size_bytes']} bytes" in line
        assert "FAILED: 1 finding(s): 1 mismatch" in stdout
    finally:
        with db.begin() as conn:
            conn.execute(
                update(rows)
                .where(rows.c.id == uuid.UUID(item["id"]))
                .values(sha256=item["sha256"], size_bytes=item["size_bytes"])
            )
        target.unlink()
        original.write_bytes(kept)
        original.chmod(0o440)
    assert verify(instance)[:2] == (0, [])


def test_evidence_moved_to_another_case_is_reported(store, db):
    instance, made = store
    item, elsewhere = made["own"], made["a"]["id"]
    rows = EvidenceItem.__table__
    with db.begin() as conn:
        conn.execute(update(rows).where(rows.c.id == uuid.UUID(item["id"])).values(case_id=uuid.UUID(elsewhere)))
    try:
        code, lines, stdout = verify(instance)
        assert code == 1, stdout
        [line] = lines
        assert line.startswith(f"MISMATCH evidence {item['id']}: the row says") and f"case {elsewhere}" in line
        assert f"case {item['case_id']}" in line
    finally:
        with db.begin() as conn:
            conn.execute(
                update(rows).where(rows.c.id == uuid.UUID(item["id"])).values(case_id=uuid.UUID(item["case_id"]))
            )
    assert verify(instance)[:2] == (0, [])


def test_a_planted_and_a_removed_exhibit_are_reported(store, db):
    instance, made = store
    item, case_a = made["own"], made["a"]["id"]
    table = Exhibit.__table__
    with db.connect() as conn:
        real = dict(conn.execute(select(table).where(table.c.evidence_id == uuid.UUID(item["id"]))).mappings().one())
    planted = real | {"id": uuid.uuid4(), "case_id": uuid.UUID(case_a), "label": "PX-999", "position": 99}
    with db.begin() as conn:
        conn.execute(insert(table).values(planted))
        conn.execute(delete(table).where(table.c.id == real["id"]))
    try:
        code, lines, stdout = verify(instance)
        assert code == 1, stdout
        assert len(lines) == 2, stdout
        assert any(
            line.startswith(f"MISMATCH exhibit {planted['id']}: links evidence {item['id']} into case {case_a}")
            and "no exhibit.link or import in the audit trail made it" in line
            for line in lines
        ), lines
        assert any(
            line.startswith(f"MISMATCH exhibit {real['id']}:") and "the row is gone" in line for line in lines
        ), lines
    finally:
        with db.begin() as conn:
            conn.execute(delete(table).where(table.c.id == planted["id"]))
            conn.execute(insert(table).values(real))
    assert verify(instance)[:2] == (0, [])


def test_rows_of_an_import_from_before_imports_listed_them_are_counted_not_compared(store, db):
    """An import recorded without its rows (as imports were before) vouches for none: its rows are reported as
    not compared, not as mismatches, and everything else is still compared."""
    instance, _ = store
    [event] = [r for r in audit_rows(db) if r["action"] == "case.import"]
    listed = ("evidence", "exhibits", "source_ids", "source_case_id")
    old_shape = {k: v for k, v in event["details"].items() if k not in listed} | {"reused_evidence": []}
    original = rechain(db, event["seq"], old_shape)
    try:
        code, lines, stdout = verify(instance)
        assert (code, lines) == (0, []), stdout
        rows = len(event["details"]["evidence"]) + len(event["details"]["exhibits"])
        assert f"not compared: {rows} rows of cases imported before imports recorded their rows" in stdout
    finally:
        restore_chain(db, original)
    code, _, stdout = verify(instance)
    assert code == 0 and "not compared" not in stdout
