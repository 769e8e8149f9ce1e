"""Serving stored blobs: always as attachments, named safely, identified by their SHA-256."""

import base64
from urllib.parse import quote

from fastapi import Request, Response
from fastapi.responses import StreamingResponse

from api.storage import BlobStore


def content_disposition(filename: str) -> str:
    """RFC 6266: an ASCII fallback plus the exact name in filename*."""
    fallback = "".join(c if 32 <= ord(c) < 127 and c not in '"\\%' else "_" for c in filename)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(filename, safe='')}"


def file_response(store, request: Request, *, sha256: str, size: int, media_type: str, disposition: str) -> Response:
    """A stored blob as an attachment: ETag and Repr-Digest from its hash, 304 when the client has it."""
    etag = f'"{sha256}"'
    headers = {
        "ETag": etag,
        "Repr-Digest": f"sha-256=:{base64.b64encode(bytes.fromhex(sha256)).decode()}:",
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, no-cache",
    }
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    headers["Content-Disposition"] = disposition
    headers["Content-Length"] = str(size)
    return StreamingResponse(_chunks(store, sha256), media_type=media_type, headers=headers)


def _chunks(store: BlobStore, sha256: str, size: int = 1024 * 1024):
    with store.open(sha256) as f:
        while chunk := f.read(size):
            yield chunk
