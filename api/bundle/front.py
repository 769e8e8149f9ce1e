"""Front matter and page numbers: where every page falls, the cover that prints the totals, the index's rows.

The index is drawn (index.py), so its length is known from its rows before any page is numbered; its rows' numbers
change only their own cells (digits all have one width). The covers are rendered by WeasyPrint, until their page
count matches the totals they print.
"""

from dataclasses import dataclass

from api.bundle import render, stamp
from api.bundle.index import Index
from api.bundle.lines import shown
from api.bundle.pieces import Sheet
from api.bundle.plan import Part
from api.bundle.render import Rendered, render_pdf
from api.bundle.spec import BuildSpec, PlacedExhibit

# The certificate's two sections, listed in the index after the exhibits: (key, index title).
CERTIFICATE_ROWS = (
    ("certificate", "Hash Certificate of Exhibits"),
    ("certification", "Certification of Records (Fed. R. Evid. 902(11), 902(14))"),
)
BATES_ROOM = 180.0  # points for one end of a range on the cover, "ACME000001 to", on one line
INDEX_TITLE_CHARS = 400  # five lines of the title column show fewer; the rest would only be measured


def bates_range(first: str, last: str) -> str:
    """A Bates range as printed: "to" between the ends, as a hyphen would be ambiguous after "FTC-RC000091"."""
    return first if first == last else f"{first} to {last}"


@dataclass
class IndexRow:
    key: int | str  # the exhibit's seq, or the certificate section the row points at
    label: str
    title: str
    kind: str
    date: str
    first: str  # Bates numbers of its own pages (an exhibit's after its slip sheet)
    last: str
    page: str  # where its first page is: "12", or "2:6" (volume 2, page 6) in a bundle of volumes
    volume: int


class Layout:
    """Numbers for every page: where each volume starts, each exhibit's range, the certificate's sections."""

    def __init__(
        self, spec: BuildSpec, volumes: list[list[Part]], fronts: list[int], cert_count: int, cert_starts: list[int]
    ):
        self.fronts = fronts
        self.cert_count, self.cert_starts = cert_count, cert_starts
        self.index_pages = 0  # set once numbered
        self.volume_pages: list[int] = []
        self.exhibits: dict[int, PlacedExhibit] = {}
        self.textless: list[int] = []
        self.awaiting_text: list[int] = []  # of those, the pages of exhibits whose text is still being read
        by_seq = {ex.seq: ex for ex in spec.exhibits}
        page = 1
        for number, parts in enumerate(volumes, 1):
            start = page
            page += fronts[number - 1]
            for part in parts:
                placed = self.exhibits.get(part.seq)
                if placed is None:
                    content = next((i for i, p in enumerate(part.pages) if p.first_content), 0)
                    source = by_seq[part.seq]
                    placed = self.exhibits[part.seq] = PlacedExhibit(
                        seq=part.seq,
                        start_page=page,
                        page_count=0,
                        first_content_page=page + content,
                        bates_first=spec.bates_start + page - 1,
                        bates_last=0,
                        volume=number,
                        rendering=source.rendering,
                        rendering_reason=source.rendering_reason,
                    )
                for ref in part.pages:
                    if not ref.has_text:
                        self.textless.append(spec.bates_start + page - 1)
                        if by_seq[part.seq].text_pending:
                            self.awaiting_text.append(spec.bates_start + page - 1)
                    page += 1
                placed.page_count = page - placed.start_page
                placed.bates_last = spec.bates_start + page - 2
            if number == len(volumes):
                page += cert_count
            self.volume_pages.append(page - start)
        self.total = page - 1

    def where(self, page: int, volume: int) -> str:
        """A page of the whole bundle as the index gives it: its number, or volume:page in a bundle of volumes."""
        if len(self.volume_pages) == 1:
            return str(page)
        return f"{volume}:{page - sum(self.volume_pages[: volume - 1])}"

    def rows(self, spec: BuildSpec) -> list[IndexRow]:
        """One row per exhibit, then one per certificate section. An exhibit's Bates range is its own pages, from
        the first after its slip sheet, as the chronology cites it; its page is where its slip sheet is."""
        rows = []
        for ex in spec.exhibits:
            placed = self.exhibits.get(ex.seq)
            if placed is None:
                continue
            content = placed.bates_first + placed.first_content_page - placed.start_page
            rows.append(
                IndexRow(
                    key=ex.seq,
                    label=ex.label,
                    title=shown(ex.index_title, INDEX_TITLE_CHARS),
                    kind=render.SHORT_KINDS.get(ex.kind, ex.kind),
                    date=ex.occurred_short or "",
                    first=spec.bates(content),
                    last=spec.bates(placed.bates_last),
                    page=self.where(placed.start_page, placed.volume),
                    volume=placed.volume,
                )
            )
        volume, first = len(self.volume_pages), self.total - self.cert_count + 1
        ends = [*self.cert_starts[1:], self.cert_count]
        for (key, title), start, end in zip(CERTIFICATE_ROWS, self.cert_starts, ends, strict=False):
            page, last = first + start, first + max(start, end - 1)
            bates_first, bates_last = (spec.bates(spec.bates_start + p - 1) for p in (page, last))
            rows.append(IndexRow(key, "", title, "", "", bates_first, bates_last, self.where(page, volume), volume))
        return rows


def index_notes(spec: BuildSpec, volumes: int) -> str:
    """What the index says about its columns: the dates' zone, what a Bates range covers, how a page reads."""
    zone = zone_name(spec)
    notes = [
        f"Dates are in the case time zone, {zone}; each slip sheet gives the exhibit's time with its zone and in UTC."
    ]
    if spec.slip_sheets:
        notes.append(
            "Each exhibit's Bates range covers its own pages, from the first page after its slip sheet to its last "
            "page, as the summary chronology cites them; Page is where its slip sheet is."
        )
    else:
        notes.append("Each exhibit's Bates range covers its pages, as the summary chronology cites them.")
    if volumes > 1:
        notes.append(
            f"Page numbers read volume:page, so 2:6 is page 6 of Volume 2; Bates numbers run on through all "
            f"{volumes} volumes."
        )
    return " ".join(notes)


def zone_name(spec: BuildSpec) -> str:
    return getattr(spec.created_at.tzinfo, "key", None) or spec.created_at.tzname() or ""


def index_of(spec: BuildSpec, layout: "Layout", sheet: Sheet | None) -> Index:
    return Index(
        layout.rows(spec),
        sheet,
        legend=spec.legend,
        zone=zone_name(spec),
        notes=index_notes(spec, len(layout.volume_pages)),
    )


def number(
    spec: BuildSpec, volumes: list[list[Part]], cert_count: int, cert_starts: list[int], sheet: Sheet | None
) -> tuple[Rendered | None, Layout]:
    """Number every page: the index's length from its rows (until the numbers they print keep it the same), the
    covers' by rendering them until their page count matches the totals they print."""
    covers, index = [1 if spec.cover else 0] * len(volumes), 0
    for _ in range(8):
        layout = Layout(spec, volumes, [c + index for c in covers], cert_count, cert_starts)
        counted = index_of(spec, layout, sheet).page_count if spec.index else 0
        if counted != index:
            index = counted
            continue
        layout.index_pages = index
        if not spec.cover:
            return None, layout
        rendered = render_pdf("front.html", context(spec, layout))
        found = [rendered.sections[("cover", n)].count for n in range(1, len(volumes) + 1)]
        if found == covers:
            return rendered, layout
        covers = found
    raise RuntimeError("the cover and index did not settle on a page count")


def context(spec: BuildSpec, layout: Layout) -> dict:
    count = len(layout.volume_pages)
    meta = [
        {
            "number": n,
            "bates": (
                spec.bates(spec.bates_start + sum(layout.volume_pages[: n - 1])),
                spec.bates(spec.bates_start + sum(layout.volume_pages[:n]) - 1),
            ),
        }
        for n in range(1, count + 1)
    ]
    last = spec.bates(spec.bates_start + layout.total - 1)
    # A range keeps each end whole on a line where it fits the cover's column; a prefix too long wraps anywhere
    # (court_macros.html bates_range).
    widest = stamp.stamp_font().width(stamp.encode(f"{last} to"), 11)
    return render.front_context(
        spec, meta, page_count=layout.total, bates=(spec.bates(spec.bates_start), last), whole_ends=widest <= BATES_ROOM
    )
