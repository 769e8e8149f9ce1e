"""Turn one original into letter-sized content pages, run in a child process with a time limit.

PDF pages are placed as form XObjects (their content untouched, only scaled into the stamp-free
area); images go through img2pdf (JPEG bytes are embedded as they are) and are placed whole at a
readable size, or in slices over several pages (api/bundle/image_pages.py). Nothing active survives:
annotations are flattened or dropped, except links to another page of the same document, which
are handed back so the assembler can point them at the new pages.
"""

import io
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
from pikepdf import Matrix, Name
from PIL import Image, ImageOps

from api.bundle import image_pages
from api.bundle.spec import LETTER, content_box
from api.bundle.text_layer import Layers, files


@dataclass
class PageInfo:
    landscape: bool
    has_text: bool
    # (x0, y0, x1, y1) on the new page, and the 0-based index of the target page in this exhibit.
    links: list[tuple[float, float, float, float, int]] = field(default_factory=list)
    # "part k of n" of an image split across pages (0 of 0: a page shown whole).
    part: int = 0
    parts: int = 0


@dataclass
class Converted:
    path: Path | None
    pages: list[PageInfo]
    # Why the original could not be placed, in words for its placeholder page: what went wrong, never a path, an
    # exception's name or its text. `detail` holds those, for the server log only.
    placeholder: str | None = None
    detail: str | None = None

    @property
    def pdf(self) -> Path:
        """The file of the converted pages, which every original not made a placeholder has."""
        if self.path is None:
            raise ValueError(f"the original was not converted: {self.placeholder}")
        return self.path


def convert(source: Path, media_type: str, out_path: Path, *, max_pixels: int, layers: Path | None = None) -> Converted:
    """Convert a PDF or image original, laying the OCR text in `layers` (a directory of `<page>.pdf` files, see
    api/bundle/text_layer.py) over the pages it was read from; anything it cannot place comes back as a placeholder
    reason."""
    by_page = files(layers)
    try:
        if media_type == "application/pdf":
            with pikepdf.open(source) as src:
                return _place_pages(src, out_path, has_text=None, layers=by_page)
        return _convert_image(source, out_path, max_pixels, by_page)
    except pikepdf.PasswordError as exc:
        return Converted(None, [], ENCRYPTED, _detail(exc))
    except pikepdf.PdfError as exc:
        return Converted(None, [], DAMAGED_PDF, _detail(exc))
    except _ImageRefused as exc:
        return Converted(None, [], exc.args[0], exc.args[1])


ENCRYPTED = "the PDF is encrypted with a password, so its pages cannot be reproduced"
DAMAGED_PDF = "the PDF is damaged and could not be read, so its pages cannot be reproduced"
UNREADABLE_IMAGE = (
    "the image could not be read: it is damaged, or in a form this server cannot decode, so it cannot be reproduced"
)


class _ImageRefused(Exception):
    """args: the reason in words, and the detail for the log."""


def _detail(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


def _convert_image(source: Path, out_path: Path, max_pixels: int, layers: dict[int, Path]) -> Converted:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        plain_png = _png_without_exif(source)
        try:
            with Image.open(source) as im:
                width, height = im.size
                orientation = 1 if plain_png else _orientation(im)
        except Image.DecompressionBombError as exc:
            raise _ImageRefused(
                "the image claims far more pixels than a picture this server decodes safely, so it was not decoded",
                _detail(exc),
            ) from None
        except Exception as exc:  # noqa: BLE001 - any decoder complaint means "not a usable image"
            raise _ImageRefused(UNREADABLE_IMAGE, _detail(exc)) from None
    if width * height > max_pixels:
        raise _ImageRefused(
            f"the image claims {width:,} x {height:,} pixels, more than the {max_pixels:,} this server decodes; "
            "it was not decoded",
            f"{width} x {height} pixels, limit {max_pixels}",
        )

    import img2pdf  # loaded on first use, not at every process's start

    def layout(_px_width, _px_height, _dpi):
        # Any page size img2pdf accepts (3 to 14400 points): only the image XObject it embeds is kept, and placed
        # from its pixel size. Sized from the pixels, a 1x1 or 10 x 4000 image made a page under 3 points.
        return (100.0, 100.0, 100.0, 100.0)

    try:
        # A PNG without EXIF has no rotation to read: img2pdf would decode every pixel to look for one.
        rotation = img2pdf.Rotation.none if plain_png else img2pdf.Rotation.ifvalid
        data = img2pdf.convert(str(source), layout_fun=layout, rotation=rotation)
        if orientation in MIRRORED:
            # img2pdf draws these as stored, unmirrored, where OCR read the picture as displayed: its words would
            # lie over the mirror image of where they show.
            layers = {}
    except Exception:  # noqa: BLE001 - formats img2pdf refuses (WebP, alpha, odd modes) go through Pillow
        data = img2pdf.convert(_as_png(source), layout_fun=layout)
    with pikepdf.open(io.BytesIO(data)) as src, pikepdf.new() as out:
        pieces = image_pages.write(src, out, Layers(out, layers))
        out.save(out_path)
    return Converted(
        out_path,
        [PageInfo(landscape=p.landscape, has_text=has_text, part=p.part, parts=p.parts) for p, has_text in pieces],
    )


MIRRORED = (2, 4, 5, 7)  # EXIF orientations that flip the picture, which img2pdf leaves as stored


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png_without_exif(source: Path) -> bool:
    """Whether the file is a PNG with no EXIF chunk, told from its chunk headers alone. Pillow decodes every pixel of
    a PNG to look for EXIF (which may come after the pixels): a tenth of a second for a phone screenshot, twice per
    picture, was most of a production's time."""
    with source.open("rb") as f:
        if f.read(8) != PNG_SIGNATURE:
            return False
        while len(head := f.read(8)) == 8:
            kind = head[4:]
            if kind == b"eXIf":
                return False
            if kind == b"IEND":
                return True
            f.seek(int.from_bytes(head[:4], "big") + 4, 1)  # the chunk's data and its CRC
    return False  # cut short: the full read says what is wrong with it


def _orientation(im: Image.Image) -> int:
    try:
        return int(im.getexif().get(0x0112, 1))
    except Exception:  # noqa: BLE001 - a damaged EXIF block reads as no orientation, as img2pdf takes it
        return 1


def _as_png(source: Path) -> bytes:
    """Decode once with Pillow: EXIF rotation applied, alpha composited on white, first frame of animations."""
    with Image.open(source) as original:
        im = ImageOps.exif_transpose(original)
        if im.mode in ("RGBA", "LA", "P"):
            im = im.convert("RGBA")
            flat = Image.new("RGB", im.size, "white")
            flat.paste(im, mask=im.getchannel("A"))
            im = flat
        elif im.mode not in ("RGB", "L", "CMYK"):
            im = im.convert("RGB")
        buf = io.BytesIO()
        im.save(buf, "PNG")
        return buf.getvalue()


def _place_pages(src: pikepdf.Pdf, out_path: Path, *, has_text: bool | None, layers: dict[int, Path]) -> Converted:
    # Fold form-field and annotation appearances into the page content, so what was visible stays visible.
    try:
        src.generate_appearance_streams()
        src.flatten_annotations("all")
    except pikepdf.PdfError:
        pass  # a malformed form: its annotations are dropped below instead
    index_of = {page.obj.objgen: i for i, page in enumerate(src.pages)}
    out = pikepdf.new()
    infos = []
    text = Layers(out, layers)
    for n, page in enumerate(src.pages):
        links = _internal_links(src, page, index_of)
        if "/Annots" in page.obj:
            del page.obj["/Annots"]
        for key in ("/AA", "/Thumb", "/B", "/PieceInfo"):
            if key in page.obj:
                del page.obj[key]
        width, height = _displayed_size(page)
        landscape = width > height
        box = content_box(landscape)
        target = out.add_blank_page(page_size=(LETTER[1], LETTER[0]) if landscape else LETTER)
        formx = out.copy_foreign(page.as_form_xobject())
        name = target.add_resource(formx, Name.XObject, Name("/CbSrc"))  # fixed name: rebuilds stay identical
        placement = _centred(formx, box)
        cm = b" ".join(
            b"%.4f" % v for v in (placement.a, placement.b, placement.c, placement.d, placement.e, placement.f)
        )
        content = b"q " + cm + b" cm " + bytes(name.unparse()) + b" Do Q"
        layer = _layer(text, target, n, page, formx, placement) if n in text else None
        target.obj.Contents = out.make_stream(content + b" " + layer if layer else content)
        infos.append(
            PageInfo(
                landscape=landscape,
                has_text=layer is not None or (_has_fonts(formx) if has_text is None else has_text),
                links=[
                    (*_transform_rect(_form_matrix(formx) @ placement, rect), target_index)
                    for rect, target_index in links
                ],
            )
        )
    out.save(out_path)
    return Converted(out_path, infos)


def _layer(
    text: Layers, target: pikepdf.Page, n: int, page: pikepdf.Page, formx: pikepdf.Object, placement: Matrix
) -> bytes | None:
    """The OCR text of page n laid where it shows. OCR read what a viewer shows, the crop box (within the media box)
    turned by the page's rotation, so the layer covers where that lands; only the trim box is drawn (the form's
    bounding box), and where the two differ only the words inside it are kept."""
    drawn = _form_matrix(formx) @ placement
    rect = _transform_rect(drawn, _overlap(_box(page.cropbox), _box(page.mediabox)))
    window = _overlap(rect, _transform_rect(drawn, _box(formx.BBox)))
    whole = all(abs(a - b) < 0.01 for a, b in zip(rect, window, strict=True))
    return text.place(target, n, rect, None if whole else window)


def _overlap(a: tuple[float, ...], b: tuple[float, ...]) -> tuple[float, float, float, float]:
    return (max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))


def _box(box) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))


def _displayed_size(page: pikepdf.Page) -> tuple[float, float]:
    box = page.trimbox
    width, height = abs(float(box[2]) - float(box[0])), abs(float(box[3]) - float(box[1]))
    if int(page.obj.get("/Rotate", 0)) % 180 == 90:
        width, height = height, width
    return width, height


def _form_matrix(formx: pikepdf.Object) -> Matrix:
    return Matrix(*(float(v) for v in formx.get("/Matrix", [1, 0, 0, 1, 0, 0])))


def _centred(formx: pikepdf.Object, box: tuple[float, float, float, float]) -> Matrix:
    """The cm that shrinks the form (as drawn through its own matrix) to fit the box, centred; never enlarged.

    `Do` applies the form's /Matrix (its rotation) first; links on the source page map through both."""
    bx0, by0, bx1, by1 = (float(v) for v in formx.BBox)
    x0, y0, x1, y1 = _transform_rect(_form_matrix(formx), (bx0, by0, bx1, by1))
    width, height = x1 - x0, y1 - y0
    box_width, box_height = box[2] - box[0], box[3] - box[1]
    fit = min(box_width / width, box_height / height) if width > 0 and height > 0 else 1.0
    scale = min(1.0, fit)
    dx = box[0] + (box_width - width * scale) / 2 - x0 * scale
    dy = box[1] + (box_height - height * scale) / 2 - y0 * scale
    return Matrix(scale, 0, 0, scale, dx, dy)


def _transform_rect(matrix: Matrix, rect: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x0, y0, x1, y1 = rect
    points = [matrix.transform((x, y)) for x, y in ((x0, y0), (x1, y0), (x0, y1), (x1, y1))]
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    return (min(xs), min(ys), max(xs), max(ys))


def _internal_links(src: pikepdf.Pdf, page: pikepdf.Page, index_of: dict) -> list[tuple[tuple, int]]:
    """Links on this page that go to another page of the same document (everything else is dropped)."""
    found = []
    for annot in page.obj.get("/Annots", []):
        try:
            if annot.get("/Subtype") != Name.Link:
                continue
            dest = annot.get("/Dest")
            action = annot.get("/A")
            if dest is None and action is not None and action.get("/S") == Name.GoTo:
                dest = action.get("/D")
            target = _resolve_dest(src, dest)
            if target is not None and target.objgen in index_of:
                rect = tuple(float(v) for v in annot.Rect)
                found.append(
                    (
                        (min(rect[0], rect[2]), min(rect[1], rect[3]), max(rect[0], rect[2]), max(rect[1], rect[3])),
                        index_of[target.objgen],
                    )
                )
        except (AttributeError, TypeError, ValueError, pikepdf.PdfError):
            continue
    return found


def _resolve_dest(src: pikepdf.Pdf, dest) -> pikepdf.Object | None:
    if isinstance(dest, (pikepdf.String, Name)):
        key = str(dest).lstrip("/")
        names = src.Root.get("/Names")
        if names is not None and "/Dests" in names:
            tree = pikepdf.NameTree(names.Dests)
            dest = tree.get(key)
        elif "/Dests" in src.Root:
            dest = src.Root.Dests.get("/" + key)
        if isinstance(dest, pikepdf.Dictionary):
            dest = dest.get("/D")
    if isinstance(dest, pikepdf.Array) and len(dest) and isinstance(dest[0], pikepdf.Dictionary):
        return dest[0]
    return None


def _has_fonts(obj: pikepdf.Object, depth: int = 0) -> bool:
    """Whether a form draws text: any font in its resources, or in a form it draws (three levels deep)."""
    resources = obj.get("/Resources")
    if resources is None or depth > 3:
        return False
    if resources.get("/Font"):
        return True
    for xobject in (resources.get("/XObject") or {}).values():
        if xobject.get("/Subtype") == Name.Form and _has_fonts(xobject, depth + 1):
            return True
    return False
