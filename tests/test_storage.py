"""The blob store on disk: content addressing, read-only originals, and staged copies that outlive races."""

import hashlib
import io
import stat

from api.storage import LocalBlobStore, stage_stream


def test_blobs_are_content_addressed_read_only_and_leave_no_staging(tmp_path):
    store = LocalBlobStore(tmp_path)
    data = b"insert card photo" * 1000
    staged = stage_stream(store, io.BytesIO(data), chunk_size=1000)
    digest = hashlib.sha256(data).hexdigest()
    assert (staged.sha256, staged.size, staged.head) == (digest, len(data), data[: len(staged.head)])
    assert staged.commit() is True
    path = tmp_path / "sha256" / digest[:2] / digest[2:4] / digest
    assert path.read_bytes() == data
    assert stat.S_IMODE(path.stat().st_mode) == 0o440
    assert list((tmp_path / "tmp").iterdir()) == []
    with store.open(digest) as f:
        assert f.read() == data


def test_a_committed_copy_survives_the_rollback_of_the_request_that_stored_it_first(tmp_path):
    store = LocalBlobStore(tmp_path)
    first = stage_stream(store, io.BytesIO(b"same bytes, two cases"))
    second = stage_stream(store, io.BytesIO(b"same bytes, two cases"))
    assert first.commit() is True
    assert second.commit() is False  # already stored: the second keeps its staged copy for now
    # The first request rolls back and removes the blob it created; the second then commits.
    first.settle(committed=False)
    store.delete(first.sha256)
    second.settle(committed=True)
    assert store.exists(second.sha256)
    with store.open(second.sha256) as f:
        assert f.read() == b"same bytes, two cases"
    assert list((tmp_path / "tmp").iterdir()) == []


def test_discarded_and_aborted_uploads_leave_nothing(tmp_path):
    store = LocalBlobStore(tmp_path)
    staged = stage_stream(store, io.BytesIO(b"rejected upload"))
    staged.discard()
    writer = store.writer()
    writer.write(b"half an upload")
    writer.abort()
    assert not store.exists(staged.sha256)
    assert list((tmp_path / "tmp").iterdir()) == []
