"""A download whose stored file is gone or damaged: checked before a byte is sent, answered with a 500 that
names an error id, and recorded in the audit trail (the request's own changes roll back; this event stays)."""

import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import live_client


def blob_path(blob_root: Path, sha256: str) -> Path:
    return blob_root / "sha256" / sha256[:2] / sha256[2:4] / sha256


@contextmanager
def damaged(path: Path, replacement: bytes | None):
    """The stored file removed (None) or overwritten with other bytes, and put back afterwards."""
    original = path.read_bytes()
    path.unlink()
    if replacement is not None:
        path.write_bytes(replacement)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
        path.write_bytes(original)
        os.chmod(path, 0o440)


def integrity_events(owner, case_id: str) -> list[dict]:
    r = owner.get(f"/api/v1/cases/{case_id}/audit", params={"action": "evidence.integrity_failure"})
    assert r.status_code == 200, r.text
    return r.json()["items"]


@pytest.mark.parametrize(
    ("replacement", "found"), [(None, {"missing": True}), (b"short", {"found_size": 5})], ids=["missing", "truncated"]
)
def test_a_download_whose_stored_file_is_damaged_gets_500_with_an_error_id_and_is_audited(
    alice, live_server, blob_root, replacement, found
):
    case = alice.make_case()
    original = b"the seller's insert card, as captured"
    item = alice.upload(case["id"], original, filename="card.txt").json()
    with damaged(blob_path(blob_root, item["sha256"]), replacement), live_client(live_server, alice) as api:
        r = api.get(f"/api/v1/evidence/{item['id']}/content")
        assert r.status_code == 500, r.text
        assert r.headers["content-type"] == "application/json"
        body = r.json()
        error_id = body["error_id"]
        assert error_id in body["detail"] and "administrator" in body["detail"]

        cached = api.get(f"/api/v1/evidence/{item['id']}/content", headers={"If-None-Match": f'"{item["sha256"]}"'})
        assert cached.status_code == 500  # checked even when the client says it has the bytes

    events = integrity_events(alice, case["id"])
    assert [e["details"]["error_id"] for e in events] == [error_id, cached.json()["error_id"]]
    first = events[0]
    assert first["evidence_id"] == item["id"] and first["actor_email"] == alice.email
    assert first["details"] | found == first["details"]
    assert first["details"]["sha256"] == item["sha256"] and first["details"]["expected_size"] == len(original)
    # The failed attempts are not recorded as downloads.
    downloads = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "evidence.download"}).json()
    assert downloads["items"] == []

    # Put back, the same download works again.
    again = alice.get(f"/api/v1/evidence/{item['id']}/content")
    assert again.status_code == 200 and again.content == original
