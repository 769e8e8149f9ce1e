"""Serving stored blobs: always as attachments, named safely, identified by their SHA-256."""

import base64
from collections.abc import Callable
from functools import partial
from typing import BinaryIO
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse
from sqlmodel import Session

from api.errors import ServerFault, new_error_id
from api.services import bundle_downloads
from api.services import evidence as evidence_service
from api.storage import BlobStore
from models.bundle import Bundle
from models.evidence import EvidenceItem
from models.user import User

DAMAGED = "the stored file for this download is missing or damaged, so nothing was sent"


def download_name(original_filename: str, sha256: str) -> str:
    """The name an original downloads under: the stored name is metadata, so only its last path segment, never a
    path; the hash's first digits when nothing is left of it."""
    name = original_filename.replace("\\", "/").rsplit("/", 1)[-1].strip(" .")[:150]
    return name or f"evidence-{sha256[:12]}"


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact name in filename*."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(
    store: BlobStore,
    request: Request,
    *,
    sha256: str,
    size: int,
    media_type: str,
    disposition: str,
    on_damaged: Callable[[dict], None],
) -> Response:
    """A stored blob as an attachment: ETag and Repr-Digest from its hash, 304 when the client has it.

    The file is opened and its size checked before anything is sent. When it is missing or not `size` bytes,
    `on_damaged(details)` records the failure (durably: the request itself rolls back) and the answer is a
    500 naming an error id, instead of a 200 promising bytes that never come.
    """
    f = _open_checked(store, sha256, size, on_damaged)
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
    }
    if etag in request.headers.get("if-none-match", ""):
        f.close()
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = disposition
    headers["Content-Length"] = str(size)
    # The type exactly as sniffed: Starlette would add "charset=utf-8" to a text/* type, which the bytes of an
    # original need not be.
    headers["Content-Type"] = media_type
    return StreamingResponse(_chunks(f), headers=headers)


def evidence_original(
    session: Session, store: BlobStore, request: Request, user: User, item: EvidenceItem, *, disposition: str
) -> Response:
    """An evidence item's original bytes, exactly as uploaded, with their type as sniffed; a damaged or missing
    file is recorded in the item's custody as it is found: what the API and the web app's pages both serve."""
    return file_response(
        store,
        request,
        sha256=item.sha256,
        size=item.size_bytes,
        media_type=item.media_type,
        disposition=disposition,
        on_damaged=lambda details: evidence_service.record_access(
            session, "evidence.integrity_failure", item, user, details, durable=True
        ),
    )


def bundle_volume(
    session: Session, store: BlobStore, request: Request, user: User, bundle: Bundle, number: int | None
) -> Response:
    """A bundle's volume (`number` None: the whole bundle) as a download, checked and audited: what the API and the
    web app's pages both serve."""
    volume = bundle_downloads.served_volume(session, bundle, user, number)
    return file_response(
        store,
        request,
        sha256=volume["sha256"],
        size=volume["size_bytes"],
        media_type="application/pdf",
        disposition=content_disposition(volume["filename"]),
        on_damaged=partial(bundle_downloads.record_damaged, session, user, bundle, volume),
    )


def _open_checked(store: BlobStore, sha256: str, size: int, on_damaged: Callable[[dict], None]) -> BinaryIO:
    try:
        f = store.open(sha256)
    except FileNotFoundError:
        found: dict[str, bool | int] = {"missing": True}
    else:
        found_size = f.seek(0, 2)
        if found_size == size:
            f.seek(0)
            return f
        f.close()
        found = {"found_size": found_size}
    error_id = new_error_id()
    on_damaged({"sha256": sha256, "expected_size": size, **found, "error_id": error_id})
    raise ServerFault(DAMAGED, error_id=error_id)


def _chunks(f: BinaryIO, size: int = 1024 * 1024):
    with f:
        while chunk := f.read(size):
            yield chunk


# A page image never changes for the evidence it is of (an original's bytes never do): the browser keeps it.
PAGE_IMAGE_CACHE = "private, max-age=31536000, immutable"


def page_image(request: Request, sha256: str, page: int, width: int, draw: Callable[[], bytes]) -> Response:
    """A drawn page of an original as PNG, cached by the browser for good; 304 when it has it already."""
    headers = {
        "Cache-Control": PAGE_IMAGE_CACHE,
        "ETag": f'"{sha256}-{page}-{width}"',
        "X-Content-Type-Options": "nosniff",
    }
    if headers["ETag"] in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return Response(draw(), media_type="image/png", headers=headers)
