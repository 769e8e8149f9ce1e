"""Building the bundle: convert and render side by side, number the pages, then merge, link, stamp and save.

Two processes work at once, no more: this one renders (record pages, the certificate) while the converter's child
converts the originals; that child is gone before the pages are merged, the step that holds the most memory."""

import io
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pikepdf

from api.bundle import draw, front, index, pieces, records, render
from api.bundle.convert import Converted
from api.bundle.converter import Converter, Job
from api.bundle.lines import shown
from api.bundle.pieces import Sheet
from api.bundle.plan import PageRef, split_volumes
from api.bundle.render import ExhibitPageRequest, Rendered, render_pdf
from api.bundle.spec import BuildResult, BuildSpec
from api.bundle.validate import validate
from api.bundle.write import write_volumes
from api.lifelines import give_back_memory

Progress = Callable[[int, int], None]
log = logging.getLogger("casebinder.bundle")
NATIVE = (
    "Native file",
    "This exhibit is produced in its native format; it cannot be shown on paper. "
    "The file is identified below by name, type, size and SHA-256.",
)


def build(spec: BuildSpec, workdir: Path, converter: Converter, progress: Progress) -> BuildResult:
    """Build every volume of the bundle under `workdir` and describe where each exhibit landed."""
    kinds = {ex.seq: records.classify(ex.media_type, ex.original_filename) for ex in spec.exhibits}
    steps = len(spec.exhibits) * 2
    mark = _stopwatch()
    converted: dict[int, Converted] = {}
    stop = threading.Event()

    def converted_one(seq: int, result: Converted) -> None:
        converted[seq] = result
        progress(len(converted), steps)

    jobs = [
        Job(ex.seq, ex.blob_path, ex.media_type, workdir / f"conv-{ex.seq}.pdf")
        for ex in spec.exhibits
        if kinds[ex.seq] in ("pdf", "image")
    ]
    worker = threading.Thread(target=converter.run_all, args=(jobs, converted_one, stop), name="bundle-convert")
    worker.start()
    try:
        sheet = pieces.render_sheet(_pieces(spec))
        generated, slips, drawn = _render_exhibits(spec, kinds, sheet)
        # Here rather than in a process of its own: a third process would only share the two cores with these two,
        # and hold a second copy of WeasyPrint and its fonts.
        certificate = render_pdf("certificate.html", render.certificate_context(spec)) if spec.certificate else None
        give_back_memory()  # what laying out the pages took, before the merge takes its share
    except BaseException:  # the conversion thread must be done before the caller closes the converter
        stop.set()
        worker.join()
        raise
    worker.join()
    mark("slip sheets, records, certificate and conversions done")
    by_seq = {ex.seq: ex for ex in spec.exhibits}
    failed = {seq: result.placeholder for seq, result in converted.items() if result.placeholder}
    if failed:
        generated["late"] = render_pdf(
            "exhibits.html",
            render.exhibits_context(
                [
                    ExhibitPageRequest(by_seq[seq], None, ("Exhibit could not be reproduced", reason))
                    for seq, reason in failed.items()
                ]
            ),
        )
    sections = {key: render.exhibit_sections(r) for key, r in generated.items()}
    exhibit_pages = [_pages_of(ex.seq, slips, sections, converted) for ex in spec.exhibits]
    volumes = split_volumes(exhibit_pages, spec.max_volume_bytes)
    if certificate:
        generated["cert"] = certificate
    cert_count = generated["cert"].page_count if certificate else 0
    cert_starts = _certificate_starts(certificate)
    generated["front"], layout = front.number(spec, volumes, cert_count, cert_starts, sheet)
    mark("cover and index rendered")
    progress(len(spec.exhibits), steps)
    opened = {key: pikepdf.open(io.BytesIO(r.pdf)) for key, r in generated.items() if r is not None}
    opened["draw"] = drawn
    sources = {seq: pikepdf.open(r.path) for seq, r in converted.items() if not r.placeholder}
    try:
        for pdf in opened.values():
            for page in pdf.pages:
                if "/Annots" in page.obj:
                    del page.obj["/Annots"]  # our own links are added below, pointing at the final pages
        result = write_volumes(
            spec,
            workdir,
            volumes,
            layout,
            generated,
            opened,
            sources,
            cert_count,
            lambda done: progress(len(spec.exhibits) + done * len(spec.exhibits) // layout.total, steps),
            sheet,
        )
    finally:
        for pdf in (*opened.values(), *sources.values()):
            pdf.close()
        if sheet:
            sheet.close()
    mark("volumes merged, stamped and saved")
    result.validation = validate(result, spec, layout.textless)
    mark("validated")
    return result


def _stopwatch():
    started = last = time.perf_counter()

    def mark(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        log.info("bundle build: %s in %.2f s (%.2f s so far)", stage, now - last, now - started)
        last = now

    return mark


def _pieces(spec: BuildSpec) -> list[pieces.Piece]:
    """Every piece of user text the drawn pages (slip sheets, index, stamps) cannot set in their font."""
    found = []
    for ex in spec.exhibits:
        if spec.slip_sheets:
            found += draw.slip_pieces(ex, render.KIND_NAMES.get(ex.kind, ex.kind), render.human_size(ex.size_bytes))
        if spec.index:
            found += index.row_pieces(ex.label, shown(ex.public_title, front.INDEX_TITLE_CHARS))
        if pieces.wanted(ex.label):
            found.append(pieces.label(ex.label))
    return found


def _render_exhibits(
    spec: BuildSpec, kinds: dict[int, str], sheet: Sheet | None
) -> tuple[dict[str, Rendered], dict[int, int], pikepdf.Pdf]:
    """Slip sheets, drawn; record pages and native-file placeholders, rendered in one go."""
    drawn = pikepdf.new()
    fonts, forms = draw.Fonts(drawn), sheet.on(drawn) if sheet else None
    slips: dict[int, int] = {}
    requests = []
    for ex in spec.exhibits:
        kind = kinds[ex.seq]
        if spec.slip_sheets:
            kind_name, size = render.KIND_NAMES.get(ex.kind, ex.kind), render.human_size(ex.size_bytes)
            draw.slip_page(drawn, fonts, ex, kind_name, size, forms)
            slips[ex.seq] = len(drawn.pages) - 1
        record = records.view(kind, ex.blob_path) if kind in ("csv", "json", "email", "text") else None
        requests.append(ExhibitPageRequest(ex, record, NATIVE if kind == "native" else None))
    return {"ex": render_pdf("exhibits.html", render.exhibits_context(requests))}, slips, drawn


def _certificate_starts(certificate: Rendered | None) -> list[int]:
    """First page of the hash certificate and of the certification, within the certificate's pages."""
    if certificate is None:
        return []
    return [certificate.sections[("cert", n)].first for n in (1, 2)]


def _pages_of(
    seq: int, slips: dict[int, int], sections: dict[str, dict], converted: dict[int, Converted]
) -> list[PageRef]:
    """An exhibit's pages in order: slip sheet, record or placeholder pages, then its converted original."""
    pages: list[PageRef] = [PageRef("draw", slips[seq], seq)] if seq in slips else []
    section = sections["ex"].get(seq)
    if section:
        pages += [
            PageRef("ex", i, seq, first_content=(i == section.content))
            for i in range(section.first, section.first + section.count)
        ]
    result = converted.get(seq)
    if result and not result.placeholder:
        size = result.path.stat().st_size // max(1, len(result.pages))
        pages += [
            PageRef("conv", j, seq, first_content=(j == 0), has_text=info.has_text, est_bytes=size, links=info.links)
            for j, info in enumerate(result.pages)
        ]
    elif result:
        late = sections["late"][seq]
        pages += [
            PageRef("late", i, seq, first_content=(i == late.first)) for i in range(late.first, late.first + late.count)
        ]
    return pages
