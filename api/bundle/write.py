"""Writing the volumes: pages merged in order, links, stamps, outline, page labels, then a deterministic save."""

import hashlib
import re
from datetime import datetime

import pikepdf
from pikepdf import Array, Dictionary, Name, OutlineItem

from api.bundle import draw, front, render, stamp, text_layer
from api.bundle.lines import shown
from api.bundle.spec import BuildResult, BuildSpec, Volume
from api.storage import file_sha256


def volume_filename(spec: BuildSpec, number: int, count: int) -> str:
    """ASCII, at most 50 characters, one period, no parentheses: what e-filing systems accept."""
    # Apostrophes go without a trace: "Plaintiff's" reads better as "Plaintiffs" than as "Plaintiff_s".
    base = re.sub(r"['\u2019]", "", spec.volume_basename)
    base = re.sub(r"[^A-Za-z0-9_-]+", "_", base).strip("_-") or "Bundle"
    suffix = f"_Vol{number:02d}" if count > 1 else ""
    return f"{base[: 50 - len(suffix) - 4]}{suffix}.pdf"


def write_volumes(
    spec, workdir, volumes, layout, generated, opened, sources, cert_count, progress, sheet=None
) -> BuildResult:
    by_seq = {ex.seq: ex for ex in spec.exhibits}
    written: list[Volume] = []
    front_sections = generated["front"].sections if generated.get("front") else {}
    index = front.index_of(spec, layout, sheet) if spec.index else None
    global_page, done = 1, 0
    for number, parts in enumerate(volumes, 1):
        out = pikepdf.new()
        font = stamp.font_object(out)
        pieces = sheet.on(out) if sheet else None
        owners: list[int | None] = []  # exhibit seq of each page, None for front and certificate pages
        stickers: list[bool] = []
        slices: dict[int, tuple[int, int]] = {}  # page index: (k, n) of a split image's part on it
        marks: list[tuple[str, int]] = []  # bookmarks other than the exhibits': (title, page index)
        layer_fonts: dict[bytes, pikepdf.Object] = {}  # one OCR font for the volume, not one per exhibit
        if "front" in opened:
            cover = front_sections[("cover", number)]
            marks.append(("Cover" + (f", Volume {number} of {len(volumes)}" if len(volumes) > 1 else ""), 0))
            for i in range(cover.first, cover.first + cover.count):
                out.pages.append(opened["front"].pages[i])
                owners.append(None)
                stickers.append(False)
        index_links = []
        if index is not None:  # made when the spec asks for an index
            start = len(out.pages)
            pages, links = index.pages(out, draw.Fonts(out, font), number, pieces)
            if len(pages) != layout.index_pages:  # the page numbers printed everywhere would be off
                raise RuntimeError(f"the index took {len(pages)} pages where {layout.index_pages} were numbered")
            marks.append(("Index of Exhibits", start))
            owners += [None] * len(pages)
            stickers += [False] * len(pages)
            index_links = [(start + page, rect, key) for page, rect, key in links]
        first_page: dict[int | str, int] = {}
        conv_pages: dict[tuple[int, int], int] = {}
        pending_links = []
        for part in parts:
            first_page.setdefault(part.seq, len(out.pages))
            for ref in part.pages:
                source = sources[ref.seq] if ref.source == "conv" else opened[ref.source]
                out.pages.append(source.pages[ref.index])
                if ref.source == "conv":
                    conv_pages[(ref.seq, ref.index)] = len(out.pages) - 1
                    text_layer.share_page_fonts(out.pages[-1], layer_fonts)
                    if ref.links:
                        pending_links.append((len(out.pages) - 1, ref.seq, ref.links))
                if ref.parts:
                    slices[len(out.pages) - 1] = (ref.part, ref.parts)
                owners.append(ref.seq)
                stickers.append(ref.first_content and part.number == 1)
        closing: list[tuple[str, int]] = []
        if number == len(volumes) and cert_count:
            for (key, title), offset in zip(front.CERTIFICATE_ROWS, layout.cert_starts, strict=True):
                first_page[key] = len(out.pages) + offset
                closing.append((title, first_page[key]))
            for i in range(cert_count):
                out.pages.append(opened["cert"].pages[i])
                owners.append(None)
                stickers.append(False)
        for page_index, rect, key in index_links:
            if key in first_page:
                _add_link(out, out.pages[page_index], rect, out.pages[first_page[key]])
        for page_index, seq, links in pending_links:
            for x0, y0, x1, y1, target in links:
                if (seq, target) in conv_pages:
                    _add_link(out, out.pages[page_index], (x0, y0, x1, y1), out.pages[conv_pages[(seq, target)]])
        count = len(out.pages)
        first_bates = spec.bates_start + global_page - 1
        for i, page in enumerate(out.pages):
            seq = owners[i]
            stamp.apply(
                out,
                page,
                font,
                stamp.PageStamp(
                    bates=spec.bates(first_bates + i),
                    page_number=i + 1,
                    page_total=count,
                    legend=by_seq[seq].legend if seq is not None else spec.legend,
                    sticker=by_seq[seq].label if stickers[i] else None,
                    exhibit=by_seq[seq].label if seq is not None else None,
                    part=slices.get(i),
                ),
                pieces,
            )
            done += 1
            if done % 100 == 0:
                progress(done)
        with out.open_outline() as outline:
            for title, page_index in marks:
                outline.root.append(OutlineItem(title, page_index))
            for part in parts:
                suffix = f" (Part {part.number} of {part.of})" if part.of > 1 else ""
                title = f"{by_seq[part.seq].label} \u2014 {shown(by_seq[part.seq].public_title)}{suffix}"
                outline.root.append(
                    OutlineItem(title, first_page[part.seq] if part.number == 1 else owners.index(part.seq))
                )
            for title, page_index in closing:
                outline.root.append(OutlineItem(title, page_index))
        out.Root.PageLabels = stamp.page_labels(spec.bates_prefix, spec.bates_digits, first_bates, count)
        out.Root.PageMode = Name.UseOutlines
        out.docinfo = out.make_indirect(_document_info(spec, number, len(volumes), first_bates, count))
        path = workdir / f"volume-{number}.pdf"
        out.save(
            path, deterministic_id=True, compress_streams=True, object_stream_mode=pikepdf.ObjectStreamMode.generate
        )
        out.close()
        written.append(
            Volume(
                number,
                path,
                count,
                path.stat().st_size,
                file_sha256(path),
                first_bates,
                first_bates + count - 1,
                volume_filename(spec, number, len(volumes)),
            )
        )
        global_page += count
    if len(written) == 1:
        digest, size, path = written[0].sha256, written[0].size_bytes, written[0].path
    else:  # the hash of the volumes, in order
        digest = hashlib.sha256(b"".join(bytes.fromhex(v.sha256) for v in written)).hexdigest()
        size, path = sum(v.size_bytes for v in written), None
    return BuildResult(
        path=path,
        page_count=global_page - 1,
        size_bytes=size,
        sha256=digest,
        bates_first=spec.bates_start,
        bates_last=spec.bates_start + global_page - 2,
        exhibits=list(layout.exhibits.values()),
        volumes=written,
    )


def _document_info(spec: BuildSpec, number: int, count: int, first_bates: int, pages: int) -> Dictionary:
    """Title with the case and Bates range, the producing firm as author, docket and court as subject, dated like
    the cover."""
    caption = render.caption_shown(spec.caption)
    volume = f", Volume {number} of {count}" if count > 1 else ""
    bates = front.bates_range(spec.bates(first_bates), spec.bates(first_bates + pages - 1))
    title = f"{caption.title} \u2014 {shown(spec.bundle_title)}{volume} ({bates})"
    subject = ", ".join(
        p for p in (f"Case No. {caption.docket_number}" if caption.docket_number else None, caption.court) if p
    )
    created = _pdf_date(spec.created_at)
    info = Dictionary(
        Title=pikepdf.String(title),
        Author=pikepdf.String(spec.author),
        Creator=pikepdf.String("casebinder"),
        Producer=pikepdf.String("casebinder"),
        CreationDate=pikepdf.String(created),
        ModDate=pikepdf.String(created),
    )
    if subject:
        info.Subject = pikepdf.String(subject)
    return info


def _pdf_date(moment: datetime) -> str:
    """A PDF date with the moment's own UTC offset, e.g. D:20210423045700-07'00'."""
    offset = moment.utcoffset()
    if not offset:
        return moment.strftime("D:%Y%m%d%H%M%SZ")
    total = int(offset.total_seconds()) // 60
    hours, minutes = divmod(abs(total), 60)
    return moment.strftime("D:%Y%m%d%H%M%S") + f"{'-' if total < 0 else '+'}{hours:02d}'{minutes:02d}'"


def _add_link(pdf: pikepdf.Pdf, page: pikepdf.Page, rect, target: pikepdf.Page) -> None:
    annot = pdf.make_indirect(
        Dictionary(
            Type=Name.Annot,
            Subtype=Name.Link,
            Rect=Array([round(v, 2) for v in rect]),
            Border=Array([0, 0, 0]),
            Dest=Array([target.obj, Name.Fit]),
        )
    )
    if "/Annots" not in page.obj:
        page.obj.Annots = pdf.make_indirect(Array())
    page.obj.Annots.append(annot)
