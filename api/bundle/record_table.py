"""A record table as the template prints it: rows numbered, cells cut only past the cell limit, rows dealt into pages
up to the page limit for a printed table, each page of a split table captioned, and what is not printed said in
words (the exhibit is then "truncated")."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import chain, islice

from api.bundle import tables
from api.bundle.spec import RecordLimits
from api.originals.text import CUT_MARK, cut


@dataclass(frozen=True)
class Numbering:
    """The first column of a record table: its name, what its numbers mean, and how a run of them reads."""

    label: str  # "Row"
    meaning: str  # "the row's number when the file is opened in a spreadsheet (...)"
    span: str  # "spreadsheet rows {first:,} to {last:,}"


SPREADSHEET_ROWS = Numbering(
    "Row",
    "the row's number when the file is opened in a spreadsheet (row 1 holds the column names)",
    "spreadsheet rows {first:,} to {last:,}",
)
FILE_LINES = Numbering("Line", "the record's line in the file", "lines {first:,} to {last:,} of the file")


def table_view(
    headers: list[str],
    rows: Iterable[tuple[int, list[str]]],
    limits: RecordLimits,
    numbering: Numbering,
    *,
    noted: bool = False,
) -> dict:
    """The view of a table whose rows come as (number, cells). Rows are read no further than the page limit
    allows; the rest are only counted. `noted`: a note will open the table whatever it holds."""
    rows = iter(rows)

    def numbered(number: int, cells: list[str]) -> tuple[list[str], int]:
        shortened = [cut(c, limits.cell_chars) for c in cells]
        return [str(number), *shortened], sum(a is not b for a, b in zip(shortened, cells, strict=True))

    head = [numbering.label, *(cut(h, limits.cell_chars) for h in headers)]
    sample = [numbered(n, cells) for n, cells in islice(rows, tables.MEASURED_ROWS)]
    table = tables.layout(head, [row for row, _ in sample])
    pager = tables.Pager(table, head, limits.table_pages, noted=noted)
    kept: list[list[str]] = []
    shortened: list[int] = []  # cells cut short, row by row
    left: list[int] | None = None  # rows not printed: the first one's number, how many, the last one's number
    pending = chain(iter(sample), (numbered(n, cells) for n, cells in rows))
    for row, cuts in pending:
        if not pager.add(row):
            left = [int(row[0]), 1, int(row[0])]
            break
        kept.append(row)
        shortened.append(cuts)
    if left is not None:  # counted without being cut or measured: the generator above stopped at this row
        rest = chain((int(row[0]) for row, _ in sample[len(kept) + 1 :]), (n for n, _ in rows))
        for number in rest:
            left[1] += 1
            left[2] = number
    if (left is not None or any(shortened)) and not noted:
        # A note saying what is left off will open the table: the rows are dealt again, with room for it.
        pager = tables.Pager(table, head, limits.table_pages, noted=True)
        fits = next((i for i, row in enumerate(kept) if not pager.add(row)), len(kept))
        if fits < len(kept):
            dropped, kept, shortened = kept[fits:], kept[:fits], shortened[:fits]
            last = left[2] if left else int(dropped[-1][0])
            left = [int(dropped[0][0]), len(dropped) + (left[1] if left else 0), last]
    cells_cut = sum(shortened)
    losses = []
    if left is not None:
        total = len(kept) + left[1]
        span = numbering.span.format(first=left[0], last=left[2])
        losses.append(
            f"records {len(kept) + 1:,} to {total:,} of {total:,} ({span}) are not printed: the table would run "
            f"past the {limits.table_pages:,}-page limit for a printed table"
        )
    if cells_cut:
        losses.append(
            f"{cells_cut:,} {'cells' if cells_cut > 1 else 'cell'} longer than {limits.cell_chars:,} characters "
            f"{'are' if cells_cut > 1 else 'is'} cut short, marked {CUT_MARK.strip()}"
        )
    return {
        "type": "table",
        "landscape": table.landscape,
        "size": f"t{table.size:g}",
        "headers": head,
        "numeric": _numeric(kept, len(head)),
        "groups": [{"columns": g.columns, "percents": g.percents} for g in table.groups],
        "runs": _runs(kept, pager.runs, table, head, numbering),
        "split": table.split,
        "key": _key(numbering, table, head),
        "losses": losses,
        "pages": pager.pages,
    }


def _runs(kept: list[list[str]], counts: list[int], table: tables.Layout, head: list[str], numbering) -> list[dict]:
    """The rows of each run of pages (a page, or for a split table one page per group); for a split table, each
    page's caption (which rows, which columns)."""
    runs, start, columns = [], 0, len(head) - 1
    for count in counts:
        rows = kept[start : start + count]
        start += count
        if not rows:
            continue
        if not table.split:  # one table, its rows flowing from page to page: the runs only say where a render ends
            runs.append({"rows": rows, "captions": [None]})
            continue
        captions = []
        for n, group in enumerate(table.groups, 1):
            first, last = group.first, group.last
            caption = (
                f"{numbering.label}s {int(rows[0][0]):,}\u2013{int(rows[-1][0]):,} \u00b7 columns {first}\u2013{last} "
                f"of {columns} ({tables.column_name(first)}\u2013{tables.column_name(last)}) \u00b7 page {n} of "
                f"{len(table.groups)} for these {numbering.label.lower()}s"
            )
            if group.key_repeated:
                key = table.key
                assert key is not None  # a group repeats the key column only of a table that has one
                caption += f" \u00b7 column {tables.column_name(key)} ({head[key]}) repeated at left"
            captions.append(caption)
        runs.append({"rows": rows, "captions": captions})
    return runs


def _key(numbering: Numbering, table: tables.Layout, head: list[str]) -> str:
    """The line above the table that says what its first column is, and how a split table is printed."""
    key = f"{numbering.label}: {numbering.meaning}."
    if table.split:
        repeated = f" and column {tables.column_name(table.key)} ({head[table.key]})" if table.key else ""
        key += (
            f" The {len(head) - 1} columns do not fit across one page: each run of "
            f"{numbering.label.lower()}s is printed on {len(table.groups)} pages in a row, one per group of "
            f"columns, each repeating the {numbering.label.lower()} number{repeated}."
        )
    return key


def _numeric(rows: list[list[str]], columns: int) -> list[bool]:
    """Columns whose every filled cell is a number or an amount: set right-aligned, so digits line up."""
    out = []
    for i in range(columns):
        cells = [row[i].strip() for row in rows if i < len(row) and row[i].strip()]
        out.append(bool(cells) and all(_NUMBER.fullmatch(cell) for cell in cells))
    return out


_NUMBER = re.compile(r"[-+(]?[$€£]?\d[\d,]*(\.\d+)?\)?%?")
