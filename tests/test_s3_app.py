"""The app over real HTTP with its blobs in S3 (SeaweedFS on loopback): an upload streamed into the bucket and
downloaded back byte for byte, `verify` reading it back, an object store that does not answer (503, nothing
recorded), and legal holds that become Object Lock legal holds on the blobs, kept while any hold covers them."""

import hashlib
import os
import uuid

import pytest

from api.db import session_scope
from api.deps import get_blob_store
from api.s3_blobs import PART_BYTES
from api.services import verify as verify_service
from tests.conftest import count_rows
from tests.s3_server import s3_store
from tests.server_process import free_port

pytestmark = pytest.mark.once

HOLD_REASON = "Preservation letter from opposing counsel, 2024-03-01"


@pytest.fixture
def serve_from(app):
    """Serve the app's requests from the given store for the length of the test."""

    def use(store):
        app.dependency_overrides[get_blob_store] = lambda: store
        return store

    yield use
    app.dependency_overrides.pop(get_blob_store, None)


def uploaded(actor, case_id: str, content: bytes, title: str = "Listing") -> dict:
    r = actor.upload(case_id, content, filename=f"{title}.bin", title=title)
    assert r.status_code == 201, r.text
    return r.json()


def legal_hold(store, sha256: str) -> str:
    found = store.client.get_object_legal_hold(Bucket=store.bucket, Key=store.key_for(sha256))
    return found["LegalHold"]["Status"]


@pytest.mark.parametrize("size", [1000, 3 * PART_BYTES + 123], ids=["one piece", "multipart"])
def test_an_upload_goes_into_the_bucket_and_comes_back_byte_identical(alice, serve_from, s3_server, tmp_path, size):
    store = serve_from(s3_store(s3_server, tmp_path / "node"))
    case = alice.make_case()
    content = os.urandom(size)
    item = uploaded(alice, case["id"], content)
    assert item["sha256"] == hashlib.sha256(content).hexdigest() and item["size_bytes"] == size
    key = f"sha256/{item['sha256'][:2]}/{item['sha256'][2:4]}/{item['sha256']}"
    head = store.client.head_object(Bucket=store.bucket, Key=key)
    assert head["ContentLength"] == size and head["Metadata"]["sha256"] == item["sha256"]
    r = alice.get(f"/api/v1/evidence/{item['id']}/content")
    assert r.status_code == 200 and r.content == content
    with session_scope() as session:
        report = verify_service.verify_store(session, store)
    # The suite's other items are in its own store, not this bucket: what `verify` says of this one is what counts.
    assert [f for f in report.findings if f.sha256 == item["sha256"]] == []
    assert report.bytes_hashed >= size


def test_an_object_store_that_does_not_answer_fails_the_upload_with_503_and_records_nothing(
    alice, serve_from, s3_server, tmp_path
):
    endpoint = f"http://127.0.0.1:{free_port()}"
    serve_from(s3_store(s3_server, tmp_path / "node", endpoint=endpoint))
    case = alice.make_case()
    items, exhibits = count_rows("evidence_items"), count_rows("exhibits")
    for content in (b"a small screenshot", os.urandom(PART_BYTES + 1)):
        r = alice.upload(case["id"], content)
        assert r.status_code == 503, r.text
        assert r.json() == {
            "detail": f"the object store at {endpoint} is not answering: nothing was stored; try again",
            "code": "object_store_unavailable",
        }
        assert r.headers["Retry-After"] == "10"
    assert (count_rows("evidence_items"), count_rows("exhibits")) == (items, exhibits)


def test_a_legal_hold_holds_the_blobs_while_any_hold_covers_them(alice, serve_from, s3_server, tmp_path):
    store = serve_from(s3_store(s3_server, tmp_path / "node", bucket=s3_server.locked_bucket))
    first, second = alice.make_case(title="First v. Hold"), alice.make_case(title="Second v. Hold")
    shared = f"the same order record {uuid.uuid4()}".encode()
    own = f"only in the first case {uuid.uuid4()}".encode()
    a, b = uploaded(alice, first["id"], shared), uploaded(alice, second["id"], shared)
    mine = uploaded(alice, first["id"], own, title="Own")
    assert a["sha256"] == b["sha256"]
    for case in (first, second):
        r = alice.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"reason": HOLD_REASON})
        assert r.status_code == 200, r.text
    assert (legal_hold(store, a["sha256"]), legal_hold(store, mine["sha256"])) == ("ON", "ON")
    r = alice.delete(f"/api/v1/cases/{first['id']}/legal-hold")
    assert r.status_code == 200, r.text
    # The shared original is still covered by the second case's hold; the first case's own one is not.
    assert (legal_hold(store, a["sha256"]), legal_hold(store, mine["sha256"])) == ("ON", "OFF")
    r = alice.delete(f"/api/v1/cases/{second['id']}/legal-hold")
    assert r.status_code == 200, r.text
    assert legal_hold(store, a["sha256"]) == "OFF"
