"""The object store going away and coming back, with a server on it (blobs in SeaweedFS, reached through a gate that
is shut for the outage): uploads get a 503 that says so and keep nothing, what the database holds is still read,
a bundle requested meanwhile is built once the store answers again, and `verify` finds everything afterwards."""

import hashlib
import os
import uuid
from urllib.parse import urlparse

import pytest

from tests.server_process import Instance, case_with_an_exhibit, finished_bundle, fresh_database, wait_for
from tests.tcp_gate import TcpGate

pytestmark = [pytest.mark.slow, pytest.mark.once]


@pytest.fixture
def server_settings() -> dict[str, str]:
    """More settings for the `gated` server (a test parametrizes it): none by default."""
    return {}


@pytest.fixture
def gated(tmp_path, s3_server, server_settings):
    """A server whose object store is the session's SeaweedFS behind a gate, on a database and bucket of its own."""
    target = urlparse(s3_server.endpoint)
    gate = TcpGate(target.hostname, target.port)
    gate.open()
    bucket = f"outage-{uuid.uuid4().hex[:12]}"
    s3_server.client().create_bucket(Bucket=bucket)
    url, drop = fresh_database(tmp_path)
    settings = s3_server.env(bucket) | {"CASEBINDER_S3_ENDPOINT_URL": gate.url} | server_settings
    instance = Instance(url, tmp_path / "blobs", settings=settings)
    instance.add_user()
    instance.start()
    try:
        yield instance, gate
    finally:
        gate.shut()
        instance.kill()
        drop()


def test_uploads_wait_out_an_outage_with_503_and_a_bundle_queued_meanwhile_is_built_when_the_store_is_back(gated):
    instance, gate = gated
    http = instance.client()
    before = b"Five stars! The seller refunded me via PayPal after I posted it."
    case, first = case_with_an_exhibit(
        http, before, case_title="Acme v. Outage", filename="review.txt", kind="chat_log", title="Reviewer chat"
    )

    gate.shut()
    during = os.urandom(300_000)
    r = http.post(
        f"/api/v1/cases/{case['id']}/evidence",
        files={"file": ("refunds.bin", during)},
        data={"kind": "other", "title": "Refund export"},
    )
    assert r.status_code == 503, r.text
    assert r.json()["code"] == "object_store_unavailable"
    assert f"the object store at {gate.url} is not answering: nothing was stored; try again" == r.json()["detail"]
    assert r.headers["Retry-After"]
    # What the database holds is read as before: the case, its items and their metadata.
    r = http.get(f"/api/v1/cases/{case['id']}/exhibits")
    assert r.status_code == 200, r.text
    assert [exhibit["evidence_id"] for exhibit in r.json()["items"]] == [first["id"]]
    assert http.get(f"/api/v1/evidence/{first['id']}").json()["sha256"] == hashlib.sha256(before).hexdigest()
    # A bundle asked for now cannot read its exhibits yet: its build waits for the store instead of failing.
    r = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Trial Exhibits"})
    assert r.status_code == 202, r.text
    bundle = r.json()
    wait_for(
        lambda: "the object store is not answering; building again" in instance.log_tail(20_000),
        seconds=60,
        what="the build to find the store away and wait for it",
    )
    assert http.get(f"/api/v1/bundles/{bundle['id']}").json()["status"] in ("queued", "running")

    gate.open()
    done = finished_bundle(http, bundle["id"])
    assert done["status"] == "done", done
    pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == done["sha256"]
    # The client sends the refused upload again: it is stored whole.
    r = http.post(
        f"/api/v1/cases/{case['id']}/evidence",
        files={"file": ("refunds.bin", during)},
        data={"kind": "other", "title": "Refund export"},
    )
    assert r.status_code == 201, r.text
    assert http.get(f"/api/v1/evidence/{r.json()['id']}/content").content == during
    verified = instance.cli("verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


# Started with the short wait, rather than restarted for it: a server's start is some seconds of the test.
@pytest.mark.parametrize("server_settings", [{"CASEBINDER_BUNDLE_STORE_WAIT_SECONDS": "6"}], ids=["store wait 6 s"])
def test_a_build_whose_store_stays_away_fails_saying_so(gated):
    instance, gate = gated
    http = instance.client()
    case, _ = case_with_an_exhibit(
        http, b"five stars", case_title="Acme v. Outage", filename="review.txt", title="Review"
    )
    gate.shut()
    r = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Trial Exhibits"})
    assert r.status_code == 202, r.text
    failed = finished_bundle(http, r.json()["id"])
    assert failed["status"] == "failed", failed
    assert failed["error"].startswith(
        "the object store holding the evidence did not answer, even after waiting 6 s for it, so the bundle could "
        "not be built and nothing of it was kept; rebuild it once the store is back"
    ), failed["error"]
    gate.open()
    r = http.post(f"/api/v1/bundles/{failed['id']}/rebuild")
    assert r.status_code == 202, r.text
    assert finished_bundle(http, failed["id"])["status"] == "done"
