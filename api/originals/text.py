"""A text-like original's bytes as text: how much of it is read, and in which encoding."""

from pathlib import Path

# How much of a text-like original is read for a character limit: UTF-8 takes at most four bytes a character.
BYTES_PER_CHAR = 4
SNIFFED = 1 << 20  # the bytes a CSV's encoding is judged from
NOT_UTF8 = "The file is not UTF-8 text; it is read as Windows-1252, the encoding spreadsheets on Windows save in."
# Why a text-like original could not be read at all (each reader adds what follows from it).
UNREADABLE = "the file could not be read: it is damaged, or not in the form its type says"
CUT_MARK = " [...]"


def cut(value: str, limit: int) -> str:
    """A cell or header cut at the limit, marked so that the cut shows."""
    return value if len(value) <= limit else value[:limit] + CUT_MARK


def read_head(path: Path, limit: int) -> tuple[bytes, int]:
    """The first `limit` bytes of the file, and its size."""
    with open(path, "rb") as f:
        data = f.read(limit)
        size = f.seek(0, 2)
    return data, size


def line_count(path: Path) -> int:
    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))
        if f.seek(0, 2):
            f.seek(-1, 2)
            lines += f.read(1) != b"\n"
    return lines


def decode(data: bytes, cut_short: bool) -> tuple[str, str | None]:
    """UTF-8, else Windows-1252 (with a note saying so). A read cut inside a character loses only that character;
    text that is UTF-8 but for a few bad bytes stays UTF-8, those bytes shown as U+FFFD."""
    for trim in range(4 if cut_short else 1):
        try:
            return data[: len(data) - trim].decode("utf-8-sig"), None
        except UnicodeDecodeError:
            continue
    lenient = data.decode("utf-8-sig", errors="replace")
    bad = lenient.count("\ufffd")
    if sum(ord(ch) > 127 for ch in lenient) - bad > bad:  # more good multi-byte characters than bad bytes
        return lenient, None
    return data.decode("cp1252", errors="replace"), NOT_UTF8


def sniff_encoding(path: Path) -> str:
    """The codec a whole file is read with, judged from its first SNIFFED bytes by the rule of `decode`."""
    with open(path, "rb") as f:
        data = f.read(SNIFFED)
        more = bool(f.read(1))
    return "utf-8-sig" if decode(data, more)[1] is None else "cp1252"
