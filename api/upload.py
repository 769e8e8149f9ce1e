"""Streaming multipart reader: the file part goes straight into the blob store, hashed as it arrives.

Starlette's form parser would spool the file to a temporary file first and hand it over whole;
here the bytes are written once, counted as they come (so a lying Content-Length cannot get past
the limit), and nothing beyond a 1 MiB write buffer is held in memory. The envelope is bounded as well:
at most MAX_PARTS parts, each field sent once and at most MAX_FIELD_BYTES long.

A `sha256` field is the client's SHA-256 of its file: an upload whose file hashes otherwise is refused
(DigestMismatch, 422). Sent before the file part, with the other fields before it too, it also lets the store write
the file straight under its digest (the S3 store then skips a copy): those fields are checked first (`precheck`), so
nothing is written for a form that would be refused.
"""

import asyncio
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from anyio import to_thread
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MAX_BOUNDARY_LENGTH, MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from api.errors import BadRequest, PayloadTooLarge, UnprocessableEntity
from api.request_body import body_chunks
from api.storage import BlobStore, BlobWriter, StagedBlob, check_digest
from models.common import is_sha256_hex

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

MAX_FIELD_BYTES = 1024 * 1024
MAX_FIELDS = 50
# The file and one part per field: a body of thousands of tiny parts is refused at the first one too many.
MAX_PARTS = MAX_FIELDS + 1
FLUSH_BYTES = 1024 * 1024
# Room for the multipart envelope and metadata fields on top of the file itself.
ENVELOPE_BYTES = MAX_FIELDS * MAX_FIELD_BYTES
DIGEST_FIELD = "sha256"


@dataclass
class UploadForm:
    fields: dict[str, str] = field(default_factory=dict)
    staged: StagedBlob | None = None
    filename: str = ""

    @property
    def declared_sha256(self) -> str | None:
        """The `sha256` field, when it is a SHA-256 in hex (lower-cased); anything else is left to the field checks."""
        value = self.fields.get(DIGEST_FIELD, "").strip().lower()
        return value if is_sha256_hex(value) else None


# Checks the fields of a form read so far, raising a 4xx for what would be refused.
Precheck = Callable[[UploadForm], None]


def escape_filename(raw: str) -> str:
    """Keep a client filename as metadata only: control characters (NUL included) become %XX."""
    return "".join(f"%{ord(c):02X}" if ord(c) < 32 or ord(c) == 127 else c for c in raw)


class _FormReader:
    def __init__(self, store: BlobStore, max_file_bytes: int, file_field: str, precheck: Precheck | None):
        self.store, self.max_file_bytes, self.file_field = store, max_file_bytes, file_field
        self.precheck = precheck
        self.form = UploadForm()
        self.writer: BlobWriter | None = None
        self.pending: list[bytes] = []
        self.pending_bytes = 0
        self.file_bytes = 0
        self._headers: dict[str, str] = {}
        self._header_name = self._header_value = b""
        self._part_name: str | None = None
        self._in_file = False
        self._value = bytearray()
        self.parts = 0
        self.ended = False

    def callbacks(self) -> "MultipartCallbacks":
        return {
            "on_part_begin": self._part_begin,
            "on_header_field": self._header_field,
            "on_header_value": self._header_val,
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
            "on_end": self._end,
        }

    def _end(self) -> None:
        self.ended = True

    def _part_begin(self) -> None:
        self.parts += 1
        if self.parts > MAX_PARTS:
            raise UnprocessableEntity(
                f"too many parts in the multipart body: at most {MAX_PARTS} (the file and up to {MAX_FIELDS} fields)"
            )
        self._headers, self._part_name, self._in_file, self._value = {}, None, False, bytearray()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._header_name += data[start:end]

    def _header_val(self, data: bytes, start: int, end: int) -> None:
        self._header_value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._header_name.decode("latin-1").lower()] = self._header_value.decode("latin-1")
        self._header_name = self._header_value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get("content-disposition", ""))
        name = options.get(b"name", b"").decode("utf-8", "replace")
        self._part_name = name
        if name == self.file_field:
            if self.writer is not None:
                raise UnprocessableEntity(f"send exactly one '{self.file_field}' part")
            raw_name = options.get(b"filename", b"").decode("utf-8", "replace")
            self.form.filename = escape_filename(raw_name)
            self.writer = self.store.writer(self._in_place())
            self._in_file = True
        elif name in self.form.fields:
            raise UnprocessableEntity(f"form field '{name}' is sent more than once: send each field once")
        elif len(self.form.fields) >= MAX_FIELDS:
            raise UnprocessableEntity(f"too many form fields (at most {MAX_FIELDS})")

    def _in_place(self) -> str | None:
        """The declared digest the file may be written under: only once the fields sent so far pass the checks."""
        declared = self.form.declared_sha256
        if declared is None or self.precheck is None:
            return None
        self.precheck(self.form)  # a 422 now, before any byte is stored
        return declared

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.file_bytes += end - start
            if self.file_bytes > self.max_file_bytes:
                raise PayloadTooLarge(f"file is larger than the limit of {self.max_file_bytes:,} bytes")
            self.pending.append(data[start:end])
            self.pending_bytes += end - start
        else:
            self._value += data[start:end]
            if len(self._value) > MAX_FIELD_BYTES:
                raise PayloadTooLarge(f"form field '{self._part_name}' is larger than {MAX_FIELD_BYTES:,} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            self._in_file = False
            return
        try:
            self.form.fields[self._part_name or ""] = self._value.decode("utf-8")
        except UnicodeDecodeError:
            raise UnprocessableEntity(f"form field '{self._part_name}' is not valid UTF-8") from None

    def take_pending(self) -> bytes:
        data, self.pending, self.pending_bytes = b"".join(self.pending), [], 0
        return data


async def read_upload(
    request: Request,
    store: BlobStore,
    *,
    max_file_bytes: int,
    file_field: str = "file",
    precheck: Precheck | None = None,
) -> UploadForm:
    """Read a multipart upload, staging its file part in the blob store. The caller commits or discards it.
    `precheck` checks the fields sent before the file (raising a 4xx), which a declared digest needs to write the
    file in place."""
    content_type, params = parse_options_header(request.headers.get("content-type"))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise UnprocessableEntity("send the upload as multipart/form-data with a 'file' part and metadata fields")
    if len(boundary) > MAX_BOUNDARY_LENGTH:
        raise UnprocessableEntity(
            f"the multipart boundary is {len(boundary):,} characters long; at most {MAX_BOUNDARY_LENGTH} are read"
        )
    max_body = max_file_bytes + ENVELOPE_BYTES
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_body:
        raise PayloadTooLarge(
            f"request body of {int(declared):,} bytes is over the upload limit of {max_file_bytes:,} bytes"
        )
    reader = _FormReader(store, max_file_bytes, file_field, precheck)
    parser = MultipartParser(boundary, reader.callbacks(), max_header_size=64 * 1024)
    disk = _DiskPipeline()
    received = 0
    try:
        async for chunk in body_chunks(request):
            received += len(chunk)
            if received > max_body:
                raise PayloadTooLarge(f"request body is over the upload limit of {max_file_bytes:,} bytes")
            parser.write(chunk)
            if reader.pending_bytes >= FLUSH_BYTES:
                assert reader.writer is not None  # only a file part's bytes are pending, and it opened the writer
                await disk.submit(reader.writer.write, reader.take_pending())
        parser.finalize()
        if not reader.ended:
            raise BadRequest("the multipart body ended before its closing boundary: the upload is incomplete")
        if reader.writer is None:
            raise UnprocessableEntity(f"the '{file_field}' part is missing: attach the evidence file")
        await disk.submit(reader.writer.write, reader.take_pending())
        await disk.drain()
        staged = reader.form.staged = await to_thread.run_sync(reader.writer.finish)
        check_digest(reader.form.declared_sha256, staged.sha256, undo=staged.discard)  # a digest sent after the file
    except MultipartParseError as exc:
        await _abort(reader, disk)
        raise BadRequest(f"malformed multipart body: {exc}") from None
    except ClientDisconnect:
        await _abort(reader, disk)
        raise BadRequest("the client disconnected before the upload finished") from None
    except BaseException:
        await _abort(reader, disk)
        raise
    finally:
        disk.close()
    return reader.form


class _DiskPipeline:
    """Hashes and writes on one worker thread while the event loop keeps receiving.

    SHA-256 and file writes release the GIL, so network, hashing and disk overlap. At most
    MAX_IN_FLIGHT buffers wait for the disk, which bounds memory when the disk is slower than the wire.
    """

    MAX_IN_FLIGHT = 4

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="upload-writer")
        self._in_flight: deque[asyncio.Future] = deque()

    async def submit(self, write, data: bytes) -> None:
        if not data:
            return
        self._in_flight.append(asyncio.wrap_future(self._pool.submit(write, data)))
        while len(self._in_flight) > self.MAX_IN_FLIGHT or (self._in_flight and self._in_flight[0].done()):
            await self._in_flight.popleft()

    async def drain(self) -> None:
        while self._in_flight:
            await self._in_flight.popleft()

    def close(self) -> None:
        # Every write was awaited (drain) or the upload is being thrown away: nothing to wait for here.
        self._pool.shutdown(wait=False, cancel_futures=True)


async def _abort(reader: _FormReader, disk: _DiskPipeline) -> None:
    try:
        await disk.drain()  # let queued writes finish before the file goes
    except Exception:  # noqa: BLE001 - the upload is being thrown away anyway
        pass
    if reader.writer is not None:
        reader.writer.abort()
