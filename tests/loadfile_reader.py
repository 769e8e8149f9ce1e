"""A small reader of Concordance DAT and Opticon OPT files, written from the formats' descriptions and nothing of
casebinder's own, as a review platform would read a production."""

from dataclasses import dataclass

DELIMITER = 0x14
QUOTE = "\u00fe"
NEWLINE_MARK = "\u00ae"


def read_dat(data: bytes, encoding: str) -> list[dict[str, str]]:
    """The rows of a DAT file as dicts by its header's field names."""
    if encoding == "utf-8":
        assert data.startswith(b"\xef\xbb\xbf"), "a UTF-8 DAT starts with a byte order mark"
        text = data[3:].decode("utf-8")
    else:
        text = data.decode(encoding)
    lines = text.split("\r\n")
    assert lines[-1] == "", "every row ends in CRLF"
    rows = []
    for line in lines[:-1]:
        cells = line.split(chr(DELIMITER))
        for cell in cells:
            assert cell.startswith(QUOTE) and cell.endswith(QUOTE) and len(cell) >= 2, repr(cell)
        rows.append([cell[1:-1].replace(NEWLINE_MARK, "\n") for cell in cells])
    header, *body = rows
    for row in body:
        assert len(row) == len(header), (header, row)
    return [dict(zip(header, row, strict=True)) for row in body]


@dataclass
class OptLine:
    bates: str
    volume: str
    path: str  # with forward slashes, relative to the production's root
    document_break: bool
    pages: int | None


def read_opt(data: bytes) -> list[OptLine]:
    out = []
    for line in data.decode("cp1252").split("\r\n"):
        if not line:
            continue
        parts = line.split(",")
        assert len(parts) == 7, line
        bates, volume, path, brk, _box, _folder, pages = parts
        out.append(OptLine(bates, volume, path.replace("\\", "/"), brk == "Y", int(pages) if pages else None))
    return out
