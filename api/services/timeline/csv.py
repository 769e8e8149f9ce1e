"""The chronology as CSV: streamed in keyset chunks, so a million events take the memory of one chunk.

Each chunk is read in a short transaction of its own (iter_chunks) while the previous one is formatted
(csv_block), with the citations of the whole export worked out once (ExportCitations).
"""

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

from api.db import session_scope
from api.event_clock import EventClock
from api.services.timeline.citations import CitedBundle, bates_cite, exhibit_refs, placements
from api.services.timeline.columns import EXPORT_ROW, as_uuid_text
from api.services.timeline.query import TimelineFilter, fetch, key_of
from api.services.timeline.rows import FORMULA_START
from models.case import Case

EXPORT_CHUNK = 5000  # rows per transaction and per block of the stream: bigger saves no time, costs memory
TAG_CELLS = 10_000  # distinct tag lists whose cell an export keeps
CSV_COLUMNS = (
    "occurred_at",
    "occurred_at_local",
    "precision",
    "date",
    "kind",
    "title",
    "description",
    "tags",
    "disputed",
    "source",
    "exhibit_label",
    "evidence_id",
    "page",
    "bates",
    "event_id",
    "bates_bundle_id",  # the bundle every bates value of the file comes from (the same on each row with one)
)


def cell(text: str | None) -> str:
    """One CSV field (RFC 4180). Text starting with = + - @ gets a ' first, so a spreadsheet shows it as text
    instead of running it as a formula."""
    if not text:
        return ""
    if text[0] in FORMULA_START:
        text = "'" + text
    if '"' in text or "," in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text


def csv_line(cells: list[str]) -> str:
    """A CSV row of these texts, each a `cell`, with the RFC 4180 line end."""
    return ",".join(cell(c) for c in cells) + "\r\n"


def tags_cell(raw: str | None) -> str:
    """Tags as "a, b"; as their JSON list when a tag holds a comma. `raw` is the stored JSON text."""
    if not raw or raw == "[]":
        return ""
    inner = raw[2:-2]
    # Fast path for the serialiser's own form, ["a", "b"]: no escapes, and every quote part of a ", " separator.
    if raw[:2] == '["' and raw[-2:] == '"]' and "\\" not in raw:
        bare = inner.replace('", "', "")
        if '"' not in bare:
            return cell(raw if "," in bare else inner.replace('", "', ", "))
    tags = json.loads(raw)
    return cell(json.dumps(tags) if any("," in t for t in tags) else ", ".join(tags))


def csv_block(
    rows: list[tuple], cites: dict, clock: EventClock, tag_cells: dict | None = None, bundle_id: str = ""
) -> str:
    """A chunk of EXPORT_COLUMNS driver rows as CSV text: the export's hot loop, run once per event.

    `cites` maps (evidence id, page) as fetched to (evidence id text, label, Bates cite); `tag_cells` keeps the
    cell of each tags text across chunks (an export has few distinct tag lists and a million rows); `bundle_id`
    is the cited bundle's id, written beside each Bates cite."""
    lines, when = [], clock.csv_fields
    tag_cells = {} if tag_cells is None else tag_cells
    for event_id, at, until, precision, title, description, kind, source, tags, disputed, evidence_id, page in rows:
        evidence, label, bates = cites[evidence_id, page] if evidence_id is not None else ("", None, None)
        tags_text = tag_cells.get(tags)
        if tags_text is None:
            if len(tag_cells) >= TAG_CELLS:
                tag_cells.clear()
            tags_text = tag_cells[tags] = tags_cell(tags)
        if len(event_id) == 32:  # SQLite's stored digits (uuid_any_text)
            event_id = f"{event_id[:8]}-{event_id[8:12]}-{event_id[12:16]}-{event_id[16:20]}-{event_id[20:]}"
        lines.append(
            f"{when(at, until, precision)},{kind},{cell(title)},{cell(description) if description else ''},"
            f"{tags_text},{'true' if disputed else 'false'},{source},{cell(label) if label else ''},{evidence},"
            f"{'' if page is None else page},{cell(bates) if bates else ''},{event_id},"
            f"{bundle_id if bates else ''}\r\n"
        )
    return "".join(lines)


class ExportCitations(dict):
    """(evidence id as fetched, page) -> (evidence id text, exhibit label, Bates cite) for an export, worked out
    the first time a row asks, from the case's exhibits and their Bates placements read once at the start."""

    LIMIT = 100_000  # distinct (evidence, page) pairs kept: an export's memory stays flat

    def __init__(self, refs: dict, placed: dict):
        super().__init__()
        self.refs, self.placed = refs, placed

    def __missing__(self, key: tuple) -> tuple:
        raw, page_number = key
        text = as_uuid_text(raw)
        ref = self.refs.get(text)
        label, cite = None, None
        if ref is not None:
            label = ref.label
            placed = self.placed.get(ref.id)
            cite = bates_cite(placed, page_number) if placed is not None else None
        if len(self) >= self.LIMIT:
            self.clear()
        self[key] = value = (text, label, cite)
        return value


def _export_chunk(case: Case, f: TimelineFilter, after, chunk: int) -> list:
    with session_scope() as session:
        return fetch(session, case.id, f, after=after, limit=chunk, columns="export")


def iter_chunks(
    case: Case, f: TimelineFilter, bundle: CitedBundle | None, *, chunk: int | None = None
) -> Iterator[tuple[list, dict]]:
    """The whole filtered chronology as (EXPORT_COLUMNS driver rows, citations) chunks, each read in its own
    short transaction, so an export streams without holding a transaction or more than two chunks in memory.
    Every chunk comes with the same ExportCitations, whose Bates cites all come from `bundle`.

    The next chunk is read on a thread of its own while the caller formats this one: the database walk (scattered
    row reads, the driver's tuples) and the formatting each take about half an export, and overlap."""
    chunk = chunk or EXPORT_CHUNK
    with session_scope() as session:
        # Every exhibit of the case and its Bates placement at once: as many as the case has exhibits, however
        # many events cite them.
        cites = ExportCitations(exhibit_refs(session, case.id, None), placements(session, bundle, None))
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-read") as reader:
        pending = reader.submit(_export_chunk, case, f, None, chunk)
        while True:
            rows = pending.result()
            if len(rows) == chunk:
                pending = reader.submit(_export_chunk, case, f, key_of(rows[-1], EXPORT_ROW), chunk)
            if rows:
                yield rows, cites
            if len(rows) < chunk:
                return


def csv_stream(case: Case, f: TimelineFilter, bundle: CitedBundle | None) -> Iterator[bytes]:
    """The header, then one encoded block per export chunk; never more than a chunk or two in memory. Every
    Bates cite comes from `bundle` (none without one)."""
    yield (",".join(CSV_COLUMNS) + "\r\n").encode()
    clock, bundle_id = EventClock(case.timezone), str(bundle.id) if bundle else ""
    tag_cells: dict[str, str] = {}
    for rows, cites in iter_chunks(case, f, bundle):
        yield csv_block(rows, cites, clock, tag_cells, bundle_id).encode()
