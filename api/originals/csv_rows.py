"""A CSV original read row by row: its columns named, every row as long as the header, and where it stops being
CSV. Rows are read as they are taken, so a file of any length costs what its reader keeps of it."""

import csv
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path

from api.originals.text import NOT_UTF8, sniff_encoding

# A CSV field may be as long as this (Python's default, 128 KiB, fails on long notes); a longer one ends the table.
FIELD_LIMIT = 64 << 20
# The column count is the header's, or the longest of this many first rows', whichever is more.
COUNTED_ROWS = 1000


@dataclass
class CsvRows:
    columns: list[str]
    rows: Iterator[tuple[int, list[str]]]  # (spreadsheet row number, cells); row 1 holds the column names
    note: str | None  # the encoding, when it is not UTF-8
    _broken: list[int] = field(default_factory=list)

    @property
    def broken_note(self) -> str | None:
        """Where the file stopped being CSV, once the rows have been read that far."""
        if not self._broken:
            return None
        return f"from spreadsheet row {self._broken[0]:,} on, the file cannot be read as CSV"


@contextmanager
def csv_rows(path: Path) -> Iterator[CsvRows]:
    """The file's columns and rows, for the length of the block."""
    encoding = sniff_encoding(path)
    csv.field_size_limit(max(csv.field_size_limit(), FIELD_LIMIT))
    broken: list[int] = []
    with open(path, encoding=encoding, errors="replace", newline="") as f:
        reader = csv.reader(f)
        try:
            headers = next(reader, [])
        except csv.Error:
            headers, broken = [], [1]

        def numbered():
            number = 1
            while not broken:
                try:
                    cells = next(reader)
                except StopIteration:
                    return
                except csv.Error:
                    broken.append(number + 1)
                    return
                number += 1
                yield number, cells

        rows = _even(headers, numbered())
        yield CsvRows(next(rows), rows, NOT_UTF8 if encoding == "cp1252" else None, broken)


def _even(headers: list[str], rows):
    """The column names, then each (number, cells) with as many cells as there are columns: a short row is padded,
    a long row's extra fields go into its last cell, separated by " | ". Columns without a name are named by
    their place."""
    first = list(islice(rows, COUNTED_ROWS))
    count = max([len(headers), *(len(cells) for _, cells in first)])
    yield [h or f"(column {i})" for i, h in enumerate([*headers, *[""] * (count - len(headers))], 1)]
    for number, cells in chain(first, rows):
        if len(cells) > count:
            cells = [*cells[: count - 1], " | ".join(cells[count - 1 :])]
        yield number, [*cells, *[""] * (count - len(cells))]
