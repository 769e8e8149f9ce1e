"""The S3 blob store on a real S3 server (SeaweedFS on loopback, tests/s3_server.py): streaming multipart uploads
in bounded memory, objects keyed and checksummed by their SHA-256, dedup, the checks at start, staging sweeps that
spare other processes' uploads, Object Lock legal holds, and a store that does not answer."""

import base64
import hashlib
import io
import os
import subprocess
import tracemalloc
import uuid

import pytest

from api.errors import ObjectStoreUnavailable
from api.s3_blobs import PART_BYTES
from api.storage import BucketUnusable, stage_stream
from tests.s3_server import s3_store, staging_leftovers
from tests.server_process import BIN, free_port

pytestmark = pytest.mark.once

MiB = 1024 * 1024


@pytest.fixture
def store(s3_server, tmp_path):
    return s3_store(s3_server, tmp_path / "node")


def committed(store, data: bytes) -> str:
    staged = stage_stream(store, io.BytesIO(data))
    staged.commit()
    staged.settle(committed=True)
    return staged.sha256


def test_a_large_upload_streams_in_parts_with_memory_bounded_and_lands_under_its_hash(store):
    """40 MB written in 64 KB chunks: five parts go up while it is written, Python never holds more than the part
    filling and those on their way (three parts), and the object is named, described and checksummed by the
    SHA-256 of the whole."""
    before = staging_leftovers(store)
    chunk, chunks = os.urandom(64 * 1024), 640
    digest = hashlib.sha256()
    tracemalloc.start()
    try:
        writer = store.writer()
        for i in range(chunks):
            piece = chunk[:-8] + i.to_bytes(8, "big")  # every chunk different: nothing to compress or dedup
            digest.update(piece)
            writer.write(piece)
        staged = writer.finish()
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    size = len(chunk) * chunks
    assert size == 40 * 1024 * 1024 and staged.size == size
    assert peak < (store.parts_in_flight + 2) * PART_BYTES < size, (
        f"peak {peak / MiB:.1f} MiB while writing {size / MiB:.0f} MiB"
    )
    assert staged.sha256 == digest.hexdigest()
    assert staged.commit() is True
    staged.settle(committed=True)
    key = f"sha256/{staged.sha256[:2]}/{staged.sha256[2:4]}/{staged.sha256}"
    head = store.client.head_object(Bucket=store.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert head["Metadata"]["sha256"] == staged.sha256
    # A multipart object carries the checksum of each part's SHA-256 (S3's composite checksum), "-5" for 5 parts.
    assert head["ChecksumSHA256"].endswith(f"-{-(-size // PART_BYTES)}")
    read = hashlib.sha256()
    with store.open(staged.sha256) as f:
        while block := f.read(MiB):
            read.update(block)
    assert read.hexdigest() == staged.sha256
    assert staging_leftovers(store) == before


def test_a_small_blob_goes_up_in_one_piece_with_its_sha256_as_the_object_checksum(store):
    data = f"screenshot {uuid.uuid4()}".encode()
    sha256 = committed(store, data)
    key = f"sha256/{sha256[:2]}/{sha256[2:4]}/{sha256}"
    head = store.client.head_object(Bucket=store.bucket, Key=key, ChecksumMode="ENABLED")
    assert head["ChecksumSHA256"] == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert head["Metadata"]["sha256"] == sha256


def test_identical_content_is_stored_once(store):
    data = os.urandom(PART_BYTES + 1000)  # large enough to go through staging
    first, second = (stage_stream(store, io.BytesIO(data)) for _ in range(2))
    assert first.commit() is True and second.commit() is False
    first.settle(committed=True)
    second.settle(committed=True)
    listed = [f for f in store.list_files() if f.sha256 == first.sha256]
    assert len(listed) == 1 and listed[0].size == len(data)
    assert listed[0].location == f"s3://{store.bucket}/{listed[0].key}"


def test_a_missing_bucket_stops_the_start_with_a_clear_error(s3_server, tmp_path):
    with pytest.raises(BucketUnusable, match="cannot be used.*create it beforehand"):
        s3_store(s3_server, tmp_path, bucket=f"missing-{uuid.uuid4().hex[:8]}")


def test_the_start_up_sweep_spares_uploads_younger_than_the_grace(store, s3_server, tmp_path):
    """Another process may be mid-upload: its parts are kept; a sweep with no grace left takes them."""
    writer = store.writer()
    writer.write(os.urandom(PART_BYTES))  # one part sent: a multipart upload in progress
    writer._wait()
    mine = f"{writer.key} {writer.upload_id}"
    assert mine in staging_leftovers(store)
    other_node = s3_store(s3_server, tmp_path / "other")
    other_node.claim_staging()
    assert mine in staging_leftovers(store)
    other_node.staging_grace_seconds = 0
    other_node.claim_staging()
    assert mine not in staging_leftovers(store)


def test_a_legal_hold_is_an_object_lock_legal_hold_where_the_bucket_has_object_lock(s3_server, tmp_path):
    locked = s3_store(s3_server, tmp_path / "locked", bucket=s3_server.locked_bucket)
    assert locked.object_lock
    sha256 = committed(locked, f"held {uuid.uuid4()}".encode())
    key = locked.key_for(sha256)
    locked.set_legal_hold(sha256, True)
    assert locked.client.get_object_legal_hold(Bucket=locked.bucket, Key=key)["LegalHold"]["Status"] == "ON"
    with pytest.raises(OSError):
        locked.delete(sha256)  # the held version refuses to go
    with pytest.raises(OSError):
        locked.set_aside(sha256)  # nor can it be set aside: the copy made for it goes again
    assert locked.exists(sha256)
    assert not locked.client.list_objects_v2(Bucket=locked.bucket, Prefix=f"aside/{sha256}").get("Contents")
    locked.set_legal_hold(sha256, False)
    assert locked.client.get_object_legal_hold(Bucket=locked.bucket, Key=key)["LegalHold"]["Status"] == "OFF"
    locked.delete(sha256)
    assert not locked.exists(sha256)
    versions = locked.client.list_object_versions(Bucket=locked.bucket, Prefix=key)
    assert not versions.get("Versions") and not versions.get("DeleteMarkers")  # every version went


def test_a_bucket_without_object_lock_takes_no_hold(store):
    assert not store.object_lock
    sha256 = committed(store, f"not lockable {uuid.uuid4()}".encode())
    store.set_legal_hold(sha256, True)  # nothing to do, and no error
    store.delete(sha256)
    assert not store.exists(sha256)


def test_a_store_that_does_not_answer_fails_uploads_with_a_clear_503(s3_server, tmp_path):
    endpoint = f"http://127.0.0.1:{free_port()}"
    down = s3_store(s3_server, tmp_path, endpoint=endpoint)
    message = f"the object store at {endpoint} is not answering: nothing was stored; try again"
    small = stage_stream(down, io.BytesIO(b"small upload"))  # held in memory: the store is asked at commit
    with pytest.raises(ObjectStoreUnavailable) as raised:
        small.commit()
    assert (raised.value.status_code, raised.value.message) == (503, message)
    writer = down.writer()
    with pytest.raises(ObjectStoreUnavailable, match="nothing was stored; try again"):
        writer.write(os.urandom(PART_BYTES))
        writer.finish()
    writer.abort()  # and throwing the upload away does not fail in turn


def test_a_command_on_a_missing_bucket_exits_2_saying_so(s3_server, tmp_path):
    missing = f"missing-{uuid.uuid4().hex[:8]}"
    env = os.environ | s3_server.env(missing) | {"CASEBINDER_DATA_DIR": str(tmp_path / "new")}
    result = subprocess.run([str(BIN), "verify"], env=env, capture_output=True, text=True)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"error: the bucket '{missing}' at {s3_server.endpoint} cannot be used" in result.stderr
