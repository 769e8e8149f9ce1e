"""Generated pages through Jinja2 and WeasyPrint, which never fetches anything.

Each render returns PDF bytes plus where its sections and links fell: the pages are merged later, from the bytes,
while the renders' own objects are long gone.
"""

from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING

from api.bundle.lines import shown
from api.bundle.spec import BuildSpec, CaseCaption, ExhibitSource
from api.templating import refuse_all_fetcher, render

if TYPE_CHECKING:  # WeasyPrint is imported where pages are laid out: see api/templating.py `refuse_all_fetcher`
    from weasyprint import CSS, Document
    from weasyprint.text.fonts import FontConfiguration

KIND_NAMES = {
    "review_screenshot": "Review screenshot",
    "product_insert_card": "Product insert card",
    "refund_record": "Refund record",
    "chat_log": "Chat log",
    "order_record": "Order record",
    "email": "E-mail",
    "listing_snapshot": "Listing snapshot",
    "other": "Other",
}


SHORT_KINDS = {
    "review_screenshot": "Review",
    "product_insert_card": "Insert card",
    "refund_record": "Refund",
    "chat_log": "Chat log",
    "order_record": "Order",
    "email": "E-mail",
    "listing_snapshot": "Listing",
    "other": "Other",
}


@lru_cache
def _styles() -> "tuple[CSS, FontConfiguration]":
    """The stylesheet and font configuration, parsed once per process and shared by every render."""
    from weasyprint import CSS
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    # Through Jinja for its font stacks (api/templating.py FONTS).
    css = CSS(string=render("bundle/bundle.css"), font_config=fonts, url_fetcher=refuse_all_fetcher())
    return css, fonts


@dataclass
class Section:
    """A run of pages opened by a section anchor (0-based); `content` is its first content page, if any."""

    first: int
    count: int
    content: int | None = None


@dataclass
class Rendered:
    pdf: bytes
    page_count: int
    sections: dict[tuple[str, int], Section]
    # Internal links: (page index, rect in PDF points, exhibit seq or the name of what they point at).
    links: list[tuple[int, tuple[float, float, float, float], int | str]]


def layout_document(template: str, context: dict) -> "Document":
    """Lay one template out in pages, with the bundle's stylesheet and fonts."""
    from weasyprint import HTML

    css, fonts = _styles()
    html = render(f"bundle/{template}", **context)
    return HTML(string=html, url_fetcher=refuse_all_fetcher()).render(stylesheets=[css], font_config=fonts)


def render_pdf(template: str, context: dict) -> Rendered:
    """Render one template to PDF bytes, with its section anchors and exhibit links located."""
    document = layout_document(template, context)
    return Rendered(document.write_pdf(), len(document.pages), _sections(document), _links(document))


def _sections(document: "Document") -> dict[tuple[str, int], Section]:
    found: dict[tuple[str, int], Section] = {}
    current = None
    for index, page in enumerate(document.pages):
        for name in page.anchors:
            kind, _, number = name.rpartition("-")
            if number.isdigit() and kind in ("ex", "content", "cover", "index", "cert"):
                current = (kind, int(number))
                found.setdefault(current, Section(index, 0))
        if current is not None:
            found[current].count = index - found[current].first + 1
    return found


def _links(document: "Document") -> list[tuple[int, tuple[float, float, float, float], int | str]]:
    """Every internal link to "#go-<key>": (page index, rect in PDF points, key); a key of digits is an exhibit's
    seq, any other names what the link points at (a certificate section)."""
    links = []
    for index, page in enumerate(document.pages):
        for kind, target, rect, _box in page.links:
            if kind == "internal" and target.startswith("go-"):
                x0, y0, x1, y1 = rect
                key = target[3:]
                # WeasyPrint measures CSS px from the top-left; PDF points go up from the bottom-left.
                links.append(
                    (
                        index,
                        (x0 * 0.75, (page.height - y1) * 0.75, x1 * 0.75, (page.height - y0) * 0.75),
                        int(key) if key.isdigit() else key,
                    )
                )
    return links


def exhibit_sections(rendered: Rendered) -> dict[int, Section]:
    """Each exhibit's content pages (`content-<n>`; `ex-<n>` for anything before them) as one run of pages."""
    merged: dict[int, Section] = {}
    for (kind, seq), section in sorted(rendered.sections.items(), key=lambda item: item[1].first):
        if kind not in ("ex", "content"):
            continue
        merged.setdefault(seq, Section(section.first, 0))
        merged[seq].count += section.count
        if kind == "content":
            merged[seq].content = section.first
    return merged


def human_size(size: float) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:,} {unit}" if unit == "bytes" else f"{size:,.1f} {unit}"
        size /= 1024
    return str(size)


@dataclass(frozen=True)
class ExhibitPageRequest:
    """What to render for one exhibit: a record view, a placeholder (heading, reason). Slip sheets are drawn."""

    exhibit: ExhibitSource
    record: dict | None = None
    placeholder: tuple[str, str] | None = None


def exhibits_context(requests: list[ExhibitPageRequest]) -> dict:
    return {"exhibits": [_exhibit_context(r) for r in requests if r.record or r.placeholder]}


def _exhibit_context(request: ExhibitPageRequest) -> dict:
    ex, placeholder = request.exhibit, request.placeholder
    return {
        "seq": ex.seq,
        "label": ex.label,
        "filename": shown(ex.original_filename),
        "media_type": shown(ex.media_type),
        "size": human_size(ex.size_bytes),
        "sha256": ex.sha256,
        "record": request.record,
        "placeholder": {"heading": placeholder[0], "reason": placeholder[1]} if placeholder else None,
    }


def front_context(spec: BuildSpec, volumes: list[dict], *, page_count: int, bates: tuple[str, str], **more) -> dict:
    """The covers: one per volume, with the bundle's totals and `volumes`' own Bates ranges."""
    return {
        "volumes": volumes,
        "cover": spec.cover,
        "legend": spec.legend,
        "caption": caption_shown(spec.caption),
        "bundle_title": shown(spec.bundle_title),
        "created_display": spec.created_display,
        "created_iso": spec.created_at.isoformat(),
        "exhibit_count": len(spec.exhibits),
        "page_count": page_count,
        "bates": bates,
        **more,
    }


def certificate_context(spec: BuildSpec) -> dict:
    exhibits = [
        {
            "label": ex.label,
            "filename": shown(ex.public(ex.original_filename)),
            "size_bytes": f"{ex.size_bytes:,}",
            "sha256": ex.sha256,
            "acquired": ex.acquired_display,
            "custodian": shown(ex.custodian),
        }
        for ex in spec.exhibits
    ]
    return {"exhibits": exhibits, "caption": caption_shown(spec.caption), "legend": spec.legend}


def caption_shown(caption: CaseCaption) -> CaseCaption:
    """The case's caption as generated pages show it: each part cut to a length that lays out quickly."""
    parties = [
        {key: shown(value) if isinstance(value, str) else value for key, value in p.items()} for p in caption.parties
    ]
    return CaseCaption(shown(caption.title), shown(caption.court), shown(caption.docket_number), parties)
