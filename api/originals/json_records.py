"""A JSON or JSON Lines original read as what it holds: a JSON document pretty-printed; JSON Lines as a table of its
records when they are objects with few keys in all and every value fits a cell whole, else one pretty-printed block
per record; anything else line by line, the lines that are JSON pretty-printed."""

import json
from dataclasses import dataclass

# JSON Lines whose records are objects with at most this many keys in all read best as a table, one row each.
MAX_COLUMNS = 16


@dataclass
class JsonRead:
    """Either a table (columns, and rows as (line in the file, cells)) or a text."""

    text: str | None = None
    columns: list[str] | None = None
    rows: list[tuple[int, list[str]]] | None = None


def read_json(text: str, cut_short: bool, cell_chars: int) -> JsonRead:
    """`cut_short`: the text is the start of a longer file (its last line may be cut). A table is made only when no
    column name or value is longer than `cell_chars`: nothing is hidden by the table."""
    if not cut_short:
        try:
            return JsonRead(text=json.dumps(json.loads(text), indent=2, ensure_ascii=False))
        except (ValueError, RecursionError):
            pass  # not one document: JSON Lines, or not JSON at all
    if cut_short:
        text = text[: text.rfind("\n") + 1]  # the last line was cut short: it is left out, not shown in half
    # Split on line feeds only: a JSON string may hold U+2028 and the like, which splitlines() would cut at.
    numbered = [(n, line.strip()) for n, line in enumerate(text.split("\n"), 1) if line.strip()]
    records = [line for _, line in numbered]
    values = [_loads(line) for line in records]
    if values and all(value is not _NOT_JSON for value in values):
        table = _table(values, [n for n, _ in numbered], cell_chars)
        if table is not None:
            return table
        return JsonRead(text="\n\n".join(_dumps(value, line) for line, value in zip(records, values, strict=True)))
    lines = []
    for line in text.splitlines():
        value = _loads(line) if line.strip() else _NOT_JSON
        lines.append(line if value is _NOT_JSON else _dumps(value, line))
    return JsonRead(text="\n".join(lines))


def _table(values: list, lines: list[int], cell_chars: int) -> JsonRead | None:
    """One row per record, one column per key (in the order first seen), or None when that would hide
    something: a record that is not an object, too many keys, or a value too long for a cell."""
    if not all(isinstance(value, dict) for value in values):
        return None
    columns = list(dict.fromkeys(key for value in values for key in value))
    if not columns or len(columns) > MAX_COLUMNS or any(len(c) > cell_chars for c in columns):
        return None
    try:
        rows = [[_cell(value[key]) if key in value else "" for key in columns] for value in values]
    except (ValueError, RecursionError):
        return None
    if any(len(c) > cell_chars for row in rows for c in row):
        return None
    return JsonRead(columns=columns, rows=list(zip(lines, rows, strict=True)))


_NOT_JSON = object()


def _loads(line: str):
    try:
        return json.loads(line)
    except (ValueError, RecursionError):
        return _NOT_JSON


def _dumps(value, line: str) -> str:
    try:
        return json.dumps(value, indent=2, ensure_ascii=False)
    except (ValueError, RecursionError):
        return line


def _cell(value) -> str:
    """Strings as they are; numbers, true, false, null and nested values as JSON text."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
