"""Evidence previews: what the evidence page shows of an original without downloading it.

`describe` says how to show it (see models/preview.py): an image as itself, a PDF as page images, a text-like
original as text, a table or an e-mail, or nothing, with the reason in words. `thumbnail` draws one page of a PDF
as a PNG; `rendering_page`, one page of the PDF a text-like original is rendered as (the pages a bundle shows, and
redaction boxes are placed on). PDFs are opened and drawn only in render processes (renderers.py), never in the
server, and their page images are cached on disk (api/preview_cache.py). The web page calls these functions
directly; the JSON API's routes are api/routes/previews.py.
"""

import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlmodel import Session

from api import preview_cache
from api.config import get_settings
from api.errors import DomainError, NotFound, ServerFault
from api.originals import text as text_reading
from api.originals.kinds import TEXT_KINDS, classify
from api.services import evidence as evidence_service
from api.services.previews import records
from api.services.previews.renderers import Outcome, renderers
from api.storage import BlobStore
from models.evidence import EvidenceItem
from models.preview import Preview, PreviewMode
from models.user import User

log = logging.getLogger("casebinder.previews")

WIDTHS = (160, 320, 800)  # the widths page images are drawn at, in pixels
# What a browser shows in an <img> of the original itself (not TIFF, not SVG: an SVG may carry scripts).
BROWSER_IMAGES = {"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp", "image/x-ms-bmp"}

CANNOT = "This file type cannot be previewed; download the original."
NOT_IN_BROWSER = "This type of image cannot be shown in a browser; download the original."
MISSING = "The stored original is missing, so it cannot be previewed; tell your administrator."
UNREADABLE = f"{text_reading.UNREADABLE[0].upper()}{text_reading.UNREADABLE[1:]}; download the original."
ENCRYPTED = "The PDF is encrypted with a password, so its pages cannot be shown; download the original."
DAMAGED = "The PDF is damaged: its pages cannot be read. Download the original to try another reader."
NO_PAGES = "The PDF has no pages."
CRASHED = (
    "Reading the PDF stopped the process drawing it (it may need more memory than a preview is given); "
    "download the original."
)


def too_slow(limit: float) -> str:
    return f"Reading the PDF took longer than the {limit:g}-second limit, so it was stopped; download the original."


class PageNotDrawn(DomainError):
    """The page image cannot be drawn: the PDF is encrypted or damaged, or drawing it ran out of time or memory."""

    status_code = 422
    code = "page_not_drawn"


class PreviewBusy(DomainError):
    """Every render process of the server is busy: try again in a few seconds."""

    status_code = 503
    code = "preview_busy"
    headers = {"Retry-After": "5"}


BUSY = "every process that draws PDF pages is busy; try again in a few seconds"


def describe(session: Session, store: BlobStore, evidence: EvidenceItem, *, actor: User) -> Preview:
    """How the evidence page shows the original; looking at it is an access, recorded in the audit trail."""
    found = _preview(store, evidence)
    evidence_service.record_access(session, "evidence.preview", evidence, actor, {"mode": found.mode.value})
    return found


def thumbnail(store: BlobStore, evidence: EvidenceItem, page: int, width: int) -> bytes:
    """Page `page` (1 is the first) of a PDF original as a PNG `width` pixels wide (see `allowed_width`), or
    narrower for a page much taller than wide. NotFound for a page the PDF does not have."""
    width = allowed_width(width)
    if classify(evidence.media_type, evidence.original_filename) != "pdf":
        raise NotFound("this evidence is not a PDF: it has no pages to draw")
    final = preview_cache.page_path(evidence.sha256, page, width)
    try:
        return final.read_bytes()
    except FileNotFoundError:
        pass
    with _local(store, evidence) as path:
        if path is None:
            raise ServerFault("the stored original of this evidence is missing, so its page could not be drawn")
        info = _opened(evidence.sha256, path)
        if "pages" not in info:
            raise PageNotDrawn(_refusal(info))
        if not 1 <= page <= info["pages"]:
            raise NotFound(f"page {page} is out of range: the PDF has {info['pages']:,} page(s), from page 1")
        if failed := preview_cache.failure(final):
            raise PageNotDrawn(failed)
        return _draw(path, final, page, width)


def pdf_pages(store: BlobStore, evidence: EvidenceItem) -> int:
    """How many pages a PDF original has, counted in a render process as its preview counts them."""
    with _local(store, evidence) as path:
        if path is None:
            raise ServerFault("the stored original of this evidence is missing, so its pages could not be counted")
        info = _opened(evidence.sha256, path)
    if "pages" not in info:
        raise PageNotDrawn(_refusal(info))
    return info["pages"]


@dataclass(frozen=True)
class Rendering:
    """How a text-like original becomes a PDF: `render(original, out)` writes it; `key`, a hex digest of what it
    is made from besides the bytes (see preview_cache.rendering_path)."""

    key: str
    render: Callable[[Path, Path], object]


def rendering_pages(store: BlobStore, evidence: EvidenceItem, rendering: Rendering) -> int:
    """How many pages the rendering of a text-like original has (rendered now if it is not cached yet)."""
    info = _rendering_info(store, evidence, rendering)
    if "pages" not in info:
        raise PageNotDrawn(_refusal(info))
    return info["pages"]


def rendering_page(store: BlobStore, evidence: EvidenceItem, page: int, width: int, rendering: Rendering) -> bytes:
    """Page `page` of a text-like original's rendering as a PNG, drawn and cached as `thumbnail` draws a PDF's."""
    width = allowed_width(width)
    final = preview_cache.page_path(evidence.sha256, page, width, rendering=rendering.key)
    try:
        return final.read_bytes()
    except FileNotFoundError:
        pass
    pages = rendering_pages(store, evidence, rendering)
    if not 1 <= page <= pages:
        raise NotFound(f"page {page} is out of range: the rendering has {pages:,} page(s), from page 1")
    if failed := preview_cache.failure(final):
        raise PageNotDrawn(failed)
    return _draw(preview_cache.rendering_path(evidence.sha256, rendering.key), final, page, width)


def _rendering_info(store: BlobStore, evidence: EvidenceItem, rendering: Rendering) -> dict:
    if (info := preview_cache.read_info(evidence.sha256, rendering=rendering.key)) is not None:
        return info
    made = preview_cache.rendering_path(evidence.sha256, rendering.key)
    if not made.is_file():
        with _local(store, evidence) as path:
            if path is None:
                raise ServerFault("the stored original of this evidence is missing, so its pages could not be drawn")
            tmp = preview_cache.scratch(made)
            try:
                rendering.render(path, tmp)
                os.replace(tmp, made)
            finally:
                tmp.unlink(missing_ok=True)
    return _opened(evidence.sha256, made, rendering=rendering.key)


def allowed_width(width: int) -> int:
    """The narrowest of WIDTHS at least `width` wide, else the widest."""
    return next((w for w in WIDTHS if w >= width), WIDTHS[-1])


def _preview(store: BlobStore, evidence: EvidenceItem) -> Preview:
    media_type = evidence.media_type
    kind = classify(media_type, evidence.original_filename)
    if kind == "native":
        return Preview(mode=PreviewMode.none, media_type=media_type, reason=CANNOT)
    if kind == "image":
        if media_type not in BROWSER_IMAGES:
            return Preview(mode=PreviewMode.none, media_type=media_type, reason=NOT_IN_BROWSER)
        if not store.exists(evidence.sha256):
            return Preview(mode=PreviewMode.none, media_type=media_type, reason=MISSING)
        return Preview(mode=PreviewMode.image, media_type=media_type)
    settings = get_settings()
    with _local(store, evidence) as path:
        if path is None:
            return Preview(mode=PreviewMode.none, media_type=media_type, reason=MISSING)
        if kind == "pdf":
            info = _opened(evidence.sha256, path)
            if not info.get("pages"):
                reason = NO_PAGES if "pages" in info else _refusal(info)
                return Preview(mode=PreviewMode.none, media_type=media_type, reason=reason)
            shown = min(info["pages"], settings.preview_pdf_pages)
            return Preview(mode=PreviewMode.pdf, media_type=media_type, page_count=info["pages"], pages_shown=shown)
        assert kind in TEXT_KINDS
        limits = records.Limits(text_chars=settings.preview_text_chars, table_rows=settings.preview_table_rows)
        try:
            return records.preview(kind, path, media_type, limits)
        except Exception:  # noqa: BLE001 - an original that cannot be read is said so, not a failed request
            log.warning("evidence %s could not be read as %s for its preview", evidence.id, kind, exc_info=True)
            return Preview(mode=PreviewMode.none, media_type=media_type, reason=UNREADABLE)


@contextmanager
def _local(store: BlobStore, evidence: EvidenceItem) -> Iterator[Path | None]:
    """The original as a local file for the length of the block; None when it is not stored."""
    with store.local_copy(evidence.sha256) as path:
        yield path if path.is_file() else None


def _opened(sha256: str, path: Path, *, rendering: str = "") -> dict:
    """What opening the PDF found ({"pages": n}, or {"refused": ...}, or {"failed": reason}), from the cache, else
    from a render process."""
    if (info := preview_cache.read_info(sha256, rendering=rendering)) is not None:
        return info
    final = preview_cache.info_path(sha256, rendering=rendering)
    if failed := preview_cache.failure(final):
        return {"failed": failed}
    tmp = preview_cache.scratch(final)
    try:
        outcome = renderers.run("open", str(path), str(tmp))
        if outcome is Outcome.done and tmp.is_file():
            info = json.loads(tmp.read_text())
            os.replace(tmp, final)
            return info
        reason = _failed(outcome)
        preview_cache.remember_failure(final, reason)
        return {"failed": reason}
    finally:
        tmp.unlink(missing_ok=True)


def _draw(path: Path, final: Path, page: int, width: int) -> bytes:
    tmp = preview_cache.scratch(final)
    try:
        outcome = renderers.run("draw", str(path), str(tmp), page, width)
        if outcome is Outcome.done and tmp.is_file() and tmp.stat().st_size:
            data = tmp.read_bytes()
            os.replace(tmp, final)
            return data
        reason = _failed(outcome) if outcome is not Outcome.done else f"Page {page} of the PDF could not be drawn."
        preview_cache.remember_failure(final, reason)
        raise PageNotDrawn(reason)
    finally:
        tmp.unlink(missing_ok=True)


def _failed(outcome: Outcome) -> str:
    if outcome is Outcome.busy:
        raise PreviewBusy(BUSY)
    if outcome is Outcome.too_slow:
        return too_slow(get_settings().preview_render_timeout_seconds)
    return CRASHED


def _refusal(info: dict) -> str:
    refused = info.get("refused")
    return ENCRYPTED if refused == "encrypted" else DAMAGED if refused == "damaged" else info.get("failed", CRASHED)
