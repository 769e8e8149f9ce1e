"""Content-addressed blob store. Routes and services see the `BlobStore` protocol, never the local class.

The protocol is what a second backend (an object store) implements: blobs are named by SHA-256 and read as
streams; a local file is handed out only for the length of a `local_copy` block, for tools that need one (the
PDF tools of a bundle build). Staging, the area a blob waits in while a transaction decides, is the store's own.

The protocol and the local backend share this file (hence its length); the S3 backend is api/storage_s3.py,
chosen by `open_store` from the settings.
"""

import errno
import fcntl
import hashlib
import os
import shutil
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, Protocol

from api.config import get_settings
from api.errors import DigestMismatch, InsufficientStorage
from models.common import is_sha256_hex

SNIFF_BYTES = 64 * 1024
# A blob on its way out waits in the staging area under this prefix while the last check runs.
ASIDE_PREFIX = "purge-"


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


class BucketUnusable(RuntimeError):
    """The configured S3 bucket cannot be used (missing, or the store not answering): said at start, plainly."""


class StoreNotAnswering(BucketUnusable):
    """The S3 store did not answer when it was opened: it may be down for a moment, unlike a bucket that is missing."""


class Readable(Protocol):
    """What staging reads: a file, or any stream that hands out bytes a chunk at a time (a ZIP member)."""

    def read(self, size: int = -1, /) -> bytes: ...


class StagedBlob(Protocol):
    sha256: str
    size: int
    head: bytes  # the first bytes, for type sniffing

    def open(self) -> BinaryIO: ...
    def commit(self) -> bool: ...
    def settle(self, *, committed: bool) -> None: ...
    def discard(self) -> None: ...


def check_digest(expected: str | None, actual: str, *, undo: Callable[[], None] | None = None) -> None:
    """A writer told the SHA-256 to expect refuses other bytes (DigestMismatch, 422), after `undo` (throwing away
    what it wrote)."""
    if expected is not None and actual != expected:
        if undo is not None:
            undo()
        raise DigestMismatch(
            f"the file that arrived has SHA-256 {actual}, not the {expected} sent as sha256: it was changed or cut "
            "on the way, or the digest is of another file; nothing was stored"
        )


class BlobWriter(Protocol):
    def write(self, data: bytes) -> None: ...
    def finish(self) -> StagedBlob: ...
    def abort(self) -> None: ...


class SetAside(Protocol):
    """A blob taken out of the store but not yet deleted: put back, or dropped for good."""

    sha256: str

    def restore(self) -> None: ...
    def drop(self) -> None: ...


@dataclass(frozen=True)
class StoredFile:
    """A file found in the store's blob area (see `BlobStore.list_files`)."""

    key: str  # its name within the store, e.g. "sha256/ab/cd/<hash>"
    location: str  # where a person finds it: a path (a URL for a remote store)
    sha256: str | None  # the blob it is; None when its name or place is not that of a blob of this store
    size: int
    modified: float  # seconds since the epoch


class BlobStore(Protocol):
    def writer(self, expected_sha256: str | None = None) -> BlobWriter:
        """Stage a new blob from written chunks. `expected_sha256`, the digest a client declared, makes `finish`
        refuse other bytes (DigestMismatch); a store may then write straight under the digest's name."""
        ...

    def adopt(self, path: Path, sha256: str, size: int) -> StagedBlob:
        """Stage a finished local file whose hash is known (a built bundle volume); the file is moved, or
        copied and removed, when the staged blob is committed."""
        ...

    def open(self, sha256: str) -> BinaryIO:
        """The stored bytes as a stream; FileNotFoundError when the blob is not stored."""
        ...

    def local_copy(self, sha256: str) -> AbstractContextManager[Path]:
        """A local read-only file holding the blob, for the length of the block; when the blob is not stored, a
        path where no file is, so the tool (or its caller) reports it missing in its own words. Only for tools
        that take a file name: everything else reads `open`."""
        ...

    def exists(self, sha256: str) -> bool: ...
    def size(self, sha256: str) -> int: ...
    def delete(self, sha256: str) -> None: ...

    def set_aside(self, sha256: str) -> SetAside | None:
        """Take a blob out of the store, restorably (None when it is not stored)."""
        ...

    def left_aside(self) -> Iterator[SetAside]:
        """Blobs set aside and never restored or dropped (a process stopped in between)."""
        ...

    def list_files(self) -> Iterator[StoredFile]:
        """Every file in the blob area, blobs or not, in key order."""
        ...

    def location(self, sha256: str | None = None) -> str:
        """Where a blob is kept (the store itself when None), for reports a person reads."""
        ...

    def free_bytes(self) -> int | None:
        """Room left for new blobs; None when the store sets no limit it can tell."""
        ...

    def scratch_path(self, name: str) -> Path:
        """A local path for a job's work files (created and removed by the job), beside the staging area so a
        finished file can be adopted without a copy; `claim_staging` clears what a crash left there."""
        ...

    def claim_staging(self) -> int:
        """At server start-up: clear what crashed servers left in staging; returns how many entries went."""
        ...

    def set_legal_hold(self, sha256: str, held: bool) -> None:
        """Mirror a legal hold onto the stored blob where the store can enforce one (S3 Object Lock); the database
        stays the authority on holds, and a store that cannot enforce them does nothing."""
        ...


def file_sha256(path: Path) -> str:
    """The SHA-256 of a file on disk, read a MiB at a time."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


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


@dataclass
class LocalSetAside:
    store: "LocalBlobStore"
    path: Path
    sha256: str

    def restore(self) -> None:
        """Put the blob back in its place, durably."""
        target = self.store.path_for(self.sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(self.path, target)
        _fsync_dir(target.parent)

    def drop(self) -> None:
        self.path.unlink(missing_ok=True)


class LocalBlobWriter:
    """Hashes while it writes; nothing is held in memory beyond the sniffing head."""

    def __init__(self, store: "LocalBlobStore", expected_sha256: str | None = None):
        self.store, self.expected = store, expected_sha256
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
        sha256 = self.hash.hexdigest()
        check_digest(self.expected, sha256, undo=self.abort)
        return LocalStagedBlob(self.store, self.path, sha256, self.size, self.head)

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

    def writer(self, expected_sha256: str | None = None) -> LocalBlobWriter:
        return LocalBlobWriter(self, expected_sha256)

    def open(self, sha256: str) -> BinaryIO:
        return open(self.path_for(sha256), "rb")

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()

    def size(self, sha256: str) -> int:
        return self.path_for(sha256).stat().st_size

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)

    def adopt(self, path: Path, sha256: str, size: int) -> LocalStagedBlob:
        """The file becomes the blob by a rename (it must be on the store's filesystem: see `scratch_path`),
        after its bytes are flushed to disk."""
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        return LocalStagedBlob(self, Path(path), sha256, size, b"")

    @contextmanager
    def local_copy(self, sha256: str) -> Iterator[Path]:
        """The stored file itself: it is read-only on disk, and a blob is never rewritten in place."""
        yield self.path_for(sha256)

    def set_aside(self, sha256: str) -> LocalSetAside | None:
        """Move the blob into the staging area: gone from the store, yet restorable until dropped."""
        moved = self.tmp_dir / f"{ASIDE_PREFIX}{sha256}-{uuid.uuid4().hex[:12]}"
        try:
            os.replace(self.path_for(sha256), moved)
        except FileNotFoundError:
            return None
        return LocalSetAside(self, moved, sha256)

    def left_aside(self) -> Iterator[LocalSetAside]:
        for moved in sorted(self.tmp_dir.glob(ASIDE_PREFIX + "*")):
            sha256 = moved.name[len(ASIDE_PREFIX) :][:64]
            if is_sha256_hex(sha256):  # anything else is not ours
                yield LocalSetAside(self, moved, sha256)

    def list_files(self) -> Iterator[StoredFile]:
        blob_dir = self.root / "sha256"
        for path in sorted(blob_dir.rglob("*")) if blob_dir.exists() else []:
            if not path.is_file():
                continue
            sha256 = path.name if is_sha256_hex(path.name) and self.path_for(path.name) == path else None
            stat = path.stat()
            yield StoredFile(str(path.relative_to(self.root)), str(path), sha256, stat.st_size, stat.st_mtime)

    def location(self, sha256: str | None = None) -> str:
        return str(self.root if sha256 is None else self.path_for(sha256))

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free

    def scratch_path(self, name: str) -> Path:
        return self.tmp_dir / name

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

    def set_legal_hold(self, sha256: str, held: bool) -> None:
        """Nothing to do: on local disk the database's hold is the only one (and originals are read-only)."""


def open_store(data_dir: Path) -> BlobStore:
    """The store the settings name: the one place a backend is chosen. An S3 store keeps only this process's own
    work files in `data_dir`."""
    settings = get_settings()
    if settings.blob_backend == "s3":
        from api.storage_s3 import open_s3_store  # boto3 is loaded only by servers that use it

        return open_s3_store(settings, data_dir)
    return LocalBlobStore(data_dir)


def stage_stream(store: BlobStore, stream: Readable, chunk_size: int = 1024 * 1024) -> StagedBlob:
    """Stage a readable stream (a local file, say) the same way an HTTP upload is staged."""
    writer = store.writer()
    try:
        while chunk := stream.read(chunk_size):
            writer.write(chunk)
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
