"""An import brings its own rows and nothing else: every id in an export gets a fresh id here, so a forged
manifest naming existing evidence (its id and SHA-256) can never link it, read it or change it.

The imports run as `casebinder import` processes on the suite's own database and data dir, next to the
victim's real evidence, which is where such an attack would be tried.
"""

import hashlib
import io
import json
import os
import subprocess
import uuid
import zipfile

import pytest
from sqlmodel import select

from api.db import session_scope
from models.audit import AuditEvent
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.timeline import TimelineEvent
from tests.conftest import count_rows
from tests.server_process import BIN, ROOT

pytestmark = pytest.mark.slow

PURGED_AT = "2024-01-02T03:04:05+00:00"


def cli(*args: str) -> subprocess.CompletedProcess:
    """`casebinder` on the suite's database and data dir (the environment the session fixtures set)."""
    return subprocess.run(
        [str(BIN), *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=120
    )


def manifest_of(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return json.loads(zf.read("manifest.json"))


def write_zip(path, manifest: dict, files: dict[str, bytes]) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("manifest.json", json.dumps(manifest))
        for name, body in files.items():
            zf.writestr(name, body)


def renamed(manifest: dict) -> dict:
    """The manifest with every row id replaced by a new one, as a forger would to get past "already exists"."""
    ids = [manifest["case"]["id"]] + [
        row["id"] for name in ("evidence", "exhibits", "timeline_events") for row in manifest[name]
    ]
    text = json.dumps(manifest)
    for old in ids:
        text = text.replace(old, str(uuid.uuid4()))
    forged = json.loads(text)
    forged["audit_events"] = []  # their hashes cover the old ids; an export may carry none
    forged["imported_history"] = []
    return forged


@pytest.fixture
def victim(alice):
    """Alice's evidence: the item a forged export tries to reach."""
    case = alice.make_case(title="Alice v. Seller")
    secret = b"privileged memo " + uuid.uuid4().bytes
    item = alice.upload(case["id"], secret, filename="memo.txt", title="Privileged memo")
    assert item.status_code == 201, item.text
    return item.json() | {"content": secret}


@pytest.fixture
def bobs_export(bob):
    """A real export of Bob's own case with one upload (so one evidence row, one exhibit, one derived event)."""
    case = bob.make_case(title="Bob v. Nobody")
    mine = bob.upload(
        case["id"], b"bob's own file " + uuid.uuid4().bytes, filename="own.txt", title="Own", occurred_at="2021-03-04"
    )
    assert mine.status_code == 201, mine.text
    r = bob.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200, r.text
    return case, mine.json(), r.content


def forge(export: bytes, victim: dict, *, exhibit: bool, deleted: bool) -> dict:
    """Bob's manifest, its one evidence row pointed at Alice's item (id, SHA-256, size) and marked purged, so
    no file has to come with it."""
    manifest = renamed(manifest_of(export))
    [row] = manifest["evidence"]
    old = row["id"]
    row |= {"id": victim["id"], "sha256": victim["sha256"], "size_bytes": victim["size_bytes"], "purged_at": PURGED_AT}
    if deleted:
        row |= {"deleted_at": PURGED_AT, "deleted_by_email": row["uploaded_by_email"], "deleted_reason": "forged"}
    for section in ("exhibits", "timeline_events"):
        for other in manifest[section]:
            if other["evidence_id"] == old:
                other["evidence_id"] = victim["id"]
    if not exhibit:
        manifest["exhibits"], manifest["timeline_events"] = [], []
    manifest["files"] = []
    return manifest


def imported_case(manifest_sha256: str) -> list[tuple[uuid.UUID, dict]]:
    with session_scope() as session:
        events = session.exec(select(AuditEvent).where(AuditEvent.action == "case.import")).all()
        return [(e.case_id, e.details) for e in events if e.details.get("source_manifest_sha256") == manifest_sha256]


def test_a_forged_export_cannot_link_someone_elses_evidence(victim, bob, bobs_export, tmp_path):
    """The attack as reported: Alice's id and SHA-256, purged_at set (so no file), and an exhibit row."""
    _, _, export = bobs_export
    path = tmp_path / "forged.zip"
    write_zip(path, forge(export, victim, exhibit=True, deleted=True), {})
    before = {table: count_rows(table) for table in ("cases", "evidence_items", "exhibits", "timeline_events")}
    result = cli("import", str(path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused; nothing was written" in result.stderr
    assert "was purged" in result.stderr, result.stderr  # an exhibit needs an original; a purged item has none
    assert {table: count_rows(table) for table in before} == before
    for suffix in ("", "/content", "/custody"):
        assert bob.get(f"/api/v1/evidence/{victim['id']}{suffix}").status_code == 404
    assert bob.patch(f"/api/v1/evidence/{victim['id']}", json={"title": "mine now"}).status_code == 404


@pytest.mark.parametrize("deleted", [True, False], ids=["deleted", "not-deleted"])
def test_a_purged_row_comes_in_as_a_new_purged_row_that_serves_nothing(
    victim, alice, bob, bobs_export, tmp_path, deleted
):
    """Without an exhibit the forged row is history only: it becomes a row of the new case with an id of its
    own, never Alice's item, and its SHA-256 (which names a blob in this store) never serves content. A row
    marked purged but not deleted is refused: purging only ever follows a deletion."""
    _, _, export = bobs_export
    path = tmp_path / "purged.zip"
    write_zip(path, forge(export, victim, exhibit=False, deleted=deleted), {})
    result = cli("import", str(path), "--as", bob.email)
    if not deleted:
        assert result.returncode == 1, result.stdout + result.stderr
        assert "purged but not deleted" in result.stderr, result.stderr
        return
    assert result.returncode == 0, result.stdout + result.stderr
    with session_scope() as session:
        rows = session.exec(select(EvidenceItem).where(EvidenceItem.sha256 == victim["sha256"])).all()
        links = session.exec(select(Exhibit.case_id).where(Exhibit.evidence_id == uuid.UUID(victim["id"]))).all()
    [original] = [r for r in rows if str(r.id) == victim["id"]]
    [copy] = [r for r in rows if str(r.id) != victim["id"]]
    assert str(original.case_id) == victim["case_id"] and original.purged_at is None
    assert links == [uuid.UUID(victim["case_id"])]  # still only in Alice's case
    assert copy.purged_at is not None and copy.deleted_at is not None and copy.case_id != original.case_id
    assert bob.get(f"/api/v1/evidence/{victim['id']}").status_code == 404
    assert bob.get(f"/api/v1/evidence/{copy.id}/content").status_code == 410
    assert alice.get(f"/api/v1/evidence/{victim['id']}/content").content == victim["content"]


def test_an_import_gets_fresh_ids_with_every_reference_rewritten(bob, bobs_export, tmp_path):
    """Re-importing a case's own export on the same instance: a second, independent case, the source ids kept
    only as provenance in the case.import event. A second import of the same export needs --again."""
    case, item, export = bobs_export
    path = tmp_path / "bob.zip"
    path.write_bytes(export)
    first = cli("import", str(path), "--as", bob.email)
    assert first.returncode == 0, first.stdout + first.stderr
    manifest_sha256 = hashlib.sha256(zipfile.ZipFile(path).read("manifest.json")).hexdigest()
    [(new_case, details)] = imported_case(manifest_sha256)
    assert str(new_case) != case["id"] and details["source_case_id"] == case["id"]
    [evidence] = details["evidence"]
    assert evidence["source_id"] == item["id"] and evidence["id"] != item["id"]
    assert (evidence["sha256"], evidence["size_bytes"]) == (item["sha256"], item["size_bytes"])
    [exhibit] = details["exhibits"]
    assert exhibit["source_id"] == item["exhibit"]["id"] and exhibit["evidence_id"] == evidence["id"]
    with session_scope() as session:
        rows = session.exec(select(Exhibit).where(Exhibit.case_id == new_case)).all()
        events = session.exec(select(TimelineEvent).where(TimelineEvent.case_id == new_case)).all()
        source_events = session.exec(select(TimelineEvent.id).where(TimelineEvent.case_id == uuid.UUID(case["id"])))
        source_events = set(source_events.all())
    assert [(str(r.id), str(r.evidence_id)) for r in rows] == [(exhibit["id"], evidence["id"])]
    [event] = events
    assert (str(event.exhibit_id), str(event.evidence_id)) == (exhibit["id"], evidence["id"])
    assert event.id not in source_events
    assert details["source_ids"]["timeline_events"] == {str(next(iter(source_events))): str(event.id)}
    # The source case is untouched, and each case reads its own item.
    assert bob.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"][0]["evidence_id"] == item["id"]
    assert bob.get(f"/api/v1/evidence/{evidence['id']}").json()["case_id"] == str(new_case)

    again = cli("import", str(path), "--as", bob.email)
    assert again.returncode == 1 and f"imported here before, as case {new_case}" in again.stderr, again.stderr
    copy = cli("import", str(path), "--as", bob.email, "--again")
    assert copy.returncode == 0, copy.stdout + copy.stderr
    cases = {case_id for case_id, _ in imported_case(manifest_sha256)}
    assert len(cases) == 2 and new_case in cases
    copies = {str(c): d["evidence"][0]["id"] for c, d in imported_case(manifest_sha256)}
    assert len(set(copies.values())) == 2  # two rows, one blob
