"""Content-addressed blob store. Routes and services see this interface, never paths."""

import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from api.errors import InsufficientStorage
from models.common import is_sha256_hex

SNIFF_BYTES = 64 * 1024


@contextmanager
def full_disk_refused(what: str = "the file") -> Iterator[None]:
    """A write that finds the disk full (or the quota used up) becomes InsufficientStorage (507), said plainly.

    The caller removes whatever it had half-written; this only names the failure (the HTTP error handler logs
    every 5xx it answers with; a command prints it).
    """
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        raise InsufficientStorage(
            f"the server's disk is full, so {what} could not be stored: nothing was stored. "
            "Tell your administrator; send it again once space has been freed."
        ) from exc


class StagedBlob(Protocol):
    sha256: str
    size: int
    head: bytes  # the first bytes, for type sniffing

    def open(self) -> BinaryIO: ...
    def commit(self) -> bool: ...
    def settle(self, *, committed: bool) -> None: ...
    def discard(self) -> None: ...


class BlobWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def finish(self) -> StagedBlob: ...
    def abort(self) -> None: ...


class BlobStore(Protocol):
    def writer(self) -> BlobWriter: ...
    def open(self, sha256: str) -> BinaryIO: ...
    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def delete(self, sha256: str) -> None: ...


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@dataclass
class LocalStagedBlob:
    store: "LocalBlobStore"
    tmp_path: Path
    sha256: str
    size: int
    head: bytes
    _done: bool = field(default=False, repr=False)

    def open(self) -> BinaryIO:
        return open(self.tmp_path, "rb")

    def commit(self) -> bool:
        """Put the blob in place (rename, then directory fsync). Returns False if it was already stored.

        When it was, the staged copy is kept until `settle`: a concurrent request that created the stored
        copy may yet roll back and remove it, and this request's evidence must not lose its original.
        """
        self._done = True
        if self._target.exists():
            return False
        self._promote()
        return True

    def settle(self, *, committed: bool) -> None:
        """After the database transaction ends: ensure a committed blob is stored, and drop the staged copy."""
        if not self.tmp_path.exists():
            return
        if committed and not self._target.exists():
            self._promote()
        else:
            self.tmp_path.unlink(missing_ok=True)

    def discard(self) -> None:
        """Throw the staged bytes away, unless they were committed."""
        if not self._done:
            self.tmp_path.unlink(missing_ok=True)
            self._done = True

    @property
    def _target(self) -> Path:
        return self.store.path_for(self.sha256)

    def _promote(self) -> None:
        target = self._target
        with full_disk_refused():
            target.parent.mkdir(parents=True, exist_ok=True)
            os.chmod(self.tmp_path, 0o440)  # originals are read-only on disk
            os.replace(self.tmp_path, target)
            _fsync_dir(target.parent)


class LocalBlobWriter:
    """Hashes while it writes; nothing is held in memory beyond the sniffing head."""

    def __init__(self, store: "LocalBlobStore"):
        self.store = store
        with full_disk_refused():
            fd, name = tempfile.mkstemp(dir=store.tmp_dir, prefix="upload-")
        self.path = Path(name)
        self.file = os.fdopen(fd, "wb", buffering=0)
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        self.hash.update(data)
        view = memoryview(data)
        with full_disk_refused():
            while view:  # a raw write may take only part (a disk filling up does that before it refuses)
                view = view[self.file.write(view) :]
        self.size += len(data)

    def finish(self) -> LocalStagedBlob:
        with full_disk_refused():
            self.file.flush()
            os.fsync(self.file.fileno())
        self.file.close()
        return LocalStagedBlob(self.store, self.path, self.hash.hexdigest(), self.size, self.head)

    def abort(self) -> None:
        if not self.file.closed:
            self.file.close()
        self.path.unlink(missing_ok=True)


class LocalBlobStore:
    """Blobs at ROOT/sha256/ab/cd/<hash>; uploads staged in ROOT/tmp on the same filesystem."""

    def __init__(self, root: Path):
        self.root = Path(root).resolve()
        self.tmp_dir = self.root / "tmp"
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def path_for(self, sha256: str) -> Path:
        if not is_sha256_hex(sha256):
            raise ValueError("not a sha256 hex digest")
        return self.root / "sha256" / sha256[:2] / sha256[2:4] / sha256

    def writer(self) -> LocalBlobWriter:
        return LocalBlobWriter(self)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def size(self, sha256: str) -> int:
        return self.path_for(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def set_aside(self, sha256: str, name: str) -> Path:
        """Move a blob into the staging area as `name`: gone from the store, yet restorable until deleted.
        FileNotFoundError when the blob is not stored."""
        moved = self.tmp_dir / name
        os.replace(self.path_for(sha256), moved)
        return moved

    def restore(self, moved: Path, sha256: str) -> None:
        """Put a blob set aside back in its place, durably."""
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(moved, target)
        _fsync_dir(target.parent)

    def sweep_staging(self, older_than_seconds: float = 3600) -> int:
        """Remove staged uploads left by a crash. Live uploads keep their mtime fresh, so age tells them apart."""
        removed, cutoff = 0, time.time() - older_than_seconds
        for leftover in self.tmp_dir.glob("upload-*"):
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink(missing_ok=True)
                removed += 1
        return removed

    def claim_staging(self) -> int:
        """At server start-up: sweep what crashed servers left in staging, then hold a shared lock until exit.

        The kernel drops a dead process's lock, even after SIGKILL. So when no other server holds it, nothing in
        staging is live and all of it goes (bundle scratch directories too); when another server does, it may be
        writing there, and only uploads older than the age rule go.
        """
        lock = open(self.root / ".staging.lock", "a+b")  # kept open for the life of the process
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except BlockingIOError:
            alone = False
        removed = self.sweep_staging(0 if alone else 3600)
        if alone:
            for scratch in self.tmp_dir.glob("bundle-*"):
                shutil.rmtree(scratch, ignore_errors=True)
                removed += 1
        fcntl.flock(lock, fcntl.LOCK_SH)
        self._staging_lock = lock
        return removed


def stage_stream(store: BlobStore, stream: BinaryIO, chunk_size: int = 1024 * 1024) -> StagedBlob:
    """Stage a readable stream (a local file, say) the same way an HTTP upload is staged."""
    writer = store.writer()
    try:
        while chunk := stream.read(chunk_size):
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
