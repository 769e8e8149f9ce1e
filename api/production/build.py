"""A production written out: each document's pages made (its redacted copy where it has one), stamped with its
production Bates numbers and legend, written as one PDF per document or one TIFF per page, with its text and its
native file where asked; the DAT and OPT load files; every redacted document read back before anything is kept;
and the ZIP, written the same way every time, so reproducing a production gives the same bytes.

Nothing here reads the database: the service (api/services/productions.py) hands in what each document is.
"""

import shutil
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pikepdf
import pypdfium2 as pdfium

from api.bundle import convert, stamp
from api.production import loadfiles
from api.redaction import release
from api.redaction.pages import open_pdf
from api.storage import file_sha256
from api.templating import render, render_pdf

ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # every entry's time: the same ZIP from the same production
TIFF_DPI = 300


@dataclass
class Document:
    """One document to produce, as the service found it."""

    evidence_id: str
    source: Path  # the file produced: the original, or its redacted copy
    media_type: str
    kind: str  # pdf, image, csv, json, email, text, native
    filename: str  # the original's name
    native: bool  # produced natively (with a slip sheet in its place among the images)
    redacted: bool  # `source` is a redacted copy
    withheld: str | None = None  # the privilege it is withheld for: a slip sheet stands in its place
    legend: str | None = None
    fields: dict[str, str] = field(default_factory=dict)  # DAT fields known beforehand (custodian, dates, hashes...)
    wanted: list[release.Wanted] = field(default_factory=list)  # what must not be found in what is produced of it
    stored_text: dict[int, str] = field(default_factory=dict)  # OCR text of the source's pages, by 1-based page
    render_text_like: Callable[[Path, str], Path] | None = None  # (out, label) -> its rendering, for text-like kinds


@dataclass
class Settings:
    prefix: str
    digits: int
    first_number: int
    volume: str  # PROD001
    image_format: str  # pdf | tiff
    text: bool
    encoding: str
    max_pixels: int


@dataclass
class Produced:
    documents: list[dict]
    manifest: dict[str, str]
    last_number: int
    check: dict
    zip_path: Path


class LeakFound(Exception):
    """A redacted string is still in what would be produced: nothing is kept. args[0] says where."""


def bates(settings: Settings, number: int) -> str:
    return f"{settings.prefix}{number:0{settings.digits}d}"


def _slip(work: Path, heading: str, lines: list[str], path: str | None = None) -> Path:
    out = work / "slip.pdf"
    out.write_bytes(render_pdf(render("production/slip.html", heading=heading, lines=lines, path=path)))
    return out


def _pages(doc: Document, work: Path, settings: Settings, first_bates: str) -> tuple[Path, list[convert.PageInfo]]:
    """The document's pages, unstamped: its own (placed on letter pages as in a bundle), its rendering, or a slip
    sheet."""
    if doc.withheld:
        path = _slip(work, "Document withheld", [f"Withheld on the ground of privilege ({doc.withheld}).",
                                                 "See the privilege log."])  # fmt: skip
        return path, [convert.PageInfo(landscape=False, has_text=True)]
    if doc.native:
        ext = Path(doc.filename).suffix.lower()
        path = _slip(work, "Produced in native format", ["This document is produced as its native file:"],
                     loadfiles.load_path(f"NATIVES/{first_bates}{ext}"))  # fmt: skip
        return path, [convert.PageInfo(landscape=False, has_text=True)]
    if doc.kind in ("pdf", "image"):
        out = work / "pages.pdf"
        converted = convert.convert(doc.source, doc.media_type, out, max_pixels=settings.max_pixels)
        if converted.path is not None:
            return converted.path, converted.pages
        doc.native = not doc.redacted
        path = _slip(work, "Document not imaged", [str(converted.placeholder)])
        return path, [convert.PageInfo(landscape=False, has_text=True)]
    assert doc.render_text_like is not None, "a text-like document comes with its renderer"
    path = doc.render_text_like(work / "rendering.pdf", first_bates)
    with pikepdf.open(path) as pdf:
        count = len(pdf.pages)
    return path, [convert.PageInfo(landscape=False, has_text=True) for _ in range(count)]


def _text_of(path: Path, stored: dict[int, str]) -> str:
    """The document's text, page by page (form feeds between): its own, or its stored OCR where a page has none."""
    pdf = open_pdf(path)
    pages = []
    try:
        for index in range(len(pdf)):
            page = pdf[index]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_bounded().replace("\r\n", "\n")
            finally:
                textpage.close()
                page.close()
            pages.append(text if text.strip() else stored.get(index + 1, ""))
    finally:
        pdf.close()
    return "\f".join(pages)


def _stamped(pages_pdf: Path, infos: list[convert.PageInfo], doc: Document, settings: Settings, first: int, out: Path):
    with pikepdf.open(pages_pdf) as src, pikepdf.new() as pdf:
        font = stamp.font_object(pdf)
        total = len(src.pages)
        for index, page in enumerate(src.pages):
            pdf.pages.append(page)
            info = infos[index] if index < len(infos) else None
            part = (info.part, info.parts) if info is not None and info.parts else None
            stamp.apply(
                pdf, pdf.pages[-1], font,
                stamp.PageStamp(bates(settings, first + index), index + 1, total, doc.legend, None, part=part),
            )  # fmt: skip
        pdf.Root.PageLabels = pdf.make_indirect(stamp.page_labels(settings.prefix, settings.digits, first, total))
        pdf.save(out, deterministic_id=True)
        return total


def _tiffs(pdf_path: Path, folder: Path, names: list[str]) -> list[Path]:
    """One black-and-white TIFF (CCITT Group 4, 300 dpi) per page, as review platforms load them."""
    pdf = pdfium.PdfDocument(str(pdf_path))
    out = []
    try:
        for index, name in enumerate(names):
            page = pdf[index]
            try:
                image = page.render(scale=TIFF_DPI / 72, grayscale=True).to_pil()
            finally:
                page.close()
            path = folder / name
            image.point(lambda v: 255 if v > 160 else 0).convert("1").save(
                path, "TIFF", compression="group4", dpi=(TIFF_DPI, TIFF_DPI)
            )
            out.append(path)
    finally:
        pdf.close()
    return out


def _checked(wanted: list[release.Wanted], files: dict[str, Path], row: dict[str, str], checked: dict) -> None:
    """Read back what is produced of a document (its pages' text, strings and streams, its text file, its native
    file's bytes, its load-file row): refuse it when any string redacted anywhere in the production is in it."""
    if not wanted:
        return
    matcher = release.Matcher(wanted)
    for path_in_zip, path in files.items():
        if path.suffix == ".pdf":
            found = release.check(path, "application/pdf", wanted, ocr_text={}, stored_ocr={})
            checked["pages_read"] += found.pages_read
            checked["streams_read"] += found.streams_read
            if found.leaks:
                leak = found.leaks[0]
                raise LeakFound(
                    f"{path_in_zip}: {leak.where}, the {leak.wanted.rule} redaction of page {leak.wanted.page}"
                )
        elif path_in_zip.startswith("TEXT/"):
            hits = matcher.found(path.read_text("utf-8"))
            if hits:
                raise LeakFound(f"{path_in_zip}: the {hits[0].rule} redaction of page {hits[0].page}")
        else:  # a native file, as it is
            hits = matcher.found_in_bytes(path.read_bytes())
            if hits:
                raise LeakFound(f"{path_in_zip}: the {hits[0].rule} redaction of page {hits[0].page}")
    hits = matcher.found("\n".join(row.values()))
    if hits:
        raise LeakFound(f"the load file's row for {row.get('BEGBATES')}: the {hits[0].rule} redaction")
    checked["documents_checked"] += 1


def produce(documents: list[Document], settings: Settings, work: Path) -> Produced:
    """Write the production's files under `work`/root and zip them; LeakFound when a redacted document still holds
    what was redacted (then nothing is kept)."""
    root = work / "root"
    for folder in ("IMAGES", "NATIVES", "TEXT", "DATA"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    number = settings.first_number
    rows, opt_pages, described = [], [], []
    checked = {"documents_checked": 0, "pages_read": 0, "streams_read": 0}
    # Every string redacted in any document of the production is looked for in all of them: an SSN covered on one
    # page and left on another's is a leak all the same.
    wanted = [w for doc in documents for w in doc.wanted]
    checked["strings_looked_for"] = len(release.Matcher(wanted))
    for doc in documents:
        scratch = work / "doc"  # each document's files are written over the one's before
        scratch.mkdir(exist_ok=True)
        first_bates = bates(settings, number)
        pages_pdf, infos = _pages(doc, scratch, settings, first_bates)
        stamped = scratch / "stamped.pdf"
        count = _stamped(pages_pdf, infos, doc, settings, number, stamped)
        last_bates = bates(settings, number + count - 1)
        files: dict[str, Path] = {}
        if settings.image_format == "pdf":
            image_path = f"IMAGES/{first_bates}.pdf"
            shutil.copyfile(stamped, root / image_path)
            files[image_path] = root / image_path
            opt_pages += [
                loadfiles.OptPage(bates(settings, number + i), image_path, i == 0, count) for i in range(count)
            ]
        else:
            names = [f"{bates(settings, number + i)}.tif" for i in range(count)]
            _tiffs(stamped, root / "IMAGES", names)
            opt_pages += [loadfiles.OptPage(bates(settings, number + i), f"IMAGES/{n}", i == 0, count)
                          for i, n in enumerate(names)]  # fmt: skip
            files["stamped pages"] = stamped  # the pixels the TIFFs are drawn from, checked as a PDF
        native_path = text_path = ""
        if doc.native and not doc.withheld:
            native_path = f"NATIVES/{first_bates}{Path(doc.filename).suffix.lower()}"
            shutil.copyfile(doc.source, root / native_path)
            files[native_path] = root / native_path
        if settings.text:
            text_path = f"TEXT/{first_bates}.txt"
            text = "" if doc.native else _text_of(pages_pdf, doc.stored_text)
            (root / text_path).write_text(text, "utf-8")
            files[text_path] = root / text_path
        row = dict(doc.fields)
        row.update(
            BEGBATES=first_bates, ENDBATES=last_bates, BEGATTACH=first_bates, ENDATTACH=last_bates,
            PAGECOUNT=str(count), NATIVEPATH=loadfiles.load_path(native_path) if native_path else "",
            TEXTPATH=loadfiles.load_path(text_path) if text_path else "", REDACTED="Y" if doc.redacted else "N",
            WITHHELD="Y" if doc.withheld else "N",
        )  # fmt: skip
        _checked(wanted, files, row, checked)
        rows.append(row)
        described.append({
            "evidence_id": doc.evidence_id, "bates_first": first_bates, "bates_last": last_bates, "pages": count,
            "redacted": doc.redacted, "withheld": bool(doc.withheld), "native": bool(native_path),
        })  # fmt: skip
        number += count
    (root / "DATA" / f"{settings.volume}.dat").write_bytes(loadfiles.dat(rows, settings.encoding))
    (root / "DATA" / f"{settings.volume}.opt").write_bytes(loadfiles.opt(opt_pages, settings.volume))
    manifest = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        manifest[path.relative_to(root).as_posix()] = file_sha256(path)
    zip_path = work / f"{settings.volume}.zip"
    _zip(root, manifest, zip_path)
    return Produced(described, manifest, number - 1, checked, zip_path)


STORED = (".pdf", ".tif")  # compressed already (their pictures are): deflating them again gains nothing


def _zip(root: Path, manifest: dict[str, str], out: Path) -> None:
    """The files in name order, each with the same time and mode: the same production gives the same ZIP."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=6) as z:
        for name in manifest:
            info = zipfile.ZipInfo(name, date_time=ZIP_TIME)
            stored = name.startswith("IMAGES/") and name.endswith(STORED)
            info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            with (root / name).open("rb") as src, z.open(info, "w") as dst:
                shutil.copyfileobj(src, dst, 1024 * 1024)
