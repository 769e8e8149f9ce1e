"""The S3 blob store: the `BlobStore` protocol over a bucket of an S3-compatible object store.

Blobs are objects at `sha256/ab/cd/<hash>` (the local store's layout), each carrying its SHA-256 as metadata and,
where it went up in one piece, as its S3 checksum (a multipart upload carries one per part). Uploads wait under
`staging/`, blobs on their way out under `aside/`. Several server processes on several hosts share the bucket:
the sweeps at start-up take only what is older than a safe age, since another process may be using it now.

The local data dir of each process holds only its own work files (a job's scratch directory, the copy a tool
reads for the length of a `local_copy` block): nothing on it is needed by another process.

Legal hold maps to S3 Object Lock legal hold when the bucket has object lock enabled; such a bucket is versioned,
so removing a blob removes every version of its key (a held version refuses, and the blob stays).
"""

import logging
import shutil
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from api.config import Settings
from api.errors import ObjectStoreUnavailable
from api.s3_blobs import (
    PART_BYTES,
    PARTS_IN_FLIGHT,
    SINGLE_COPY_BYTES,
    STAGING_PREFIX,
    S3BlobWriter,
    S3SetAside,
    S3StagedBlob,
    answering,
    as_os_error,
    is_missing,
    reader,
)
from api.storage import BucketUnusable, LocalBlobStore, StoredFile, StoreNotAnswering
from models.common import is_sha256_hex

log = logging.getLogger(__name__)

BLOB_PREFIX = "sha256/"
# Longer than a tool reads a local copy (OCR of an item may take an hour: text_job_timeout_seconds).
COPY_GRACE_SECONDS = 6 * 3600
ASIDE_PREFIX = "aside/"


class S3BlobStore:
    def __init__(
        self,
        client,
        bucket: str,
        *,
        endpoint: str,
        data_dir: Path,
        part_bytes: int = PART_BYTES,
        parts_in_flight: int = PARTS_IN_FLIGHT,
        staging_grace_seconds: float = 3600,
        aside_grace_seconds: float = 900,
    ):
        self.client, self.bucket, self.endpoint = client, bucket, endpoint
        self.local = LocalBlobStore(data_dir)  # this process's scratch files, swept by the local store's rules
        self.copies_dir = self.local.root / "copies"  # what `local_copy` downloads, for the length of a block
        self.copies_dir.mkdir(exist_ok=True)
        self.part_bytes, self.parts_in_flight = part_bytes, parts_in_flight
        self.staging_grace_seconds, self.aside_grace_seconds = staging_grace_seconds, aside_grace_seconds
        self.object_lock = False
        self.pool = ThreadPoolExecutor(max_workers=16, thread_name_prefix="s3-parts")

    def check(self) -> None:
        """At start: the bucket must exist and answer; learn whether it has object lock (legal holds)."""
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            raise BucketUnusable(
                f"the bucket {self.bucket!r} at {self.endpoint} cannot be used ({exc}): create it beforehand, with "
                "object lock enabled for legal holds, and give these credentials access to it"
            ) from exc
        except BotoCoreError as exc:
            raise StoreNotAnswering(f"the object store at {self.endpoint} is not answering: {exc}") from exc
        try:
            lock = self.client.get_object_lock_configuration(Bucket=self.bucket)["ObjectLockConfiguration"]
            self.object_lock = lock.get("ObjectLockEnabled") == "Enabled"
        except ClientError:
            self.object_lock = False

    def unavailable(self, consequence: str) -> ObjectStoreUnavailable:
        return ObjectStoreUnavailable(f"the object store at {self.endpoint} is not answering: {consequence}; try again")

    def key_for(self, sha256: str) -> str:
        if not is_sha256_hex(sha256):
            raise ValueError("not a sha256 hex digest")
        return f"{BLOB_PREFIX}{sha256[:2]}/{sha256[2:4]}/{sha256}"

    def writer(self, expected_sha256: str | None = None) -> S3BlobWriter:
        return S3BlobWriter(self, expected_sha256)

    def adopt(self, path: Path, sha256: str, size: int) -> S3StagedBlob:
        """A local file (a built volume) is uploaded when committed, and removed when settled."""
        return S3StagedBlob(self, sha256, size, b"", path=Path(path))

    def _head(self, sha256: str, consequence: str = "nothing could be read") -> dict | None:
        try:
            with answering(self, consequence):
                return self.client.head_object(Bucket=self.bucket, Key=self.key_for(sha256))
        except ClientError as exc:
            if is_missing(exc):
                return None
            raise

    def open(self, sha256: str) -> BinaryIO:
        found = self._head(sha256)
        if found is None:
            raise FileNotFoundError(self.location(sha256))
        return reader(self, self.key_for(sha256), found["ContentLength"])

    @contextmanager
    def local_copy(self, sha256: str) -> Iterator[Path]:
        """A download into this process's data dir, read-only, removed after the block."""
        with tempfile.TemporaryDirectory(dir=self.copies_dir, prefix="copy-") as tmp:
            path = Path(tmp) / sha256
            try:
                with answering(self, "nothing could be read"):
                    self.client.download_file(self.bucket, self.key_for(sha256), str(path))
                path.chmod(0o440)
            except ClientError as exc:
                if not is_missing(exc):
                    raise
                path.unlink(missing_ok=True)  # the tool reports it missing in its own words
            yield path

    def exists(self, sha256: str, consequence: str = "nothing could be read") -> bool:
        """`consequence`: what the 503 says happened, should the store not answer (an upload: nothing stored)."""
        return self._head(sha256, consequence) is not None

    def size(self, sha256: str) -> int:
        found = self._head(sha256)
        if found is None:
            raise FileNotFoundError(self.location(sha256))
        return found["ContentLength"]

    def delete(self, sha256: str) -> None:
        with as_os_error(f"delete {sha256}"):
            self.remove_key(self.key_for(sha256))

    def remove_key(self, key: str) -> None:
        """Remove the object, and on a versioned (object lock) bucket every version of it, so its bytes go."""
        if not self.object_lock:
            self.client.delete_object(Bucket=self.bucket, Key=key)
            return
        pages = self.client.get_paginator("list_object_versions").paginate(Bucket=self.bucket, Prefix=key)
        for page in pages:
            for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
                if version["Key"] == key:
                    self.client.delete_object(Bucket=self.bucket, Key=key, VersionId=version["VersionId"])

    def copy(self, source: str, target: str, size: int, metadata: dict[str, str]) -> None:
        """Server-side copy, with the blob's metadata: one request up to 5 GiB, part by part beyond."""
        where = {"Bucket": self.bucket, "Key": source}
        if size <= SINGLE_COPY_BYTES:
            self.client.copy_object(
                Bucket=self.bucket, Key=target, CopySource=where, Metadata=metadata, MetadataDirective="REPLACE"
            )
        else:
            config = TransferConfig(multipart_threshold=SINGLE_COPY_BYTES, multipart_chunksize=1024**3)
            self.client.copy(where, self.bucket, target, ExtraArgs={"Metadata": metadata}, Config=config)

    def upload_file(self, path: Path, target: str, size: int, metadata: dict[str, str], sha256_b64: str) -> None:
        if size <= self.part_bytes:  # in one piece: the server checks the bytes against the whole file's SHA-256
            with open(path, "rb") as f:
                self.client.put_object(
                    Bucket=self.bucket, Key=target, Body=f, ChecksumSHA256=sha256_b64, Metadata=metadata
                )
            return
        config = TransferConfig(multipart_threshold=self.part_bytes, multipart_chunksize=self.part_bytes)
        extra = {"Metadata": metadata, "ChecksumAlgorithm": "SHA256"}
        self.client.upload_file(str(path), self.bucket, target, ExtraArgs=extra, Config=config)

    def set_aside(self, sha256: str) -> S3SetAside | None:
        """Copy the blob under aside/ and remove it from its key: gone from the store, restorable until dropped."""
        aside = f"{ASIDE_PREFIX}{sha256}-{uuid.uuid4().hex[:12]}"
        with as_os_error(f"set aside {sha256}"):
            if self._held(sha256):  # it could not be removed, and its copy would carry the hold along
                raise OSError(f"the blob {sha256} is under an Object Lock legal hold")
            try:
                self.client.copy_object(
                    Bucket=self.bucket, Key=aside, CopySource={"Bucket": self.bucket, "Key": self.key_for(sha256)}
                )
            except ClientError as exc:
                if is_missing(exc):
                    return None
                raise
            try:
                self.remove_key(self.key_for(sha256))
            except (BotoCoreError, ClientError):  # a version under legal hold refuses: the blob stays where it is
                self.remove_key(aside)
                raise
        return S3SetAside(self, aside, sha256)

    def _held(self, sha256: str) -> bool:
        if not self.object_lock:
            return False
        try:
            found = self.client.get_object_legal_hold(Bucket=self.bucket, Key=self.key_for(sha256))
        except ClientError:  # no such blob, or never held
            return False
        return found["LegalHold"]["Status"] == "ON"

    def left_aside(self) -> Iterator[S3SetAside]:
        """Blobs set aside longer ago than a removal takes: younger ones may be another process's, mid-removal."""
        cutoff = time.time() - self.aside_grace_seconds
        for obj in self._objects(ASIDE_PREFIX):
            sha256 = obj["Key"][len(ASIDE_PREFIX) :][:64]
            if is_sha256_hex(sha256) and obj["LastModified"].timestamp() < cutoff:
                yield S3SetAside(self, obj["Key"], sha256)

    def _objects(self, prefix: str) -> Iterator[dict]:
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            yield from page.get("Contents", [])

    def list_files(self) -> Iterator[StoredFile]:
        for obj in self._objects(BLOB_PREFIX):
            key, name = obj["Key"], obj["Key"].rsplit("/", 1)[-1]
            sha256 = name if is_sha256_hex(name) and self.key_for(name) == key else None
            modified: datetime = obj["LastModified"]
            yield StoredFile(key, self._url(key), sha256, obj["Size"], modified.timestamp())

    def _url(self, key: str) -> str:
        return f"s3://{self.bucket}/{key}"

    def location(self, sha256: str | None = None) -> str:
        return self._url("" if sha256 is None else self.key_for(sha256))

    def free_bytes(self) -> None:
        return None

    def scratch_path(self, name: str) -> Path:
        return self.local.scratch_path(name)

    def set_legal_hold(self, sha256: str, held: bool) -> None:
        """Object Lock legal hold on the blob, where the bucket has object lock; a missing blob is left alone."""
        if not self.object_lock:
            return
        try:
            with answering(self, "the hold was not recorded"):
                self.client.put_object_legal_hold(
                    Bucket=self.bucket, Key=self.key_for(sha256), LegalHold={"Status": "ON" if held else "OFF"}
                )
        except ClientError as exc:
            if not is_missing(exc):
                raise

    def claim_staging(self) -> int:
        """At start: this process's local work files (the local store's rules; local copies older than a tool
        reads one), then the uploads and staged objects older than the grace: younger ones may be another
        process's uploads in flight."""
        removed = self.local.claim_staging()
        for leftover in self.copies_dir.glob("copy-*"):  # a killed process's; a live one reads its copy for minutes
            if leftover.stat().st_mtime < time.time() - COPY_GRACE_SECONDS:
                shutil.rmtree(leftover, ignore_errors=True)
                removed += 1
        cutoff = time.time() - self.staging_grace_seconds
        pages = self.client.get_paginator("list_multipart_uploads").paginate(Bucket=self.bucket, Prefix=STAGING_PREFIX)
        for page in pages:
            for upload in page.get("Uploads", []):
                if upload["Initiated"].timestamp() < cutoff:
                    self.client.abort_multipart_upload(
                        Bucket=self.bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    removed += 1
        for obj in self._objects(STAGING_PREFIX):
            if obj["LastModified"].timestamp() < cutoff:
                self.remove_key(obj["Key"])
                removed += 1
        return removed


def open_s3_store(settings: Settings, data_dir: Path, *, check: bool = True) -> S3BlobStore:
    """The S3 store the settings name, checked: a bucket that is missing or unreachable stops the start."""
    if not settings.s3_bucket:
        raise BucketUnusable(
            "CASEBINDER_BLOB_BACKEND=s3 needs CASEBINDER_S3_BUCKET (and usually CASEBINDER_S3_ENDPOINT_URL)"
        )
    endpoint = settings.s3_endpoint_url or f"S3 ({settings.s3_region})"
    store = S3BlobStore(_client(settings), settings.s3_bucket, endpoint=endpoint, data_dir=data_dir)
    if check:
        store.check()
    return store


def _client(settings: Settings):
    secret = settings.s3_secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.s3_endpoint_url,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=secret.get_secret_value() if secret is not None else None,
        config=Config(
            region_name=settings.s3_region,
            s3={"addressing_style": "path" if settings.s3_path_style else "auto"},
            # An unreachable store fails a request within seconds (a 503), not after minutes of retries.
            connect_timeout=5,
            read_timeout=60,
            retries={"mode": "standard", "max_attempts": 3},
            max_pool_connections=64,
            # Checksums only where we ask for them (SHA-256): not a CRC32 of every request besides.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )
