"""The load files a review platform (Relativity, Concordance) imports a production from.

- DAT (Concordance): a header row, then a row per document; fields separated by ASCII 20 (0x14) and each wrapped in
  þ (U+00FE); a line end inside a field is written ® (U+00AE); rows end in CRLF. UTF-8 with a BOM, or Windows-1252
  (a character it cannot hold becomes "?").
- OPT (Opticon): a line per page, `BATES,VOLUME,IMAGEPATH,Y,,,PAGECOUNT` on a document's first page (Y and its page
  count), `BATES,VOLUME,IMAGEPATH,,,,` on the others. In a PDF production every page's line names its document's PDF.
Paths in both are relative to the production's root, with backslashes, as the platforms expect.
"""

from collections.abc import Iterable
from dataclasses import dataclass

FIELD_SEPARATOR = "\x14"
QUALIFIER = "\u00fe"
NEWLINE = "\u00ae"
DAT_FIELDS = (
    "BEGBATES", "ENDBATES", "BEGATTACH", "ENDATTACH", "CUSTODIAN", "FILENAME", "FILEEXT", "MD5HASH", "SHA256HASH",
    "DATESENT", "DATECREATED", "PAGECOUNT", "NATIVEPATH", "TEXTPATH", "CONFIDENTIALITY", "REDACTED", "WITHHELD",
)  # fmt: skip


def load_path(path: str) -> str:
    """A path in the ZIP (IMAGES/A.pdf) as a load file writes it (IMAGES\\A.pdf)."""
    return path.replace("/", "\\")


def _cell(value: str) -> str:
    text = value.replace("\r\n", "\n").replace("\r", "\n").replace("\n", NEWLINE)
    return QUALIFIER + text.replace(QUALIFIER, "") + QUALIFIER


def dat(rows: Iterable[dict[str, str]], encoding: str) -> bytes:
    """The DAT file of these documents' fields (a field missing from a row is empty)."""
    lines = [FIELD_SEPARATOR.join(_cell(name) for name in DAT_FIELDS)]
    for row in rows:
        lines.append(FIELD_SEPARATOR.join(_cell(row.get(name, "")) for name in DAT_FIELDS))
    text = "\r\n".join(lines) + "\r\n"
    if encoding == "utf-8":
        return "\ufeff".encode() + text.encode("utf-8")
    return text.encode("cp1252", errors="replace")


@dataclass(frozen=True)
class OptPage:
    bates: str
    image_path: str  # in the ZIP: IMAGES/...
    first: bool
    pages: int  # the document's page count (written on its first page only)


def opt(pages: Iterable[OptPage], volume: str) -> bytes:
    lines = []
    for page in pages:
        path = load_path(page.image_path)
        if page.first:
            lines.append(f"{page.bates},{volume},{path},Y,,,{page.pages}")
        else:
            lines.append(f"{page.bates},{volume},{path},,,,")
    return ("\r\n".join(lines) + "\r\n").encode("cp1252", errors="replace")
