"""A declared SHA-256: an upload may carry the sender's digest of its file (`sha256`). A file that arrives otherwise
is refused whole (422 digest_mismatch, nothing stored); sent before the file, after fields that pass their checks,
the digest lets the store write the file straight under its name (on S3: no staging object, no copy), and a form
that would be refused is refused before any byte is stored."""

import hashlib
import os
import uuid

import pytest

from api.errors import DigestMismatch
from api.s3_blobs import PART_BYTES
from tests.conftest import count_rows
from tests.s3_server import s3_store, staging_leftovers
from tests.test_s3_app import serve_from  # noqa: F401 - the fixture that serves the app from a given store


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_upload(actor, case_id: str, parts: list[tuple[str, str | bytes]]):
    """A multipart body with its parts in the order given: ("file", bytes) is the file part."""
    boundary = uuid.uuid4().hex
    body = b""
    for name, value in parts:
        if name == "file":
            head = 'Content-Disposition: form-data; name="file"; filename="listing.bin"\r\n\r\n'
            data = value if isinstance(value, bytes) else value.encode()
        else:
            head = f'Content-Disposition: form-data; name="{name}"\r\n\r\n'
            data = value.encode() if isinstance(value, str) else value
        body += f"--{boundary}\r\n".encode() + head.encode() + data + b"\r\n"
    body += f"--{boundary}--\r\n".encode()
    headers = {"Content-Type": f"multipart/form-data; boundary={boundary}"}
    return actor.post(f"/api/v1/cases/{case_id}/evidence", content=body, headers=headers)


def test_a_declared_digest_that_matches_is_taken_and_one_that_does_not_refuses_the_upload(alice):
    case = alice.make_case()
    content = os.urandom(3000)
    r = alice.upload(case["id"], content, title="Seller chat", sha256=sha(content).upper())
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == sha(content)

    other = os.urandom(3000)
    items = count_rows("evidence_items")
    for order in (["kind", "title", "sha256", "file"], ["kind", "title", "file", "sha256"]):
        values = {"kind": "other", "title": "Cut on the way", "sha256": sha(content), "file": other}
        r = raw_upload(alice, case["id"], [(name, values[name]) for name in order])
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["code"] == DigestMismatch.code
        assert f"has SHA-256 {sha(other)}, not the {sha(content)} sent as sha256" in body["detail"]
        assert "nothing was stored" in body["detail"]
    assert count_rows("evidence_items") == items
    assert len(alice.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]) == 1


def test_a_digest_that_is_no_digest_is_refused_naming_the_field(alice):
    case = alice.make_case()
    r = alice.upload(case["id"], b"insert card", sha256="not-a-digest")
    assert r.status_code == 422
    assert "sha256" in r.json()["detail"] and "64 hexadecimal digits" in r.json()["detail"]


def test_with_a_digest_bad_fields_are_refused_before_the_file_is_read(alice, settings):
    """The fields come first and fail: the answer names the field, and the body's file was never stored."""
    case = alice.make_case()
    content = os.urandom(2 * 1024 * 1024)
    r = raw_upload(
        alice,
        case["id"],
        [("kind", "insert_card_photo"), ("title", "Card"), ("sha256", sha(content)), ("file", content)],
    )
    assert r.status_code == 422 and "unknown kind 'insert_card_photo'" in r.json()["detail"]


@pytest.fixture
def s3(s3_server, tmp_path):
    return s3_store(s3_server, tmp_path / "node")


def test_on_s3_a_declared_digest_writes_the_parts_straight_under_it(s3):
    before = staging_leftovers(s3)
    content = os.urandom(3 * PART_BYTES + 77)
    writer = s3.writer(sha(content))
    for start in range(0, len(content), 1024 * 1024):
        writer.write(content[start : start + 1024 * 1024])
    staged = writer.finish()
    assert staging_leftovers(s3) == before  # no staging object, no multipart upload left open
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.key_for(sha(content)))
    assert head["ContentLength"] == len(content)
    assert staged.commit() is False  # in place already: nothing to copy, and not this upload's to remove
    staged.settle(committed=False)  # a row that rolls back leaves it (an identical upload may need it)
    with s3.open(sha(content)) as stored:
        assert sha(stored.read()) == sha(content)

    again = s3.writer(sha(content))  # the same bytes again: hashed, not sent
    for start in range(0, len(content), 1024 * 1024):
        again.write(content[start : start + 1024 * 1024])
    assert again.finish().sha256 == sha(content) and again.present and again.upload_id is None


def test_on_s3_bytes_that_miss_their_declared_digest_are_never_seen_under_it(s3):
    before = staging_leftovers(s3)
    content, claimed = os.urandom(2 * PART_BYTES + 5), sha(b"the file the sender meant")
    writer = s3.writer(claimed)
    writer.write(content)
    with pytest.raises(DigestMismatch):
        writer.finish()
    assert not s3.exists(claimed)
    uploads = s3.client.list_multipart_uploads(Bucket=s3.bucket, Prefix="sha256/").get("Uploads", [])
    assert [u for u in uploads if u["Key"] == s3.key_for(claimed)] == []
    assert staging_leftovers(s3) == before


def test_through_the_app_on_s3_a_large_declared_upload_is_stored_once_and_reads_back(alice, serve_from, s3):  # noqa: F811
    store = serve_from(s3)
    case = alice.make_case()
    content = os.urandom(2 * PART_BYTES + 1234)
    before = staging_leftovers(store)
    r = alice.upload(case["id"], content, title="Refund ledger", sha256=sha(content))
    assert r.status_code == 201, r.text
    assert staging_leftovers(store) == before
    got = alice.get(f"/api/v1/evidence/{r.json()['id']}/content")
    assert got.status_code == 200 and sha(got.content) == sha(content)
