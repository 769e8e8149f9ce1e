"""Reading a record set's file: its lines as they are in the file, then its records, whatever its format.

The file is read as a stream, a block at a time, so memory stays flat however large it is: a gzip is inflated as it
is read (and refused past a size cap, so a gzip bomb fills nothing), and a line longer than the longest record is
skipped without being held. Every record keeps its row, the 1-based line of the file it starts on (a CSV's header
is row 1, and a CSV record over several lines keeps the row of its first), and its exact text.

A line that is not UTF-8 (an export put together from several systems) is read as Windows-1252, or as Latin-1 when
even that fails, and says so; a line that cannot be a record is refused with its row and why, and reading goes on.
"""

import codecs
import csv
import gzip
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import IO, Any

import orjson

from models.record_set import RecordFormat

CHUNK = 1024 * 1024
GZIP_MAGIC = b"\x1f\x8b"
BOM = "\ufeff"


class FileRefused(ValueError):
    """The file as a whole cannot be read (a gzip inflating past the cap, a broken gzip): the import fails."""


@dataclass(slots=True)
class Line:
    row: int
    text: str | None  # None: refused, see `problem`
    decoded_as: str | None = None
    problem: str | None = None


@dataclass(slots=True)
class SourceRecord:
    """One record as read: its values by source path (a CSV's columns; a JSON line's object), or why it was
    refused."""

    row: int
    text: str
    values: Any  # dict of column -> text for CSV, the parsed object for JSON
    decoded_as: str | None = None
    problem: str | None = None


class _Counted:
    """A binary file, counting the bytes read from it (of the file as stored: a gzip's compressed bytes)."""

    def __init__(self, raw: IO[bytes]):
        self.raw, self.count = raw, 0

    def read(self, size: int = -1) -> bytes:
        data = self.raw.read(size)
        self.count += len(data)
        return data


class Source:
    """The file's bytes as blocks, inflated if it is a gzip (told by its first bytes), at most `max_inflated` of
    them; `bytes_read` counts the stored bytes read so far, for progress."""

    def __init__(self, raw: IO[bytes], *, max_inflated: int):
        self._counted = _Counted(raw)
        head = self._counted.read(2)
        self.compressed = head == GZIP_MAGIC
        self._head = head
        self._max = max_inflated

    @property
    def bytes_read(self) -> int:
        return self._counted.count

    def chunks(self) -> Iterator[bytes]:
        if not self.compressed:
            if self._head:
                yield self._head
            while data := self._counted.read(CHUNK):
                yield data
            return
        inflated = 0
        stream = gzip.GzipFile(fileobj=_Prefixed(self._head, self._counted), mode="rb")  # type: ignore[call-overload]
        try:
            while True:
                try:
                    data = stream.read(CHUNK)
                except (OSError, EOFError, gzip.BadGzipFile) as exc:
                    raise FileRefused(f"the gzip file is damaged after {inflated:,} bytes: {exc}") from None
                if not data:
                    return
                inflated += len(data)
                if inflated > self._max:
                    raise FileRefused(
                        f"the gzip file inflates to more than {self._max:,} bytes, the most a record set may hold "
                        "(CASEBINDER_RECORDS_MAX_INFLATED_BYTES); split it, or send it uncompressed"
                    )
                yield data
        finally:
            stream.close()


class _Prefixed:
    """A file with bytes already read from it put back in front."""

    def __init__(self, prefix: bytes, rest: _Counted):
        self.prefix, self.rest = prefix, rest

    def read(self, size: int = -1) -> bytes:
        if self.prefix:
            out, self.prefix = self.prefix, b""
            return out
        return self.rest.read(size)


def _decode(data: bytes) -> tuple[str, str | None]:
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252"), "windows-1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def raw_lines(chunks: Iterable[bytes], *, max_line_bytes: int, first_row: int = 1) -> Iterator[tuple[int, bytes | int]]:
    """The file's lines as (row, bytes), numbered from `first_row`, without their line ends (LF or CRLF); a line
    longer than `max_line_bytes` (its CR counted) comes as (row, its length) and is skipped without being held in
    memory. The one loop every reader of lines goes through: plain tuples, as a leaked database has millions of
    lines and each object a line goes through costs a share of the import's time."""
    row, carry, skipping, skipped = first_row, b"", False, 0
    for chunk in chunks:
        parts = chunk.split(b"\n")
        last = parts.pop()
        for part in parts:
            if skipping:
                yield row, skipped + len(part)
                row, skipping, skipped = row + 1, False, 0
                continue
            if carry:
                part, carry = carry + part, b""
            if len(part) > max_line_bytes:
                yield row, len(part)
            else:
                yield row, part.removesuffix(b"\r")
            row += 1
        if skipping:
            skipped += len(last)
        else:
            carry += last
            if len(carry) > max_line_bytes:
                skipping, skipped, carry = True, len(carry), b""
    if skipping:
        yield row, skipped
    elif carry:
        yield row, carry.removesuffix(b"\r")


def lines(chunks: Iterable[bytes], *, max_line_bytes: int) -> Iterator[Line]:
    """The file's lines, numbered from 1, without their line ends (LF or CRLF); a UTF-8 BOM at the start is
    dropped. A line longer than `max_line_bytes` is refused, and skipped without being held in memory."""
    first = True
    for row, data in raw_lines(chunks, max_line_bytes=max_line_bytes):
        if isinstance(data, int):
            first = False
            yield Line(row, None, problem=_too_long(data, max_line_bytes))
            continue
        text, decoded_as = _decode(data)
        if first:
            first = False
            if text.startswith(BOM):
                text = text[1:]
        yield Line(row, text, decoded_as)


NUL_PROBLEM = "the line holds a NUL character, which no field can store"


def json_records(
    chunks: Iterable[bytes], fmt: RecordFormat, *, max_line_bytes: int, first_row: int = 1, at_start: bool = True
) -> Iterator[SourceRecord]:
    """JSON Lines, or an Elasticsearch export (each line a hit with _id and _source), straight from the file's
    blocks: the lines as `raw_lines` cuts them (numbered from 1, line ends and a first BOM dropped, a line over
    `max_line_bytes` refused and skipped), each decoded and parsed where it lies, with no `Line` made first. Blank
    lines are not records and are passed over.

    A `Block` of the file is read with its own `first_row`; only the file's first (`at_start`) may begin with a BOM.
    """
    es = fmt == RecordFormat.es
    loads, not_json = orjson.loads, orjson.JSONDecodeError
    first = at_start

    def record(row: int, data: bytes) -> SourceRecord | None:
        nonlocal first
        try:
            text, decoded_as = data.decode(), None
        except UnicodeDecodeError:
            text, decoded_as = _decode(data)
        if first:
            first = False
            if text.startswith(BOM):
                text = text[1:]
                data = text.encode()
        if not text or text.isspace():
            return None
        if "\x00" in text or "\\u0000" in text:
            return SourceRecord(row, text, None, decoded_as, NUL_PROBLEM)
        try:
            value = loads(data if decoded_as is None else text)
        except not_json as exc:
            return SourceRecord(row, text, None, decoded_as, f"the line is not JSON: {exc}")
        if value.__class__ is not dict:
            problem = f"the line is a JSON {type(value).__name__}, not an object"
            return SourceRecord(row, text, None, decoded_as, problem)
        if es and value.get("_source").__class__ is not dict:
            problem = "the line is not an Elasticsearch hit: it has no _source object"
            return SourceRecord(row, text, None, decoded_as, problem)
        return SourceRecord(row, text, value, decoded_as)

    for row, data in raw_lines(chunks, max_line_bytes=max_line_bytes, first_row=first_row):
        if isinstance(data, int):
            first = False
            yield SourceRecord(row, "", None, problem=_too_long(data, max_line_bytes))
        elif (made := record(row, data)) is not None:
            yield made


@dataclass(slots=True)
class Block:
    """Whole lines of a file, from its line `first_row`, for `json_records` to read where it likes (another
    process, say)."""

    first_row: int
    data: bytes
    at_start: bool

    @property
    def lines(self) -> int:
        return self.data.count(b"\n") + (0 if self.data.endswith(b"\n") else 1)


def line_blocks(chunks: Iterable[bytes], *, max_line_bytes: int, block_bytes: int) -> Iterator[Block | SourceRecord]:
    """The file cut into blocks of whole lines of about `block_bytes` each, in order. A line longer than
    `max_line_bytes` that a block cannot hold whole is refused here (a SourceRecord with its problem) and skipped
    without being held, as `lines` refuses it; a shorter over-long line inside a block is refused by its reader.
    Memory stays within a block and a line."""
    row, held, size, at_start = 1, [], 0, True
    skipping, skipped = False, 0
    for chunk in chunks:
        if skipping:
            end = chunk.find(b"\n")
            if end < 0:
                skipped += len(chunk)
                continue
            yield SourceRecord(row, "", None, problem=_too_long(skipped + end, max_line_bytes))
            row, skipping, at_start, chunk = row + 1, False, False, chunk[end + 1 :]
        held.append(chunk)
        size += len(chunk)
        if size < block_bytes and size <= max_line_bytes:
            continue
        data = b"".join(held)
        end = data.rfind(b"\n")
        if end >= 0:
            block = Block(row, data[: end + 1], at_start)
            yield block
            row, at_start, data = row + block.lines, False, data[end + 1 :]
        if len(data) > max_line_bytes:  # no line end within a line's length: the line is too long
            skipping, skipped, held, size = True, len(data), [], 0
        else:
            held, size = [data], len(data)
    if skipping:
        yield SourceRecord(row, "", None, problem=_too_long(skipped, max_line_bytes))
    elif size:
        yield Block(row, b"".join(held), at_start)


def _too_long(size: int, max_line_bytes: int) -> str:
    return f"the line is {size:,} bytes long; a record may be at most {max_line_bytes:,} bytes"


def csv_header(first: Line) -> list[str]:
    if first.text is None:
        raise FileRefused(f"the CSV header (line 1) cannot be read: {first.problem}")
    return next(csv.reader([first.text]), [])


def csv_records(source: Iterator[Line], *, max_line_bytes: int) -> Iterator[SourceRecord]:
    """A CSV with a header row (row 1): each record's values by column name. A record whose quoted field runs over
    several lines is one record, at the row of its first line, with all its lines as its text."""
    first = next(source, None)
    if first is None:
        return
    header = csv_header(first)
    taken: list[Line] = []

    def feed() -> Iterator[str]:
        for line in source:
            taken.append(line)
            if line.text is not None:  # a refused line is reported with the record it falls in
                yield line.text + "\n"

    reader = csv.reader(feed(), strict=False)
    limit = csv.field_size_limit()
    csv.field_size_limit(max(max_line_bytes, limit))
    try:
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:
                bad, taken[:] = list(taken), []
                text = "\n".join(line.text or "" for line in bad)
                yield SourceRecord(bad[0].row if bad else 0, text, None, None, f"the CSV line cannot be read: {exc}")
                continue
            lines_of, taken[:] = list(taken), []
            for refused in (line for line in lines_of if line.text is None):
                yield SourceRecord(refused.row, "", None, problem=refused.problem)
            lines_of = [line for line in lines_of if line.text is not None]
            if not lines_of or not any(cells):
                continue  # a blank line
            text = "\n".join(line.text or "" for line in lines_of)
            decoded = next((line.decoded_as for line in lines_of if line.decoded_as), None)
            if "\x00" in text:  # in a CSV, the six characters \u0000 are text
                yield SourceRecord(lines_of[0].row, text, None, decoded, NUL_PROBLEM)
                continue
            if len(cells) > len(header):
                problem = f"the line has {len(cells)} fields, the header {len(header)}"
                yield SourceRecord(lines_of[0].row, text, None, decoded, problem)
                continue
            values: dict[str, str] = {}
            for name, cell in zip(header, cells, strict=False):
                values.setdefault(name, cell)
            yield SourceRecord(lines_of[0].row, text, values, decoded)
    finally:
        csv.field_size_limit(limit)


def records(source: Source, fmt: RecordFormat, *, max_line_bytes: int) -> Iterator[SourceRecord]:
    if fmt == RecordFormat.csv:
        return csv_records(lines(source.chunks(), max_line_bytes=max_line_bytes), max_line_bytes=max_line_bytes)
    return json_records(source.chunks(), fmt, max_line_bytes=max_line_bytes)


def sniff(head: bytes) -> tuple[RecordFormat, bool]:
    """The format of a file from its first bytes (inflated first if it is a gzip), and whether it is a gzip: JSON
    objects per line are an Elasticsearch export when the first has _source, else JSON Lines; anything else is
    read as a CSV."""
    compressed = head[:2] == GZIP_MAGIC
    if compressed:
        head = _partial_inflate(head)
    text = codecs.decode(head[: 64 * 1024], "utf-8", errors="replace").lstrip(BOM).lstrip()
    if not text.startswith("{"):
        return RecordFormat.csv, compressed
    first = text.split("\n", 1)[0]
    try:
        value = orjson.loads(first)
    except orjson.JSONDecodeError:
        return (RecordFormat.es if '"_source"' in first else RecordFormat.jsonl), compressed
    es = isinstance(value, dict) and isinstance(value.get("_source"), dict)
    return (RecordFormat.es if es else RecordFormat.jsonl), compressed


def _partial_inflate(data: bytes) -> bytes:
    """As much of a gzip's start as its first bytes inflate to (a head cut short is not an error here)."""
    try:
        return zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(data, 64 * 1024)
    except zlib.error:
        return b""
