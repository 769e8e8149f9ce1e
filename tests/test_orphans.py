"""Orphans: blobs in the store that nothing uses. A rebuild leaves none behind, `verify` names the ones there are,
and `casebinder purge --orphans` clears them, audited, by the same rule; run as real processes on a store of
their own (the suite's shared store holds other tests' files)."""

import hashlib
import os
import time
import uuid

import pytest
from sqlalchemy import select

from api.db import make_engine
from models.audit import AuditEvent
from tests.helpers import REASON, blob
from tests.s3_server import local_disk_only
from tests.server_process import Instance, finished_bundle, serving

pytestmark = pytest.mark.slow

HOUR = 3600


@pytest.fixture
def instance(tmp_path):
    with serving(tmp_path) as server:
        yield server


def upload(http, case_id: str, content: bytes, title: str = "Record") -> dict:
    r = http.post(
        f"/api/v1/cases/{case_id}/evidence",
        files={"file": (f"{title}.txt", content)},
        data={"kind": "other", "title": title},
    )
    assert r.status_code == 201, r.text
    return r.json()


def soft_delete(http, item: dict) -> None:
    assert http.delete(f"/api/v1/cases/{item['case_id']}/exhibits/{item['exhibit']['id']}").status_code == 204
    assert http.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "wrong file"}).status_code == 204


def finished(http, bundle_id: str) -> dict:
    return finished_bundle(http, bundle_id, seconds=120)


def plant(instance: Instance, content: bytes, *, age: float) -> str:
    """A blob nothing refers to, written at its place in the store `age` seconds ago."""
    sha256 = hashlib.sha256(content).hexdigest()
    path = blob(instance.data_dir, sha256)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content)
    os.utime(path, (time.time() - age, time.time() - age))
    return sha256


def orphan_events(instance: Instance) -> list[AuditEvent]:
    engine = make_engine(instance.database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(AuditEvent.actor_email, AuditEvent.details)
                .where(AuditEvent.action == "purge.orphans")
                .order_by(AuditEvent.seq)
            )
            return rows.all()
    finally:
        engine.dispose()


@local_disk_only
def test_rebuilds_leave_no_orphans_and_purge_orphans_clears_only_true_ones(instance):
    with instance.client() as http:
        case = http.post("/api/v1/cases", json={"title": "Acme v. Orphans", "case_type": "lanham_act"}).json()
        held_case = http.post("/api/v1/cases", json={"title": "Held v. Seller", "case_type": "lanham_act"}).json()
        live = upload(http, case["id"], f"live {uuid.uuid4()}".encode(), "Live")
        bundle = finished(http, http.post(f"/api/v1/cases/{case['id']}/bundles", json={}).json()["id"])
        assert bundle["status"] == "done", bundle
        assert http.patch(f"/api/v1/evidence/{live['id']}", json={"title": "Live, retitled"}).status_code == 200
        assert http.post(f"/api/v1/bundles/{bundle['id']}/rebuild").status_code == 202
        rebuilt = finished(http, bundle["id"])
        assert rebuilt["status"] == "done" and rebuilt["sha256"] != bundle["sha256"]

        verified = instance.cli("verify")
        assert verified.returncode == 0, verified.stdout  # the superseded volume did not stay behind

        # Purged before its case went on hold, its original left behind (a removal that did not finish).
        content = f"purged {uuid.uuid4()}".encode()
        purged = upload(http, held_case["id"], content, "Purged")
        soft_delete(http, purged)
        assert instance.cli("purge").returncode == 0
        assert not blob(instance.data_dir, purged["sha256"]).exists()
        assert plant(instance, content, age=2 * HOUR) == purged["sha256"]
        assert http.post(f"/api/v1/cases/{held_case['id']}/legal-hold", json={"reason": REASON}).status_code == 200
        deleted = upload(http, case["id"], f"deleted {uuid.uuid4()}".encode(), "Deleted")
        soft_delete(http, deleted)

    old = plant(instance, b"an old stray " + uuid.uuid4().bytes, age=2 * HOUR)
    fresh = plant(instance, b"a fresh stray " + uuid.uuid4().bytes, age=0)
    notes = instance.data_dir / "sha256" / "ab" / "cd" / "notes.txt"
    notes.parent.mkdir(parents=True, exist_ok=True)
    notes.write_text("left here by hand")

    verified = instance.cli("verify")
    assert verified.returncode == 1
    found = sorted(line.split()[-1] for line in verified.stdout.splitlines() if line.startswith("ORPHAN"))
    assert found == sorted(f"[{p}]" for p in (blob(instance.data_dir, old), blob(instance.data_dir, fresh), notes))

    dry = instance.cli("purge", "--orphans", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"ORPHAN   {old}" in dry.stdout and "would be removed" in dry.stdout
    assert f"KEPT     {fresh}" in dry.stdout and "less than an hour ago" in dry.stdout
    assert f"KEPT     {notes}" in dry.stdout and "not a blob" in dry.stdout
    assert dry.stdout.rstrip().splitlines()[-1].startswith("dry run: would remove 1 orphan blob(s)")
    assert blob(instance.data_dir, old).is_file() and orphan_events(instance) == []

    done = instance.cli("purge", "--orphans")
    assert done.returncode == 0, done.stderr
    assert f"REMOVED  {old}" in done.stdout and done.stdout.rstrip().splitlines()[-1].startswith("removed 1 orphan")
    assert not blob(instance.data_dir, old).exists()
    assert blob(instance.data_dir, fresh).is_file() and notes.is_file()
    for kept in (live["sha256"], deleted["sha256"], purged["sha256"], rebuilt["sha256"]):
        assert blob(instance.data_dir, kept).is_file(), kept
    [(actor, details)] = orphan_events(instance)
    assert actor == "command line" and details["removed"] == [old] and details["kept_too_new"] == [fresh]
    assert details["bytes_freed"] == len(b"an old stray ") + 16

    # An hour on, the fresh one goes too; the file that is not a blob is the administrator's to look at.
    os.utime(blob(instance.data_dir, fresh), (time.time() - 2 * HOUR, time.time() - 2 * HOUR))
    notes.unlink()
    assert f"REMOVED  {fresh}" in instance.cli("purge", "--orphans").stdout
    verified = instance.cli("verify")
    assert verified.returncode == 0, verified.stdout
