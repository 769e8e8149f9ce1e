"""Front matter and page numbers: where every page falls, and the cover and index that print those numbers.

The cover and the index are rendered together, by WeasyPrint, once per volume in one document. Their length
depends on the numbers they print, and the numbers on their length: they are rendered with the numbers a guessed
length gives, then again with the numbers their counted length gives, until the two agree. A number changes only its
own cell (digits all have the same width), so that is two renders, or one when the guess was right.
"""

from dataclasses import dataclass

from api.bundle import render, stamp
from api.bundle.lines import shown
from api.bundle.plan import Part
from api.bundle.render import Rendered, render_pdf
from api.bundle.spec import BuildSpec, PlacedExhibit

# The certificate's two sections, listed in the index after the exhibits: (key, index title).
CERTIFICATE_ROWS = (
    ("certificate", "Hash Certificate of Exhibits"),
    ("certification", "Certification of Records (Fed. R. Evid. 902(11), 902(14))"),
)
ROWS_PER_PAGE = 20  # the first guess at the index's length: rows of one or two lines, at 10 pt
BATES_ROOM = 104.0  # points inside the index's Bates column (front.html), for "ACME000001 to" on one line
INDEX_TITLE_CHARS = 400  # five lines of the title column show fewer; the rest would only cost layout time


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
    withheld: bool = False


class Layout:
    """Numbers for every page: where each volume starts, each exhibit's range, the certificate's sections."""

    def __init__(
        self, spec: BuildSpec, volumes: list[list[Part]], fronts: list[int], cert_count: int, cert_starts: list[int]
    ):
        self.fronts = fronts
        self.cert_count, self.cert_starts = cert_count, cert_starts
        self.volume_pages: list[int] = []
        self.exhibits: dict[int, PlacedExhibit] = {}
        self.textless: list[int] = []
        page = 1
        for number, parts in enumerate(volumes, 1):
            start = page
            page += fronts[number - 1]
            for part in parts:
                placed = self.exhibits.get(part.seq)
                if placed is None:
                    content = next((i for i, p in enumerate(part.pages) if p.first_content), 0)
                    placed = self.exhibits[part.seq] = PlacedExhibit(
                        seq=part.seq,
                        start_page=page,
                        page_count=0,
                        first_content_page=page + content,
                        bates_first=spec.bates_start + page - 1,
                        bates_last=0,
                        volume=number,
                    )
                for ref in part.pages:
                    if not ref.has_text:
                        self.textless.append(spec.bates_start + page - 1)
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
                    title=shown(ex.public_title, INDEX_TITLE_CHARS),
                    kind=render.SHORT_KINDS.get(ex.kind, ex.kind),
                    date=ex.occurred_short or "",
                    first=spec.bates(content),
                    last=spec.bates(placed.bates_last),
                    page=self.where(placed.start_page, placed.volume),
                    volume=placed.volume,
                    withheld=bool(ex.withheld),
                )
            )
        volume, first = len(self.volume_pages), self.total - self.cert_count + 1
        ends = [*self.cert_starts[1:], self.cert_count]
        for (key, title), start, end in zip(CERTIFICATE_ROWS, self.cert_starts, ends, strict=False):
            page, last = first + start, first + max(start, end - 1)
            bates = [spec.bates(spec.bates_start + p - 1) for p in (page, last)]
            rows.append(IndexRow(key, "", title, "", "", *bates, self.where(page, volume), volume))
        return rows


def number(
    spec: BuildSpec, volumes: list[list[Part]], cert_count: int, cert_starts: list[int]
) -> tuple[Rendered | None, Layout]:
    """Number every page, rendering the covers and indexes until their page counts match the numbers they print."""
    if not spec.cover and not spec.index:
        return None, Layout(spec, volumes, [0] * len(volumes), cert_count, cert_starts)
    rows = len(spec.exhibits) + (len(CERTIFICATE_ROWS) if cert_count else 0)
    covers = [1 if spec.cover else 0] * len(volumes)
    indexes = [-(-rows // ROWS_PER_PAGE) if spec.index else 0] * len(volumes)
    for _ in range(6):
        fronts = [c + i for c, i in zip(covers, indexes, strict=True)]
        layout = Layout(spec, volumes, fronts, cert_count, cert_starts)
        rendered = render_pdf("front.html", context(spec, layout))
        found = rendered.sections
        counted = [
            [found[(kind, n)].count if (kind, n) in found else 0 for n in range(1, len(fronts) + 1)]
            for kind in ("cover", "index")
        ]
        if counted == [covers, indexes]:
            return rendered, layout
        covers, indexes = counted
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
    rows = layout.rows(spec) if spec.index else []
    # A range keeps each end whole on a line where the end fits the index's column; a prefix too long for it wraps
    # anywhere (court_macros.html bates_range).
    last = spec.bates(spec.bates_start + layout.total - 1)
    widest = stamp.stamp_font().width(stamp.encode(f"{last} to"), 10)
    zone = getattr(spec.created_at.tzinfo, "key", None) or spec.created_at.tzname()
    return render.front_context(
        spec,
        meta,
        rows,
        page_count=layout.total,
        bates=(spec.bates(spec.bates_start), last),
        zone=zone,
        zone_short=zone.rsplit("/", 1)[-1].replace("_", " ") if zone else "",
        whole_ends=widest <= BATES_ROOM,
        slip_sheets=spec.slip_sheets,
    )
