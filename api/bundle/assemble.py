"""Building the bundle: convert and render side by side, number the pages, then merge, link, stamp and save.

Two processes work at once, no more: this one renders (record pages, the certificate) while the converter's child
converts the originals; that child is gone before the pages are merged, the step that holds the most memory.

The originals come from a blob store (api/storage.py BlobStore), by SHA-256: the engine knows nothing of the
database, only the spec it is given and where to read the bytes it names."""

import io
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pikepdf

from api.bundle import completeness, draw, front, index, pieces, records, render, volume_limit
from api.bundle.convert import Converted
from api.bundle.converter import Converter, Job
from api.bundle.lines import shown
from api.bundle.pieces import Sheet
from api.bundle.plan import SAFETY, PageRef, split_volumes
from api.bundle.render import ExhibitPageRequest, Rendered, render_pdf
from api.bundle.spec import BuildResult, BuildSpec, BundleError, ExhibitSource, Rendering
from api.bundle.validate import validate
from api.bundle.write import write_volumes
from api.lifelines import give_back_memory
from api.storage import BlobStore

Progress = Callable[[int, int], None]
log = logging.getLogger("casebinder.bundle")
# A record longer than this many pages is laid out in renders of its own of about this many pages each: the
# renderer holds every page of a render until it is written (some 6 MB a page of table), so a 200-page table in
# one render would take over a gigabyte.
PART_PAGES = 20


def build(
    spec: BuildSpec,
    blobs: BlobStore,
    workdir: Path,
    converter: Converter,
    progress: Progress,
    layers: Path | None = None,
) -> BuildResult:
    """Build every volume of the bundle under `workdir`, reading the originals from `blobs`, and describe where each
    exhibit landed. `layers` holds the OCR text layers of the originals' pages, a directory per evidence item (see
    api/bundle/text_layer.py): the converter lays them over the pictures they were read from."""
    missing = [ex for ex in spec.exhibits if not blobs.exists(ex.sha256)]
    if missing:
        ex = missing[0]
        raise BundleError(
            f"the original of Exhibit {ex.label} ({ex.original_filename}, SHA-256 {ex.sha256}) is missing from the "
            "evidence store, so the bundle was not built; `casebinder verify` checks the whole store"
        )
    originals = {ex.seq: _original(blobs, ex, workdir) for ex in spec.exhibits}
    kinds = {ex.seq: records.classify(ex.media_type, ex.original_filename) for ex in spec.exhibits}
    steps = len(spec.exhibits) * 2
    mark = _stopwatch()
    converted: dict[int, Converted] = {}
    stop = threading.Event()

    def converted_one(seq: int, result: Converted) -> None:
        converted[seq] = result
        progress(len(converted), steps)

    jobs = [
        Job(ex.seq, originals[ex.seq], ex.media_type, workdir / f"conv-{ex.seq}.pdf", _layers_of(layers, ex))
        for ex in spec.exhibits
        if kinds[ex.seq] in ("pdf", "image")
    ]
    worker = threading.Thread(target=converter.run_all, args=(jobs, converted_one, stop), name="bundle-convert")
    worker.start()
    try:
        sheet = pieces.render_sheet(_pieces(spec, kinds))
        generated, slips, drawn, marked = _render_exhibits(spec, kinds, originals, sheet)
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
    late = []
    for seq, outcome in sorted(converted.items()):
        if outcome.placeholder:
            log.warning("exhibit %s not reproduced: %s", marked[seq].label, outcome.detail or outcome.placeholder)
            marked[seq], page = completeness.not_reproduced(marked[seq], outcome.placeholder)
            late.append(ExhibitPageRequest(marked[seq], None, page))
    if late:
        generated["late"] = render_pdf("exhibits.html", render.exhibits_context(late))
    # From here on each exhibit says how much of it is reproduced: the index marks it, validation warns of it.
    spec = replace(spec, exhibits=[marked[ex.seq] for ex in spec.exhibits])
    sections = {key: render.exhibit_sections(r) for key, r in generated.items()}
    exhibit_pages = [_pages_of(ex.seq, slips, sections, converted) for ex in spec.exhibits]
    if certificate:
        generated["cert"] = certificate
    cert_count = generated["cert"].page_count if certificate else 0
    cert_starts = _certificate_starts(certificate)
    opened = {key: _open(r) for key, r in generated.items() if r is not None}
    opened["draw"] = drawn
    sources = {seq: pikepdf.open(r.pdf) for seq, r in converted.items() if not r.placeholder}
    safety = SAFETY
    try:
        for attempt in range(volume_limit.ATTEMPTS):
            volumes = split_volumes(exhibit_pages, spec.max_volume_bytes, safety)
            covers, layout = front.number(spec, volumes, cert_count, cert_starts, sheet)
            mark("cover and index rendered")
            progress(len(spec.exhibits), steps)
            if covers:  # None without a cover, on every attempt
                generated["front"] = covers
                opened["front"] = _open(covers)
            result = write_volumes(
                spec,
                workdir,
                volumes,
                layout,
                generated,
                opened,
                sources,
                cert_count,
                lambda done, total=layout.total: progress(
                    len(spec.exhibits) + done * len(spec.exhibits) // total, steps
                ),
                sheet,
            )
            if "front" in opened:
                opened.pop("front").close()
            refit = volume_limit.refit(spec, volumes, layout.fronts, result, safety, attempt)
            if refit is None:
                break
            safety = refit
            log.info("bundle build: a volume came out over the size limit; packing again with %.2f", safety)
    finally:
        for pdf in (*opened.values(), *sources.values()):
            pdf.close()
        if sheet:
            sheet.close()
    mark("volumes merged, stamped and saved")
    result.validation = validate(result, spec, layout.textless, layout.awaiting_text)
    mark("validated")
    return result


def _original(blobs: BlobStore, ex: ExhibitSource, workdir: Path) -> Path:
    """The exhibit's original as a file the converter's process and the record readers can open: the store's own
    file when the store keeps it on this disk (read in place, no second copy), else a copy in the scratch dir."""
    with blobs.open(ex.sha256) as stream:
        name = getattr(stream, "name", None)
        if isinstance(name, str | os.PathLike) and os.path.isabs(name) and os.path.isfile(name):
            return Path(name)
        copy = workdir / f"orig-{ex.seq}"
        with open(copy, "wb") as out:
            shutil.copyfileobj(stream, out, 1024 * 1024)
        return copy


def _layers_of(layers: Path | None, ex: ExhibitSource) -> Path | None:
    """The directory of the exhibit's text layers, if it has any."""
    found = layers / ex.evidence_id if layers is not None else None
    return found if found is not None and found.is_dir() else None


def _open(rendered: Rendered) -> pikepdf.Pdf:
    pdf = pikepdf.open(io.BytesIO(rendered.pdf))
    for page in pdf.pages:
        if "/Annots" in page.obj:
            del page.obj["/Annots"]  # our own links are added when the volumes are written, to the final pages
    return pdf


def _stopwatch():
    started = last = time.perf_counter()

    def mark(stage: str) -> None:
        nonlocal last
        now = time.perf_counter()
        log.info("bundle build: %s in %.2f s (%.2f s so far)", stage, now - last, now - started)
        last = now

    return mark


# The renderings an exhibit of each kind may end with (see completeness.py): a conversion can still fail late, a
# record can be cut short or be unreadable, a native file is never printed.
RENDERINGS = {
    "native": (Rendering.placeholder,),
    "pdf": (Rendering.complete, Rendering.placeholder),
    "image": (Rendering.complete, Rendering.placeholder),
}
RECORD_RENDERINGS = tuple(Rendering)


def _pieces(spec: BuildSpec, kinds: dict[int, str]) -> list[pieces.Piece]:
    """Every piece of user text the drawn pages (slip sheets, index, stamps) cannot set in their font. An index
    title is shaped as each rendering its kind may end with marks it, before the conversions have said which."""
    found = []
    for ex in spec.exhibits:
        if spec.slip_sheets:
            found += draw.slip_pieces(ex, render.KIND_NAMES.get(ex.kind, ex.kind), render.human_size(ex.size_bytes))
        if spec.index:
            for rendering in RENDERINGS.get(kinds[ex.seq], RECORD_RENDERINGS):
                title = replace(ex, rendering=rendering).index_title
                found += index.row_pieces(ex.label, shown(title, front.INDEX_TITLE_CHARS))
        if pieces.wanted(ex.label):
            found.append(pieces.label(ex.label))
    return found


def _render_exhibits(
    spec: BuildSpec, kinds: dict[int, str], originals: dict[int, Path], sheet: Sheet | None
) -> tuple[dict[str, Rendered], dict[int, int], pikepdf.Pdf, dict[int, ExhibitSource]]:
    """Slip sheets, drawn; record pages and native-file pages, rendered; and each exhibit as far as its rendering
    is known (a conversion may still make it a placeholder)."""
    drawn = pikepdf.new()
    fonts, forms = draw.Fonts(drawn), sheet.on(drawn) if sheet else None
    slips: dict[int, int] = {}
    marked: dict[int, ExhibitSource] = {}
    requests, generated = [], {}
    for ex in spec.exhibits:
        kind = kinds[ex.seq]
        record, page = None, None
        if kind in ("csv", "json", "email", "text"):
            try:
                record = records.view(kind, originals[ex.seq], spec.limits)
            except Exception:  # noqa: BLE001 - one original that cannot be read must not sink the bundle
                log.warning("exhibit %s could not be read as %s", ex.label, kind, exc_info=True)
                ex, page = completeness.not_reproduced(ex, records.UNREADABLE)
        if kind == "native":
            ex, page = completeness.native(ex)
        elif record and record["losses"]:
            ex, page = completeness.printed_in_part(ex, record["losses"])
        marked[ex.seq] = ex
        if spec.slip_sheets:
            kind_name, size = render.KIND_NAMES.get(ex.kind, ex.kind), render.human_size(ex.size_bytes)
            draw.slip_page(drawn, fonts, ex, kind_name, size, forms)
            slips[ex.seq] = len(drawn.pages) - 1
        if record and record.get("pages", 0) > PART_PAGES:
            parts = records.parts(record, PART_PAGES)
            for n, part in enumerate(parts):
                closing = page if n == len(parts) - 1 else None  # the native file's page follows the last part
                request = ExhibitPageRequest(ex, part, closing)
                generated[f"rec-{ex.seq}-{n}"] = render_pdf("exhibits.html", render.exhibits_context([request]))
                give_back_memory()
        else:
            requests.append(ExhibitPageRequest(ex, record, page))
    generated["ex"] = render_pdf("exhibits.html", render.exhibits_context(requests))
    return generated, slips, drawn, marked


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
    # The exhibits' render (a slip sheet, a short record, a placeholder), then a long record's parts in order.
    for key in ("ex", *(key for key in sections if key.startswith(f"rec-{seq}-"))):
        section = sections[key].get(seq)
        if section:
            opens = key == "ex" or key.endswith("-0")
            pages += [
                PageRef(key, i, seq, first_content=opens and i == section.content)
                for i in range(section.first, section.first + section.count)
            ]
    result = converted.get(seq)
    if result and not result.placeholder:
        size = result.pdf.stat().st_size // max(1, len(result.pages))
        pages += [
            PageRef(
                "conv",
                j,
                seq,
                first_content=(j == 0),
                has_text=info.has_text,
                est_bytes=size,
                links=info.links,
                part=info.part,
                parts=info.parts,
            )
            for j, info in enumerate(result.pages)
        ]
    elif result:
        late = sections["late"][seq]
        pages += [
            PageRef("late", i, seq, first_content=(i == late.first)) for i in range(late.first, late.first + late.count)
        ]
    return pages
