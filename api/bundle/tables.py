"""How a record table (a CSV, JSON Lines) is laid out on paper: type size, page orientation, columns split into
groups that fit across a page, and which rows go on which pages.

Type is never below 8 pt. A table whose columns fit across a page is printed whole, at 9 pt if it can be, its rows
flowing from page to page under a repeated header row. One too wide even at 8 pt is split into column groups, each
across a landscape page, and printed "over, then down": for each run of rows, one page per group, so a row's columns
are on consecutive pages. Every page of a group repeats the row number and the table's key column (see key_column),
under a caption naming its rows and columns.

Sizes and heights are measured in the face the tables are set in (DejaVu Sans), in the points bundle.css gives them;
the rows a page holds are estimated from those measurements, with room to spare.
"""

import math
import re
from dataclasses import dataclass

from api.bundle.measure import advances, em, line_count, pieces

# (type size, the points a column needs beside its text: padding each side, the rule, a little for rounding), as
# bundle.css sets the classes t9 and t8.
SIZES = ((9.0, 7.0), (8.0, 5.0))
LINE = 1.2  # line height, in em (bundle.css sets it for record tables, so heights can be worked out)
ROW_EXTRA = 3.5  # a row's vertical padding and rule, in points
# The area a table has: a letter page inside bundle.css's margins, less the body's default 8 px margin each side.
PAGE_WIDTHS = {False: 513.0, True: 693.0}  # portrait, landscape
PAGE_HEIGHTS = {False: 643.0, True: 463.0}
# Room the first page of a table gives to what opens it: the record's heading and the key line, and a note (what
# the file's encoding is, what is not printed) when there is one.
HEAD_ROOM, NOTE_ROOM = 60.0, 80.0
CAPTION = 16.0  # the caption above each page of a column group
FILL = 0.95  # the share of a page's estimated room that is filled: the estimate may be a little short
WORD_SHARE = 0.25  # one word may claim up to this share of the page; a longer one wraps where it must
MEASURED_ROWS = 1000
MEASURED_CHARS = 120
MAX_PORTRAIT_COLUMNS = 6  # more go across a landscape page
CHOICES = 3  # group counts tried for a split table, from the fewest that fit
CHOICE_ROWS = 200  # rows its pages are estimated from
MAX_BALANCED = 300  # columns past which groups are filled in order rather than balanced


@dataclass
class Group:
    """One page's worth of columns: indexes into a row (0 is the row number), their widths in percent and in
    points, and the data columns it stands for (1-based, first and last)."""

    columns: list[int]
    percents: list[float]
    points: list[float]
    first: int
    last: int
    key_repeated: bool


@dataclass
class Layout:
    size: float
    landscape: bool
    groups: list[Group]
    key: int | None  # the data column repeated on every group's pages, when the table is split

    @property
    def split(self) -> bool:
        return len(self.groups) > 1


def layout(headers: list[str], rows: list[list[str]]) -> Layout:
    """Type size, orientation and column groups for a table whose row[0] is its row number."""
    count = len(headers)
    words, lines = _measure(headers, rows)

    def least(size: float, padding: float, page: float, i: int) -> float:
        # A little over the word's measured width: the renderer must never find it a hair too wide to fit.
        return min(words[i] * size * 1.02 + 0.5, page * WORD_SHARE) + padding

    def fits(size, padding, landscape) -> bool:
        page = PAGE_WIDTHS[landscape]
        return sum(least(size, padding, page, i) for i in range(count)) <= page

    landscape = count > MAX_PORTRAIT_COLUMNS or not fits(*SIZES[0], False)
    for size, padding in SIZES:
        if fits(size, padding, landscape):
            page = PAGE_WIDTHS[landscape]
            mins = [least(size, padding, page, i) for i in range(count)]
            group = _group(list(range(count)), mins, lines, size, padding, page, (1, count - 1), False)
            return Layout(size, landscape, [group], None)
    size, padding = SIZES[-1]
    page = PAGE_WIDTHS[True]
    mins = [least(size, padding, page, i) for i in range(count)]
    key = key_column(headers, mins, page)
    wanted = [max(m, min(n * size + padding, page * WORD_SHARE)) for m, n in zip(mins, lines, strict=True)]

    def split(spans: list[tuple[int, int]]) -> Layout:
        groups = []
        for first, last in spans:
            repeated = key is not None and not first <= key <= last
            columns = [0, *([key] if repeated else []), *range(first, last + 1)]
            groups.append(_group(columns, mins, lines, size, padding, page, (first, last), repeated))
        return Layout(size, True, groups, key)

    # The fewest groups that fit may squeeze long text into narrow columns, rows many lines tall: a group or two
    # more can take fewer pages. Of up to CHOICES group counts, the one whose pages the first rows fill fewest.
    fewest = len(_spans(mins, key, count))
    candidates = [split(spans) for g in range(fewest, fewest + CHOICES) if (spans := _partition(mins, wanted, key, g))]
    return min(candidates, key=lambda table: (_pages(table, headers, rows[:CHOICE_ROWS]), len(table.groups)))


def _pages(table: Layout, headers: list[str], rows: list[list[str]]) -> float:
    pager = Pager(table, headers, 10**9)
    for row in rows:
        pager.add(row)
    return pager.pages


def _measure(headers: list[str], rows: list[list[str]]) -> tuple[list[float], list[float]]:
    """Per column, in em: its longest unbreakable run and its longest line (headers bold, cells regular)."""
    regular, bold = advances(False), advances(True)
    words = [max((em(p, bold) for p in pieces(h)), default=0.0) for h in headers]
    lines = [max((em(line, bold) for line in h.splitlines()), default=0.0) for h in headers]
    for row in rows[:MEASURED_ROWS]:
        for i, cell in enumerate(row[: len(headers)]):
            if cell:
                cell = cell[:MEASURED_CHARS]
                words[i] = max(words[i], max((em(p, regular) for p in pieces(cell)), default=0.0))
                lines[i] = max(lines[i], max((em(line, regular) for line in cell.splitlines()), default=0.0))
    return words, lines


# Words of a column name that say it identifies a record: "Order ID", "amazon-order-id", "Transaction ID",
# "Invoice Number", "Ref", "#".
_KEY_WORDS = {"id", "ids", "number", "no", "num", "nr", "ref", "reference", "key", "#", "uuid", "guid"}
_NAME_WORDS = re.compile(r"#|[0-9]+|[A-Z]+(?![a-z])|[A-Z]?[a-z]+")


def key_column(headers: list[str], mins: list[float], page: float) -> int | None:
    """The column repeated on every page of a split table, beside the row number: the leftmost whose name says it
    identifies a record ("Order ID", "Transaction ID", "invoice-number"), else the first column; none if that
    column's words would take more than a quarter of the page."""
    named = [i for i in range(1, len(headers)) if {w.lower() for w in _NAME_WORDS.findall(headers[i])} & _KEY_WORDS]
    key = named[0] if named else 1
    return key if key < len(headers) and mins[key] <= page * WORD_SHARE else None


def _need(widths: list[float], key: int | None, first: int, last: int) -> float:
    """Width a group of data columns first..last (1-based, inclusive) takes, with the row number and, if it lacks
    it, the key column."""
    extra = widths[key] if key is not None and not first <= key <= last else 0.0
    return widths[0] + extra + sum(widths[first : last + 1])


def _spans(mins: list[float], key: int | None, count: int) -> list[tuple[int, int]]:
    """Data columns 1..count in as few contiguous groups as fit across a landscape page, filled in order."""
    spans, first = [], 1
    while first <= count:
        last = first
        while last < count and _need(mins, key, first, last + 1) <= PAGE_WIDTHS[True]:
            last += 1
        spans.append((first, last))
        first = last + 1
    return spans


def _partition(mins: list[float], wanted: list[float], key: int | None, groups: int) -> list[tuple[int, int]] | None:
    """Data columns in `groups` contiguous groups that fit across a landscape page, balanced so that no group's
    columns get much less of the room they want than another's; None if they cannot be."""
    page, count = PAGE_WIDTHS[True], len(mins) - 1
    if groups > count:
        return None
    if count > MAX_BALANCED:
        spans = _spans(mins, key, count)
        return spans if len(spans) == groups else None
    # best[g][j]: the least worst share of a page wanted by any group, splitting columns 1..j into g groups.
    inf = float("inf")
    best = [[inf] * (count + 1) for _ in range(groups + 1)]
    cut = [[0] * (count + 1) for _ in range(groups + 1)]
    best[0][0] = 0.0
    for g in range(1, groups + 1):
        for j in range(g, count + 1):
            for i in range(g - 1, j):
                if best[g - 1][i] == inf or _need(mins, key, i + 1, j) > page:
                    continue
                worst = max(best[g - 1][i], _need(wanted, key, i + 1, j) / page)
                if worst < best[g][j]:
                    best[g][j], cut[g][j] = worst, i
    if best[groups][count] == inf:
        return None
    spans, j = [], count
    for g in range(groups, 0, -1):
        i = cut[g][j]
        spans.append((i + 1, j))
        j = i
    return spans[::-1]


def _group(columns, mins, lines, size, padding, page, span, repeated) -> Group:
    """Widths for one group's columns: each gets room for its longest word, so cells wrap only between words;
    what is left goes to the columns whose text runs longer (names, addresses, notes), in proportion to the extra
    they need. If the words overrun the page, the widest are trimmed to a common width."""
    smallest = _level_down([mins[i] for i in columns], page)
    natural = [max(m, lines[i] * size + padding) for m, i in zip(smallest, columns, strict=True)]
    if sum(natural) <= page:
        points = [w * page / sum(natural) for w in natural]
    else:
        spare = page - sum(smallest)
        wanted = [n - m for n, m in zip(natural, smallest, strict=True)]
        points = [m + spare * w / sum(wanted) for m, w in zip(smallest, wanted, strict=True)]
    percents = [round(100 * w / page, 2) for w in points]
    inner = [w - padding for w in points]
    return Group(columns, percents, inner, span[0], span[1], repeated)


def _level_down(widths: list[float], page: float) -> list[float]:
    if sum(widths) <= page:
        return widths
    rest = page
    ordered = sorted(widths)
    for n, width in enumerate(ordered):
        level = rest / (len(ordered) - n)
        if width > level:
            return [min(w, level) for w in widths]
        rest -= width
    return widths


class Pager:
    """Deals rows into runs that fill a page in every group, as rows are added, up to a number of pages."""

    def __init__(self, table: Layout, headers: list[str], max_pages: int, *, noted: bool = False):
        self.table, self.regular, self.size = table, advances(False), table.size
        self.max_pages = max_pages  # the first run is always placed, however many groups it takes
        self.over = 0  # pages that rows taller than a page run on over
        self.opening = HEAD_ROOM + (NOTE_ROOM if noted else 0.0)
        bold = advances(True)
        room = PAGE_HEIGHTS[table.landscape] - (CAPTION if table.split else 0.0)
        self.room = []
        for group in table.groups:
            cells = zip(group.columns, group.points, strict=True)
            head = max(line_count(headers[c], w / self.size, bold) for c, w in cells)
            self.room.append((room - self._height(head)) * FILL)
        self.runs: list[int] = []  # how many rows each run holds
        self._used = [0.0] * len(table.groups)

    def _height(self, lines: int) -> float:
        return lines * LINE * self.size + ROW_EXTRA

    def add(self, row: list[str]) -> bool:
        """Place the row, in the current run or a new one; False, with nothing placed, past the page limit."""
        heights = [
            self._height(
                max(
                    line_count(row[c] if c < len(row) else "", w / self.size, self.regular)
                    for c, w in zip(group.columns, group.points, strict=True)
                )
            )
            for group in self.table.groups
        ]
        first = self.opening if len(self.runs) == 1 else 0.0
        full = any(u + h > r - first for u, h, r in zip(self._used, heights, self.room, strict=True))
        # A row taller than a page (a long note in a narrow column) runs on over the pages it needs.
        over = sum(math.ceil(h / r) - 1 for h, r in zip(heights, self.room, strict=True) if h > r)
        if not self.runs or (full and self.runs[-1]):
            if (len(self.runs) + 1) * len(heights) + self.over + over > self.max_pages and self.runs:
                return False
            self.runs.append(0)
            self._used = [0.0] * len(heights)
        elif self.pages + over > self.max_pages:
            return False
        self.over += over
        self.runs[-1] += 1
        self._used = [u + h for u, h in zip(self._used, heights, strict=True)]
        return True

    @property
    def pages(self) -> int:
        return len(self.runs) * len(self.table.groups) + self.over


def column_name(number: int) -> str:
    """A spreadsheet's name for its `number`th column (1 is A, 27 is AA)."""
    name = ""
    while number:
        number, rest = divmod(number - 1, 26)
        name = chr(65 + rest) + name
    return name
