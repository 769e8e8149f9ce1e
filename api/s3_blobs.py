"""The moving parts of the S3 blob store (api/storage_s3.py): the writer that streams an upload into a multipart
upload, the staged blob that waits for the transaction, the reader that streams an object back, and a blob set
aside on its way out.

A blob's SHA-256 is known only once its last byte has arrived, so a large upload goes to a staging key part by
part while it is hashed, and is copied into place (server-side) under its digest key when its row commits. A client
that declares the digest (and whose upload's other fields were found good before the file) saves that copy: the parts
go straight to the digest key, and the multipart upload is completed only once the bytes hash to it (an upload never
completed is never seen), or not sent at all when the object is there already. A
blob smaller than one part never goes to staging: the writer holds it (at most one part) and puts it straight
under its digest key, its SHA-256 sent as the object's checksum, so the server refuses bytes that do not match.
"""

import base64
import hashlib
import io
import logging
import uuid
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from botocore.exceptions import BotoCoreError, ClientError

from api.storage import check_digest

if TYPE_CHECKING:
    from api.storage_s3 import S3BlobStore

log = logging.getLogger(__name__)

SNIFF_BYTES = 64 * 1024
# S3 refuses parts under 5 MiB (but the last). A writer holds one part filling and at most PARTS_IN_FLIGHT on
# their way: 24 MiB an upload. With one part on its way a 256 MiB upload to SeaweedFS streamed at about half
# the rate of boto3's upload_fileobj (ten parts at a time); with two, at 85-95% of it (bench/s3_upload.py).
PART_BYTES = 8 * 1024 * 1024
PARTS_IN_FLIGHT = 2
# copy_object copies at most 5 GiB in one request; a larger blob is copied part by part.
SINGLE_COPY_BYTES = 5 * 1024**3
STAGING_PREFIX = "staging/"


def checksum(sha256_hex: str) -> str:
    """The SHA-256 as S3 carries it in x-amz-checksum-sha256: base64 of the digest."""
    return base64.b64encode(bytes.fromhex(sha256_hex)).decode()


def is_missing(exc: ClientError) -> bool:
    return exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound", "NoSuchUpload")


@contextmanager
def answering(store: "S3BlobStore", consequence: str = "nothing was stored") -> Iterator[None]:
    """An object store that cannot be reached (or answers with a server error) becomes ObjectStoreUnavailable,
    a 503 that says what happened and that the request may be sent again."""
    try:
        yield
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) < 500:
            raise
        raise store.unavailable(consequence) from exc
    except BotoCoreError as exc:  # connection refused or reset, timeouts
        raise store.unavailable(consequence) from exc


class S3Reader(io.RawIOBase):
    """An object read as a seekable stream: one ranged GET streams from the position on, and a seek elsewhere
    starts another (so PIL and pikepdf can read headers and cross-reference tables without a local copy)."""

    def __init__(self, store: "S3BlobStore", key: str, size: int):
        self.store, self.key, self.size = store, key, size
        self.pos = 0
        self._body: Any = None  # the StreamingBody of the GET in progress

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self.pos, io.SEEK_END: self.size}[whence]
        target = max(0, base + offset)
        if target != self.pos:
            self._drop_body()
            self.pos = target
        return self.pos

    def readinto(self, buffer) -> int:
        if self.pos >= self.size:
            return 0
        if self._body is None:
            with answering(self.store, "nothing could be read"):
                got = self.store.client.get_object(Bucket=self.store.bucket, Key=self.key, Range=f"bytes={self.pos}-")
            self._body = got["Body"]
        with answering(self.store, "the file could not be read through"):
            data = self._body.read(len(buffer))
        if not data:  # the object is shorter than its HEAD said, or the connection ended: not an end of file
            raise OSError(f"the object store ended the read of {self.key} at byte {self.pos:,} of {self.size:,}")
        buffer[: len(data)] = data
        self.pos += len(data)
        return len(data)

    def _drop_body(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop_body()
        super().close()


def reader(store: "S3BlobStore", key: str, size: int) -> BinaryIO:
    return io.BufferedReader(S3Reader(store, key, size), buffer_size=1024 * 1024)


@dataclass
class S3StagedBlob:
    """A blob waiting for its transaction: held in memory (smaller than a part), a staging object, or a local file
    (a built bundle volume). `commit` puts it under its digest key; `settle` drops what was staged."""

    store: "S3BlobStore"
    sha256: str
    size: int
    head: bytes
    data: bytes | None = None
    key: str | None = None
    path: Path | None = None
    # Written straight under its digest key (a declared digest). Never removed by this upload, even when its row
    # rolls back: an identical upload may be about to commit a row naming it. Unused, the orphan sweep takes it.
    in_place: bool = False
    _done: bool = field(default=False, repr=False)
    _promoted: bool = field(default=False, repr=False)

    def open(self) -> BinaryIO:
        if self.in_place:
            return reader(self.store, self.store.key_for(self.sha256), self.size)
        if self.data is not None:
            return io.BytesIO(self.data)
        if self.key is not None:
            return reader(self.store, self.key, self.size)
        assert self.path is not None
        return open(self.path, "rb")

    def commit(self) -> bool:
        """Put the blob under its digest key. False when it was stored already: the staged copy is then kept
        until `settle`, for the request that stored it may yet roll back and remove it."""
        self._done = True
        if self.in_place:
            return False  # stored already, and not this upload's to remove (see `in_place`)
        if self.store.exists(self.sha256, "nothing was stored"):
            return False
        self._promote()
        return True

    def settle(self, *, committed: bool) -> None:
        """After the transaction: make sure a committed blob is stored, then drop what was staged."""
        if self.data is None and self.key is None and self.path is None:
            return
        try:
            if committed and not self._promoted and not self.store.exists(self.sha256, "nothing was stored"):
                self._promote()
        finally:
            self._drop()

    def discard(self) -> None:
        if not self._done:
            self._drop()
            self._done = True

    def _promote(self) -> None:
        store, target = self.store, self.store.key_for(self.sha256)
        meta = {"sha256": self.sha256}
        with answering(store):
            if self.data is not None:
                store.client.put_object(
                    Bucket=store.bucket, Key=target, Body=self.data, ChecksumSHA256=checksum(self.sha256), Metadata=meta
                )
            elif self.key is not None:
                store.copy(self.key, target, self.size, meta)
            else:
                assert self.path is not None
                store.upload_file(self.path, target, self.size, meta, checksum(self.sha256))
        self._promoted = True

    def _drop(self) -> None:
        self.data = None
        if self.path is not None:
            self.path.unlink(missing_ok=True)
            self.path = None
        if self.key is not None:
            key, self.key = self.key, None
            try:
                self.store.remove_key(key)
            except (BotoCoreError, ClientError) as exc:  # the staging sweep at the next start takes it
                log.warning("could not remove the staged object %s: %s", key, exc)


class S3BlobWriter:
    """Hashes while it writes, and sends each full part on while the next one fills: at most PARTS_IN_FLIGHT + 1
    parts in memory, nothing on local disk. Nothing is sent until a first part is full (see the module's
    docstring)."""

    def __init__(self, store: "S3BlobStore", expected_sha256: str | None = None):
        self.store, self.expected = store, expected_sha256
        self.key = store.key_for(expected_sha256) if expected_sha256 else f"{STAGING_PREFIX}{uuid.uuid4().hex}"
        self.present = False  # in place, and the object is stored already: the bytes are hashed, not sent
        self.hash = hashlib.sha256()
        self.size = 0
        self.head = b""
        self.buffer = bytearray()
        self.upload_id: str | None = None
        self.parts: list[dict] = []
        self.numbered = 0
        self.sending: deque[Future] = deque()

    def write(self, data: bytes) -> None:
        if len(self.head) < SNIFF_BYTES:
            self.head += data[: SNIFF_BYTES - len(self.head)]
        self.hash.update(data)
        self.size += len(data)
        self.buffer += data
        if len(self.buffer) >= self.store.part_bytes:
            self._send_part()

    def finish(self) -> S3StagedBlob:
        sha256 = self.hash.hexdigest()
        check_digest(self.expected, sha256, undo=self.abort)
        if self.present:
            return S3StagedBlob(self.store, sha256, self.size, self.head, in_place=True)
        if self.upload_id is None:
            data, self.buffer = bytes(self.buffer), bytearray()
            return S3StagedBlob(self.store, sha256, self.size, self.head, data=data)
        if self.buffer:
            self._send_part()
        self._wait()
        with answering(self.store):
            self.store.client.complete_multipart_upload(
                Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id, MultipartUpload={"Parts": self.parts}
            )
        self.upload_id = None
        if self.expected is not None:
            return S3StagedBlob(self.store, sha256, self.size, self.head, in_place=True)
        return S3StagedBlob(self.store, sha256, self.size, self.head, key=self.key)

    def abort(self) -> None:
        self.buffer = bytearray()
        while self.sending:  # let the parts on their way finish before their upload is aborted
            try:
                self.sending.popleft().result()
            except Exception:  # noqa: BLE001 - the upload is being thrown away, whatever its parts did
                pass
        if self.upload_id is not None:
            try:
                self.store.client.abort_multipart_upload(
                    Bucket=self.store.bucket, Key=self.key, UploadId=self.upload_id
                )
            except (BotoCoreError, ClientError) as exc:  # the staging sweep at the next start takes it
                log.warning("could not abort the multipart upload of %s: %s", self.key, exc)
            self.upload_id = None

    def _send_part(self) -> None:
        if self.upload_id is None and self.expected is not None and not self.present:
            self.present = self.store.exists(self.expected, "nothing was stored")
        if self.present:
            self.buffer = bytearray()
            return
        while len(self.sending) >= self.store.parts_in_flight:  # memory stays at parts_in_flight + 1 parts
            self.sending.popleft().result()
        part, self.buffer = bytes(self.buffer), bytearray()
        client, bucket = self.store.client, self.store.bucket
        if self.upload_id is None:
            with answering(self.store):
                started = client.create_multipart_upload(Bucket=bucket, Key=self.key, ChecksumAlgorithm="SHA256")
            self.upload_id = started["UploadId"]
        self.numbered += 1
        number = self.numbered
        upload_id = self.upload_id

        def send() -> None:
            with answering(self.store):
                sent = client.upload_part(
                    Bucket=bucket,
                    Key=self.key,
                    UploadId=upload_id,
                    PartNumber=number,
                    Body=part,
                    ChecksumSHA256=base64.b64encode(hashlib.sha256(part).digest()).decode(),
                )
            self.parts.append({"PartNumber": number, "ETag": sent["ETag"], "ChecksumSHA256": sent["ChecksumSHA256"]})

        self.sending.append(self.store.pool.submit(send))

    def _wait(self) -> None:
        """Until every part sent has arrived (the parts in the order of their numbers, for completing)."""
        while self.sending:
            self.sending.popleft().result()
        self.parts.sort(key=lambda part: part["PartNumber"])


@dataclass
class S3SetAside:
    store: "S3BlobStore"
    key: str
    sha256: str

    def restore(self) -> None:
        """Copy the blob back under its digest key, then forget the set-aside copy."""
        with as_os_error(f"put back {self.sha256}"):
            self.store.client.copy_object(
                Bucket=self.store.bucket,
                Key=self.store.key_for(self.sha256),
                CopySource={"Bucket": self.store.bucket, "Key": self.key},
            )
            self.store.remove_key(self.key)

    def drop(self) -> None:
        with as_os_error(f"drop {self.sha256}"):
            self.store.remove_key(self.key)


@contextmanager
def as_os_error(doing: str) -> Iterator[None]:
    """The blob layer logs an OSError from a removal and leaves the rest to the next sweep (api/services/blobs.py)."""
    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise OSError(f"could not {doing} in the object store: {exc}") from exc
