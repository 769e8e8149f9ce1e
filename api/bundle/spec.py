"""The input and output of a build, as plain data (picklable, free of the database)."""

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from models.bundle import Rendering

# Letter, in points. The top half inch stays clear for the court's ECF header; stamps live in the
# bottom band, and content is shrunk into what is left.
LETTER = (612.0, 792.0)
TOP_CLEAR = 36.0
BOTTOM_BAND = 72.0
SIDE_MARGIN = 36.0
# An image's size on paper comes from its pixels. Photographs and scans are placed at 300 dpi, their natural
# printed size, or shrunk to fit. An image that would not fill the content area even at 200 dpi holds screen
# pixels (a screenshot): at 300 dpi its text would print at four or five points, so it is enlarged to fit the
# area instead, but never coarser than 72 dpi (a screen pixel to a point), past which only the pixels grow.
# Only the placement changes: the embedded pixels are the original's.
IMAGE_DPI = 300
PRINT_DPI = 200
SCREEN_DPI = 72
# The readable floor: a pixel prints no smaller than 1/300 inch (0.24 pt, about four pixels to the point), the
# size photographs and scans are placed at anyway. Screenshots now come from phones and laptops whose screens
# draw each CSS pixel with two or three pixels, so their smallest text (12 CSS px) is 24 px or more and prints
# at about 6 pt or larger (36 px on a phone: 8.6 pt). A desktop screen captured at 1x (12 px text, 1280 px or
# more across) cannot print its text larger than the page's width allows, whatever the rule. An image that would
# print finer than the floor on one page is cut into slices across pages instead, at the page's width, whenever
# that prints it at least half again as large (see api/bundle/image_pages.py).
READABLE_DPI = IMAGE_DPI
# On a page that holds one slice of a split image: a band this tall at the top and at the bottom of the content
# area is kept clear for the "continued" notes, and consecutive slices overlap by SLICE_OVERLAP points, so a line
# of text (up to about 16 pt with its leading) cut by one page's edge prints whole on the next.
CONTINUED_BAND = 14.0
SLICE_OVERLAP = 24.0


def content_box(landscape: bool) -> tuple[float, float, float, float]:
    """(x0, y0, x1, y1) of the stamp-free area of a letter page."""
    width, height = (LETTER[1], LETTER[0]) if landscape else LETTER
    return (SIDE_MARGIN, BOTTOM_BAND, width - SIDE_MARGIN, height - TOP_CLEAR)


# What the index prints before the title of an exhibit that is not reproduced in full.
INDEX_MARKS = {Rendering.truncated: "[Printed in part]", Rendering.placeholder: "[Not reproduced]"}


@dataclass(frozen=True)
class RecordLimits:
    """How much of a text-like original is printed (the CASEBINDER_BUNDLE_* settings)."""

    table_pages: int = 200
    text_chars: int = 1_000_000
    cell_chars: int = 2_000


class BundleError(Exception):
    """A build that cannot go on, with a reason in words for the bundle's error."""


@dataclass(frozen=True)
class ExhibitSource:
    """One exhibit to bundle, with what the pages about it need to show."""

    seq: int
    exhibit_id: str
    evidence_id: str
    label: str
    title: str
    kind: str
    description: str | None
    occurred_at: datetime | None
    occurred_display: str | None
    occurred_short: str | None  # YYYY-MM-DD in the case timezone, for the one-line index
    legend: str | None  # resolved: the bundle's legend, else the exhibit's designation
    sha256: str
    size_bytes: int
    media_type: str
    original_filename: str
    source_url: str | None
    custodian: str | None
    acquired_at: datetime
    acquired_display: str
    # Its text is still to be read (OCR queued or running): its pictures' pages carry no text layer yet.
    text_pending: bool = False
    # Known once the exhibit's pages are made (assemble.build fills these in).
    rendering: Rendering = Rendering.complete
    rendering_reason: str | None = None

    @property
    def index_title(self) -> str:
        """The title as the index lists it (withheld where the request says so): marked when the exhibit is not
        reproduced in full."""
        mark = INDEX_MARKS.get(self.rendering)
        return f"{mark} {self.public_title}" if mark else self.public_title

    # The designation in words ("Attorneys' Eyes Only") when the request withholds this exhibit's title: the index,
    # bookmarks, slip sheet and certificate then print that instead of its title, file name and source.
    withheld: str | None = None

    @property
    def public_title(self) -> str:
        return f"Title withheld ({self.withheld})" if self.withheld else self.title

    def public(self, text: str | None) -> str | None:
        """A file name or source as the public parts print it: withheld with the title."""
        return "Withheld" if self.withheld and text else text


@dataclass(frozen=True)
class CaseCaption:
    title: str
    court: str | None
    docket_number: str | None
    parties: list[dict]


@dataclass(frozen=True)
class BuildSpec:
    bundle_title: str
    caption: CaseCaption
    exhibits: list[ExhibitSource]
    bates_prefix: str
    bates_start: int
    bates_digits: int
    cover: bool
    index: bool
    slip_sheets: bool
    certificate: bool
    max_volume_bytes: int | None
    # For the cover, index and certificate: the most restrictive of the bundle's legend and its exhibits'.
    legend: str | None
    created_at: datetime
    created_display: str
    volume_basename: str
    limits: RecordLimits = field(default_factory=RecordLimits)
    # Whether the request accepted exhibits not reproduced in full: validation then stays ok, with the warnings.
    allow_incomplete: bool = False
    author: str = "casebinder"  # the PDF's Author: the producing firm (CASEBINDER_PRODUCER_NAME)

    def bates(self, number: int) -> str:
        return f"{self.bates_prefix}{number:0{self.bates_digits}d}"


@dataclass
class PlacedExhibit:
    seq: int
    start_page: int  # 1-based page in the whole bundle
    page_count: int
    first_content_page: int
    bates_first: int
    bates_last: int
    volume: int
    rendering: Rendering = Rendering.complete
    rendering_reason: str | None = None


@dataclass
class Volume:
    number: int
    path: Path
    page_count: int
    size_bytes: int
    sha256: str
    bates_first: int
    bates_last: int
    filename: str


@dataclass
class BuildResult:
    path: Path
    page_count: int
    size_bytes: int
    sha256: str
    bates_first: int
    bates_last: int
    exhibits: list[PlacedExhibit]
    volumes: list[Volume]
    validation: dict = field(default_factory=dict)
