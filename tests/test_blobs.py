"""Whether a blob is still used, asked where a failed upload or import takes back a file it stored: the answer is
the one the purges and `verify` give (`blobs.still_used`). Each test sets up a row that names bytes the store
lacks (a rebuild's volume, an original purged before its case went on hold), has an upload or an import bring
those bytes and then fail, and checks the file stays.
"""

import hashlib
import io
import json
import uuid
import zipfile
from datetime import timedelta

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from api import cli
from api.db import session_scope
from api.deps import get_blob_store
from api.services import blobs, orphans
from api.services import evidence as evidence_service
from api.services import purge as purge_service
from api.services import users as user_service
from models.bundle import Bundle, BundleStatus
from models.user import UserCreate
from tests.conftest import PASSWORD, Actor
from tests.server_process import wait_for

HOLD_REASON = "Preservation letter from opposing counsel, 2024-03-01"


class Failed(Exception):
    """What the request below fails with, once its file is in place."""


def blob(root, sha256: str):
    return root / "sha256" / sha256[:2] / sha256[2:4] / sha256


def upload(actor, case_id: str, content: bytes, title: str) -> dict:
    r = actor.upload(case_id, content, filename=f"{title}.txt", title=title)
    assert r.status_code == 201, r.text
    return r.json()


def soft_delete_and_purge(actor, item: dict) -> None:
    r = actor.delete(f"/api/v1/cases/{item['case_id']}/exhibits/{item['exhibit']['id']}")
    assert r.status_code == 204, r.text
    r = actor.delete(f"/api/v1/evidence/{item['id']}", params={"reason": "wrong file"})
    assert r.status_code == 204, r.text
    with session_scope() as session:
        purge_service.purge(session, get_blob_store(), actor_email="test")


def hold(actor, case_id: str) -> None:
    r = actor.post(f"/api/v1/cases/{case_id}/legal-hold", json={"reason": HOLD_REASON})
    assert r.status_code == 200, r.text


def used(sha256: str) -> tuple[bool, bool]:
    """What the rule says, and whether an orphan sweep would take the file."""
    with session_scope() as session:
        return blobs.in_use(session, sha256), sha256 in {
            o.sha256 for o in orphans.scan(session, get_blob_store()).orphans
        }


def failing_upload(actor, monkeypatch, case_id: str, content: bytes) -> None:
    """An upload that stores its file, then fails before it commits (the database refusing the commit, say)."""
    real = evidence_service.ingest

    def ingest(*args, **kwargs):
        real(*args, **kwargs)
        raise Failed

    monkeypatch.setattr(evidence_service, "ingest", ingest)
    with pytest.raises(Failed):
        actor.upload(case_id, content, filename="again.pdf", title="Again")
    monkeypatch.setattr(evidence_service, "ingest", real)


def failing_import(path) -> None:
    """`casebinder import` of an export whose rows the database refuses: the transaction and its files go back."""
    result = CliRunner().invoke(cli.app, ["import", str(path)])
    assert result.exit_code == 1 and "database refused" in result.output, result.output


@pytest.fixture(scope="module")
def exported(client, tmp_path_factory):
    """A case with three items, two of them in a built bundle, exported; and the export with two placements in one
    slot, which only the database refuses."""
    with session_scope() as session:
        email = f"blobs-{uuid.uuid4().hex[:12]}@firm.example"
        user = user_service.create_user(session, UserCreate(email=email, password=PASSWORD))
        token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=2))
    owner = Actor(client, email, token)
    case = owner.make_case(title="Blobs v. Store")
    items = [upload(owner, case["id"], f"{name} {uuid.uuid4()}\n".encode(), name) for name in ("One", "Two", "Three")]
    r = owner.post(
        f"/api/v1/cases/{case['id']}/bundles",
        json={"title": "Two", "exhibit_ids": [items[0]["exhibit"]["id"], items[1]["exhibit"]["id"]]},
    )
    assert r.status_code == 202, r.text
    bundle = wait_for(
        lambda: (b := owner.get(f"/api/v1/bundles/{r.json()['id']}").json())["status"] in ("done", "failed") and b,
        seconds=180,
        what="the bundle to be built",
        interval=0.1,
    )
    assert bundle["status"] == "done", bundle
    r = owner.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200, r.text
    clash = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(r.content)) as src, zipfile.ZipFile(clash, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "manifest.json":
                manifest = json.loads(body)
                placements = manifest["bundles"][0]["placements"]
                placements[1]["seq"] = placements[0]["seq"]
                body = json.dumps(manifest).encode()
            dst.writestr(info.filename, body)
    path = tmp_path_factory.mktemp("blobs") / "clash.zip"
    path.write_bytes(clash.getvalue())
    return {"owner": owner, "case": case, "items": items, "bundle": bundle, "clash": path}


def test_a_failed_upload_keeps_bytes_a_bundle_volume_names(alice, monkeypatch, blob_root, exported):
    """The bundle's PDF, uploaded as evidence, brings back its lost volume file; the upload then fails. The file
    stays: the bundle serves it (an upload's own check used to look at evidence rows only)."""
    owner, volume = exported["owner"], exported["bundle"]["volumes"][0]
    path = blob(blob_root, volume["sha256"])
    content = path.read_bytes()
    path.unlink()
    other = alice.make_case(title="Upload v. Volume")
    failing_upload(alice, monkeypatch, other["id"], content)
    assert path.is_file()
    assert used(volume["sha256"]) == (True, False)
    r = owner.get(f"/api/v1/bundles/{exported['bundle']['id']}/volumes/{volume['number']}/pdf")
    assert r.status_code == 200 and r.content == content


def test_a_failed_upload_keeps_bytes_a_held_purged_item_names(alice, monkeypatch, blob_root):
    """An item purged before its case went on hold: its bytes, uploaded into another case by a request that then
    fails, stay, as the purges and the orphan sweep would keep them (an upload's own check ignored holds)."""
    held_case = alice.make_case(title="Held v. Purged")
    content = f"purged then held {uuid.uuid4()}\n".encode()
    item = upload(alice, held_case["id"], content, "Purged")
    soft_delete_and_purge(alice, item)
    assert not blob(blob_root, item["sha256"]).exists()
    hold(alice, held_case["id"])
    other = alice.make_case(title="Upload v. Hold")
    failing_upload(alice, monkeypatch, other["id"], content)
    assert blob(blob_root, item["sha256"]).is_file()
    assert used(item["sha256"]) == (True, False)


def test_a_failed_import_keeps_a_volume_of_a_bundle_being_rebuilt(blob_root, exported):
    """A bundle being rebuilt still serves its last build. An import brings back that build's lost volume file and
    is refused: the file stays (an import's own check counted only the volumes of bundles that were done)."""
    bundle, volume = exported["bundle"], exported["bundle"]["volumes"][0]
    path = blob(blob_root, volume["sha256"])
    path.unlink()
    with session_scope() as session:
        session.execute(update(Bundle).where(Bundle.id == uuid.UUID(bundle["id"])).values(status=BundleStatus.running))
    try:
        failing_import(exported["clash"])
        assert path.is_file()
        assert used(volume["sha256"]) == (True, False)
    finally:
        with session_scope() as session:
            session.execute(update(Bundle).where(Bundle.id == uuid.UUID(bundle["id"])).values(status=BundleStatus.done))


def test_a_failed_import_keeps_bytes_a_held_purged_item_names(blob_root, exported):
    """An original purged, then its case put on hold: an import of the case's earlier export brings the bytes back
    and is refused; the file stays (an import's own check ignored holds)."""
    owner, case, item = exported["owner"], exported["case"], exported["items"][2]
    soft_delete_and_purge(owner, item)
    assert not blob(blob_root, item["sha256"]).exists()
    hold(owner, case["id"])
    failing_import(exported["clash"])
    assert blob(blob_root, item["sha256"]).is_file()
    assert used(item["sha256"]) == (True, False)


def test_bytes_nothing_names_go_with_a_failed_upload(alice, monkeypatch, blob_root):
    """The other side of the rule: bytes only the failed request named leave no file behind."""
    case = alice.make_case(title="Upload v. Nothing")
    content = f"named by nothing {uuid.uuid4()}\n".encode()
    failing_upload(alice, monkeypatch, case["id"], content)
    assert not blob(blob_root, hashlib.sha256(content).hexdigest()).exists()
