"""Building the bundle: convert and render side by side, number the pages, then merge, link, stamp and save.

Two processes work at once, no more: this one renders (record pages, the certificate) while the converter's child
converts the originals; that child is gone before the pages are merged, the step that holds the most memory."""

import io
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pikepdf

from api.bundle import completeness, draw, records, render, stamp, volume_limit
from api.bundle.convert import Converted
from api.bundle.converter import Converter, Job
from api.bundle.plan import SAFETY, PageRef, Part, split_volumes
from api.bundle.render import ExhibitPageRequest, Rendered, render_pdf
from api.bundle.spec import BuildResult, BuildSpec, BundleError, ExhibitSource, PlacedExhibit
from api.bundle.validate import validate
from api.bundle.write import write_volumes
from api.lifelines import give_back_memory

Progress = Callable[[int, int], None]
log = logging.getLogger("casebinder.bundle")
# A record longer than this many pages is laid out in renders of its own of about this many pages each: the
# renderer holds every page of a render until it is written (some 6 MB a page of table), so a 200-page table in
# one render would take over a gigabyte.
PART_PAGES = 20


def build(spec: BuildSpec, workdir: Path, converter: Converter, progress: Progress) -> BuildResult:
    """Build every volume of the bundle under `workdir` and describe where each exhibit landed."""
    missing = [ex for ex in spec.exhibits if not ex.blob_path.exists()]
    if missing:
        ex = missing[0]
        raise BundleError(
            f"the original of Exhibit {ex.label} ({ex.original_filename}, SHA-256 {ex.sha256}) is missing from the "
            "evidence store, so the bundle was not built; `casebinder verify` checks the whole store"
        )
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
        generated, slips, drawn, marked = _render_exhibits(spec, kinds)
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
    for seq, result in sorted(converted.items()):
        if result.placeholder:
            log.warning("exhibit %s not reproduced: %s", marked[seq].label, result.detail or result.placeholder)
            marked[seq], page = completeness.not_reproduced(marked[seq], result.placeholder)
            late.append(ExhibitPageRequest(marked[seq], False, None, page))
    if late:
        generated["late"] = render_pdf("exhibits.html", render.exhibits_context(late))
    # From here on each exhibit says how much of it is reproduced: the index marks it, validation warns of it.
    spec = replace(spec, exhibits=[marked[ex.seq] for ex in spec.exhibits])
    sections = {key: render.exhibit_sections(r) for key, r in generated.items()}
    exhibit_pages = [_pages_of(ex.seq, slips, sections, converted) for ex in spec.exhibits]
    if certificate:
        generated["cert"] = certificate
    cert_count = generated["cert"].page_count if certificate else 0
    opened = {key: _open(r) for key, r in generated.items() if r is not None}
    opened["draw"] = drawn
    sources = {seq: pikepdf.open(r.path) for seq, r in converted.items() if not r.placeholder}
    safety = SAFETY
    try:
        for attempt in range(volume_limit.ATTEMPTS):
            volumes = split_volumes(exhibit_pages, spec.max_volume_bytes, safety)
            generated["front"], layout = _number(spec, volumes, cert_count)
            mark("cover and index rendered")
            progress(len(spec.exhibits), steps)
            if generated["front"]:
                opened["front"] = _open(generated["front"])
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
            )
            if "front" in opened:
                opened.pop("front").close()
            safety = volume_limit.refit(spec, volumes, layout.fronts, result, safety, attempt)
            if safety is None:
                break
            log.info("bundle build: a volume came out over the size limit; packing again with %.2f", safety)
    finally:
        for pdf in (*opened.values(), *sources.values()):
            pdf.close()
    mark("volumes merged, stamped and saved")
    result.validation = validate(result, spec, layout.textless)
    mark("validated")
    return result


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


def _render_exhibits(
    spec: BuildSpec, kinds: dict[int, str]
) -> tuple[dict[str, Rendered], dict[int, int], pikepdf.Pdf, dict[int, ExhibitSource]]:
    """Slip sheets (drawn where the font allows, else rendered), record pages and native-file pages; and each
    exhibit as far as its rendering is known (a conversion may still make it a placeholder)."""
    drawn = pikepdf.new()
    drawn_font = stamp.font_object(drawn)
    slips: dict[int, int] = {}
    marked: dict[int, ExhibitSource] = {}
    requests, generated = [], {}
    for ex in spec.exhibits:
        kind = kinds[ex.seq]
        record, page = None, None
        if kind in ("csv", "json", "email", "text"):
            try:
                record = records.view(kind, ex.blob_path, spec.limits)
            except Exception:  # noqa: BLE001 - one original that cannot be read must not sink the bundle
                log.warning("exhibit %s could not be read as %s", ex.label, kind, exc_info=True)
                ex, page = completeness.not_reproduced(ex, records.UNREADABLE)
        if kind == "native":
            ex, page = completeness.native(ex)
        elif record and record["losses"]:
            ex, page = completeness.printed_in_part(ex, record["losses"])
        marked[ex.seq] = ex
        fast = spec.slip_sheets and draw.drawable(
            ex.label, ex.title, ex.source_url, ex.custodian, ex.original_filename, ex.occurred_display
        )
        if fast:
            draw.slip_page(
                drawn, drawn_font, ex, render.KIND_NAMES.get(ex.kind, ex.kind), render.human_size(ex.size_bytes)
            )
            slips[ex.seq] = len(drawn.pages) - 1
        if record and record.get("pages", 0) > PART_PAGES:
            requests.append(ExhibitPageRequest(ex, spec.slip_sheets and not fast))
            parts = records.parts(record, PART_PAGES)
            for n, part in enumerate(parts):
                closing = page if n == len(parts) - 1 else None  # the native file's page follows the last part
                request = ExhibitPageRequest(ex, False, part, closing)
                generated[f"rec-{ex.seq}-{n}"] = render_pdf("exhibits.html", render.exhibits_context([request]))
                give_back_memory()
        else:
            requests.append(ExhibitPageRequest(ex, spec.slip_sheets and not fast, record, page))
    generated["ex"] = render_pdf("exhibits.html", render.exhibits_context(requests))
    return generated, slips, drawn, marked


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
        size = result.path.stat().st_size // max(1, len(result.pages))
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


class _Layout:
    """Numbers for every page: where each volume starts, each exhibit's range, the index rows."""

    def __init__(self, spec: BuildSpec, volumes: list[list[Part]], fronts: list[int], cert_count: int):
        self.fronts = fronts
        self.volume_pages: list[int] = []
        self.exhibits: dict[int, PlacedExhibit] = {}
        self.textless: list[int] = []
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
                    page += 1
                placed.page_count = page - placed.start_page
                placed.bates_last = spec.bates_start + page - 2
            if number == len(volumes):
                page += cert_count
            self.volume_pages.append(page - start)
        self.total = page - 1

    def rows(self, spec: BuildSpec, multi: bool) -> list[tuple[int, int, tuple[str, ...]]]:
        rows = []
        for ex in spec.exhibits:
            placed = self.exhibits.get(ex.seq)
            if placed is None:
                continue
            where = str(placed.start_page)
            if multi:
                where = f"{placed.volume}:{placed.start_page - sum(self.volume_pages[: placed.volume - 1])}"
            cells = (
                ex.label,
                ex.index_title,
                render.SHORT_KINDS.get(ex.kind, ex.kind),
                ex.occurred_short or "",
                f"{spec.bates(placed.bates_first)}-{spec.bates(placed.bates_last)}",
                where,
            )
            rows.append((placed.volume, ex.seq, cells))
        return rows


def _number(spec: BuildSpec, volumes: list[list[Part]], cert_count: int) -> tuple[Rendered | None, _Layout]:
    """Number every page. Covers are rendered until their page count matches the totals printed on them;
    the index is drawn, so its length is known before anything is rendered."""
    index = draw.index_page_count(draw.plan_cells(spec)) if spec.index else 0
    covers = [1 if spec.cover else 0] * len(volumes)
    for _ in range(4):
        layout = _Layout(spec, volumes, [c + index for c in covers], cert_count)
        layout.index_pages = index
        if not spec.cover:
            return None, layout
        meta = [
            {
                "number": n,
                "bates_first": spec.bates(spec.bates_start + sum(layout.volume_pages[: n - 1])),
                "bates_last": spec.bates(spec.bates_start + sum(layout.volume_pages[:n]) - 1),
            }
            for n in range(1, len(volumes) + 1)
        ]
        rendered = render_pdf(
            "front.html",
            render.front_context(
                spec,
                meta,
                [],
                page_count=layout.total,
                bates_first=spec.bates(spec.bates_start),
                bates_last=spec.bates(spec.bates_start + layout.total - 1),
            ),
        )
        counted = [rendered.sections[("cover", n)].count for n in range(1, len(volumes) + 1)]
        if counted == covers:
            return rendered, layout
        covers = counted
    raise RuntimeError("the covers did not settle on a page count")
