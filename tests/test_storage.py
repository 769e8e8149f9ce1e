"""The blob store, on both backends (local disk, and S3 on the session's SeaweedFS): content addressing, staged
copies that outlive races, nothing left in staging, set-aside and restore, listing, local copies, and staging
sweeps that leave other processes' uploads alone. The local disk's own rules (read-only originals) follow."""

import hashlib
import io
import stat
import uuid

import pytest

from api.storage import LocalBlobStore, stage_stream
from tests.s3_server import s3_store, staging_leftovers

pytestmark = pytest.mark.once  # no database: run on one leg of `make test`

BACKENDS = ["local", "s3"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return s3_store(request.getfixturevalue("s3_server"), tmp_path / "node")


def unique(text: str) -> bytes:
    """Bytes no other test stores: the S3 bucket is shared by the session."""
    return f"{text} {uuid.uuid4()}\n".encode() * 100


def read(store, sha256: str) -> bytes:
    with store.open(sha256) as f:
        return f.read()


def test_blobs_are_content_addressed_and_leave_no_staging(store):
    before = staging_leftovers(store)
    data = unique("insert card photo")
    staged = stage_stream(store, io.BytesIO(data), chunk_size=1000)
    digest = hashlib.sha256(data).hexdigest()
    assert (staged.sha256, staged.size, staged.head) == (digest, len(data), data[: len(staged.head)])
    with staged.open() as f:
        assert f.read() == data  # readable while staged, for inspection
    assert not store.exists(digest)
    assert staged.commit() is True
    staged.settle(committed=True)
    assert store.exists(digest) and store.size(digest) == len(data)
    assert read(store, digest) == data
    assert digest in store.location(digest)
    assert staging_leftovers(store) == before


def test_a_committed_copy_survives_the_rollback_of_the_request_that_stored_it_first(store):
    before = staging_leftovers(store)
    data = unique("same bytes, two cases")
    first = stage_stream(store, io.BytesIO(data))
    second = stage_stream(store, io.BytesIO(data))
    assert first.commit() is True
    assert second.commit() is False  # already stored: the second keeps its staged copy for now
    # The first request rolls back and removes the blob it created; the second then commits.
    first.settle(committed=False)
    store.delete(first.sha256)
    second.settle(committed=True)
    assert store.exists(second.sha256)
    assert read(store, second.sha256) == data
    assert staging_leftovers(store) == before


def test_discarded_and_aborted_uploads_leave_nothing(store):
    before = staging_leftovers(store)
    staged = stage_stream(store, io.BytesIO(unique("rejected upload")))
    staged.discard()
    writer = store.writer()
    writer.write(unique("half an upload"))
    writer.abort()
    assert not store.exists(staged.sha256)
    assert staging_leftovers(store) == before


def test_a_blob_set_aside_is_gone_until_restored_and_gone_for_good_once_dropped(store):
    kept, dropped = (stage_stream(store, io.BytesIO(unique(name))) for name in ("kept", "dropped"))
    for staged in (kept, dropped):
        staged.commit()
        staged.settle(committed=True)
    asides = [store.set_aside(kept.sha256), store.set_aside(dropped.sha256)]
    assert None not in asides
    assert not store.exists(kept.sha256) and not store.exists(dropped.sha256)
    assert store.set_aside(kept.sha256) is None  # nothing left to set aside
    asides[0].restore()
    asides[1].drop()
    assert store.exists(kept.sha256) and not store.exists(dropped.sha256)
    assert hashlib.sha256(read(store, kept.sha256)).hexdigest() == kept.sha256


def test_the_listing_names_each_blob_and_a_local_copy_holds_its_bytes(store):
    data = unique("listed")
    staged = stage_stream(store, io.BytesIO(data))
    staged.commit()
    staged.settle(committed=True)
    listed = {f.sha256: f for f in store.list_files()}
    assert listed[staged.sha256].size == len(data)
    assert staged.sha256 in listed[staged.sha256].key
    keys = [f.key for f in store.list_files()]
    assert keys == sorted(keys)
    with store.local_copy(staged.sha256) as path:
        assert path.read_bytes() == data
    missing = hashlib.sha256(b"never stored " + uuid.uuid4().bytes).hexdigest()
    with store.local_copy(missing) as path:
        assert not path.exists()
    with pytest.raises(FileNotFoundError):
        store.open(missing)


def test_a_finished_local_file_is_adopted_under_its_hash(store, tmp_path):
    data = unique("bundle volume")
    path = store.scratch_path(f"volume-{uuid.uuid4().hex}.pdf")
    path.write_bytes(data)
    digest = hashlib.sha256(data).hexdigest()
    staged = store.adopt(path, digest, len(data))
    assert staged.commit() is True
    staged.settle(committed=True)
    assert read(store, digest) == data
    assert not path.exists()


def test_a_staged_blob_is_read_at_any_offset(store):
    """Inspection (PIL, pikepdf) seeks about in the staged file: the bytes at each offset are the ones sent."""
    data = unique("seekable") * 50
    staged = stage_stream(store, io.BytesIO(data))
    with staged.open() as f:
        f.seek(-100, io.SEEK_END)
        assert f.read() == data[-100:]
        f.seek(1234)
        assert f.read(10) == data[1234:1244]
        assert f.seek(0, io.SEEK_END) == len(data)
    staged.discard()


def test_the_local_store_keeps_originals_read_only(tmp_path):
    store = LocalBlobStore(tmp_path)
    staged = stage_stream(store, io.BytesIO(b"insert card photo"))
    staged.commit()
    path = tmp_path / "sha256" / staged.sha256[:2] / staged.sha256[2:4] / staged.sha256
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert list((tmp_path / "tmp").iterdir()) == []
