"""The export ZIP, streamed: the manifest first, then every file the case needs, each read from the store a chunk
at a time, re-hashed on the way out and yielded as soon as it is written, so a case of any size leaves in
constant memory and a blob that no longer matches its name stops the stream instead of shipping wrong bytes."""

import hashlib
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import IO

from api.services.transfer.spec import CHUNK_BYTES, MANIFEST
from api.storage import BlobStore


@dataclass(frozen=True)
class ExportFile:
    path: str
    sha256: str
    size: int
    deflate: bool

    def entry(self) -> dict:
        return {"path": self.path, "sha256": self.sha256, "size": self.size}


@dataclass
class CaseExport:
    """A prepared export: the manifest (already hashed) and the files to stream after it."""

    case_id: uuid.UUID
    filename: str
    exported_at: datetime
    manifest: IO[bytes]
    manifest_sha256: str
    manifest_size: int
    files: list[ExportFile]
    store: BlobStore
    counts: dict = field(default_factory=dict)

    def close(self) -> None:
        self.manifest.close()

    def stream(self) -> Iterator[bytes]:
        """The ZIP, a chunk at a time. Each chunk is yielded as soon as it is written, so memory stays flat."""
        sink = Sink()
        try:
            with zipfile.ZipFile(sink, "w", allowZip64=True) as zf:
                self.manifest.seek(0)
                yield from self._member(zf, sink, MANIFEST, self.manifest, deflate=True)
                for item in self.files:
                    with self.store.open(item.sha256) as source:
                        yield from self._member(zf, sink, item.path, source, deflate=item.deflate, expect=item)
            yield from sink.drain()  # the central directory
        finally:
            self.close()

    def _member(self, zf, sink, name: str, source: IO[bytes], *, deflate: bool, expect: ExportFile | None = None):
        info = zipfile.ZipInfo(name, date_time=self.exported_at.timetuple()[:6])
        info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
        info.external_attr = 0o644 << 16
        digest, size = hashlib.sha256(), 0
        with zf.open(info, "w", force_zip64=True) as out:
            while chunk := source.read(CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
                yield from sink.drain()
        if expect is not None and (digest.hexdigest() != expect.sha256 or size != expect.size):
            # Stop here: a truncated download fails loudly, a ZIP with the wrong bytes would not.
            raise RuntimeError(
                f"stored blob {expect.sha256} now hashes to {digest.hexdigest()} ({size} bytes): "
                "the store is damaged, run `casebinder verify`"
            )
        yield from sink.drain()


class Sink:
    """A write-only, non-seekable stream for ZipFile: collects what is written until the next drain."""

    def __init__(self):
        self._parts: list[bytes] = []

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        pass  # the chunks already drained are the stream's; there is nothing to release

    def drain(self) -> Iterator[bytes]:
        if self._parts:
            data, self._parts = b"".join(self._parts), []
            yield data
