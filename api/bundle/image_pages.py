"""Images on letter pages: placed whole at a readable size, or cut into slices across consecutive pages.

The pixels are never touched here: img2pdf embeds them (JPEG bytes as they are), and every page of one image draws
that one image XObject, scaled, and clipped to its own slice. Nothing is decoded or encoded again, and a volume
holds each image once however many pages show it. Where everything goes is pure arithmetic on the pixel size, so a
rebuild places it identically.
"""

import math
from dataclasses import dataclass

import pikepdf
from pikepdf import Name

from api.bundle.spec import (
    CONTINUED_BAND,
    IMAGE_DPI,
    LETTER,
    PRINT_DPI,
    READABLE_DPI,
    SCREEN_DPI,
    SLICE_OVERLAP,
    content_box,
)
from api.bundle.text_layer import Layers

NATURAL = 72 / IMAGE_DPI  # points per pixel at print resolution
READABLE = 72 / READABLE_DPI  # the floor (see spec.READABLE_DPI)
LARGEST = 72 / SCREEN_DPI  # a screen pixel is enlarged to a point at most: past that only the pixels grow
# A split must print the image at least half again as large as fitting it whole on one page would: a photograph or
# a page scan a little too big for the page is shrunk a little rather than cut through.
SPLIT_GAIN = 1.5
# At most this many pages for one image. The largest image decoded (100 million pixels) 1080 px wide prints in 74
# pages at the page's width; only a strip a few pixels across would take more (1 x 100,000,000 px, at a point a
# pixel, some 158,000 pages), and is printed smaller, on this many.
MAX_SLICES = 100
IMAGE_NAME = Name("/CbImg")  # fixed: rebuilds stay byte-identical


@dataclass(frozen=True)
class Slice:
    """One page of an image: the whole image drawn at `scale` points per pixel with its lower-left corner at
    `origin`, seen through `clip` (None: the whole image is on the page)."""

    landscape: bool
    scale: float
    origin: tuple[float, float]
    clip: tuple[float, float, float, float] | None = None
    part: int = 0  # k of `parts` for a split image, 0 for one shown whole
    parts: int = 0


def plan(width: int, height: int) -> list[Slice]:
    """The pages of an image of width x height pixels (as displayed)."""
    landscape = width > height
    x0, y0, x1, y1 = content_box(landscape)
    fit = min((x1 - x0) / width, (y1 - y0) / height)
    if fit < READABLE:
        pieces = _slices(width, height)
        if pieces and pieces[0].scale >= fit * SPLIT_GAIN:
            return pieces
    scale = _whole_scale(fit)
    origin = (x0 + ((x1 - x0) - width * scale) / 2, y0 + ((y1 - y0) - height * scale) / 2)
    return [Slice(landscape, scale, origin)]


def _whole_scale(fit: float) -> float:
    """Scale of an image shown whole, given the scale that would exactly fit it.

    At PRINT_DPI or finer the image has print resolution and keeps its 300 dpi size (or shrinks to fit); coarser,
    it holds screen pixels and grows to fit, up to a point per pixel."""
    if fit >= 72 / PRINT_DPI:
        return min(fit, LARGEST)
    return min(fit, NATURAL)


def _slices(width: int, height: int) -> list[Slice] | None:
    """A tall image in horizontal slices at the page's width, a wide one in vertical slices at its height; None when
    it fits one page at that size."""
    rows = height >= width
    # Tall images go on portrait pages, wide ones on landscape: the page the eye reads them on. The other way round
    # only when that page would print the pixels finer than the floor and the other prints them larger.
    choices = [_scale_on(landscape, width, height, rows) for landscape in ((False, True) if rows else (True, False))]
    landscape, scale = choices[0]
    if scale < READABLE and choices[1][1] > scale:
        landscape, scale = choices[1]
    x0, y0, x1, y1 = content_box(landscape)
    top, bottom = y1 - CONTINUED_BAND, y0 + CONTINUED_BAND
    window = top - bottom if rows else x1 - x0
    stride = window - SLICE_OVERLAP
    scale = min(scale, (MAX_SLICES * stride + SLICE_OVERLAP) / (height if rows else width))
    drawn_w, drawn_h = width * scale, height * scale
    length = drawn_h if rows else drawn_w
    if length <= window:
        return None
    count = math.ceil((length - SLICE_OVERLAP) / stride - 1e-9)
    pieces = []
    for k in range(count):
        offset = k * stride
        shown = min(window, length - offset)
        if rows:  # each slice hangs from the top of the area, the last one shorter
            left = x0 + ((x1 - x0) - drawn_w) / 2
            origin, clip = (left, top + offset - drawn_h), (left, top - shown, left + drawn_w, top)
        else:  # each slice starts at the left of the area, the last one narrower
            low = bottom + ((top - bottom) - drawn_h) / 2
            origin, clip = (x0 - offset, low), (x0, low, x0 + shown, low + drawn_h)
        pieces.append(Slice(landscape, scale, origin, clip, k + 1, count))
    return pieces


def _scale_on(landscape: bool, width: int, height: int, rows: bool) -> tuple[bool, float]:
    x0, y0, x1, y1 = content_box(landscape)
    across = (x1 - x0) / width if rows else (y1 - y0 - 2 * CONTINUED_BAND) / height
    return landscape, min(across, LARGEST)


def image_matrix(rotate: int, origin: tuple[float, float], width: float, height: float) -> tuple[float, ...]:
    """The cm that draws an image XObject (the unit square) as a width x height rectangle at `origin`, turned
    clockwise by `rotate` degrees first (img2pdf's page /Rotate from an EXIF orientation)."""
    x, y = origin
    return {
        0: (width, 0, 0, height, x, y),
        90: (0, -height, width, 0, x, y + height),
        180: (-width, 0, 0, -height, x + width, y + height),
        270: (0, height, -width, 0, x + width, y),
    }[rotate]


def write(src: pikepdf.Pdf, out: pikepdf.Pdf, layers: Layers | None = None) -> list[tuple[Slice, bool]]:
    """Lay out each page img2pdf made (one image each, a frame of the original) on pages of `out`, with the frame's
    OCR text over it where `layers` has it; each page's slice, and whether it carries that text layer."""
    made = []
    for frame, page in enumerate(src.pages):
        images = [x for x in page.obj.Resources.XObject.values() if x.get("/Subtype") == Name.Image]
        if len(images) != 1:
            raise ValueError(f"expected one image on the converted page, found {len(images)}")
        image = out.copy_foreign(images[0])
        rotate = int(page.obj.get("/Rotate", 0)) % 360
        width, height = int(image.Width), int(image.Height)
        if rotate in (90, 270):
            width, height = height, width
        for piece in plan(width, height):
            target = out.add_blank_page(page_size=(LETTER[1], LETTER[0]) if piece.landscape else LETTER)
            name = target.add_resource(image, Name.XObject, IMAGE_NAME)
            cm = image_matrix(rotate, piece.origin, width * piece.scale, height * piece.scale)
            content = [b"q"]
            if piece.clip:
                x0, y0, x1, y1 = piece.clip
                content.append(b"%.4f %.4f %.4f %.4f re W n" % (x0, y0, x1 - x0, y1 - y0))
            content.append(b" ".join(b"%.4f" % v for v in cm) + b" cm " + bytes(name.unparse()) + b" Do Q")
            # The picture as displayed fills this rectangle, whatever turn the cm gives the pixels: OCR read it so.
            x, y = piece.origin
            shown = (x, y, x + width * piece.scale, y + height * piece.scale)
            text = layers.place(target, frame, shown, piece.clip) if layers is not None else None
            if text:
                content.append(text)
            target.obj.Contents = out.make_stream(b" ".join(content))
            made.append((piece, text is not None))
    return made
