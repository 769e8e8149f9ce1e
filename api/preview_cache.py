"""Page images of PDF originals, kept on disk by SHA-256, page and width, with what opening each PDF found.

Only a cache: its files are made from the blob store's and can all be made again, so deleting any of them (or the
whole directory) costs only the time to draw them again. It lies outside the store's blob area (by default
`<data_dir>/previews`, beside `sha256/`), where the orphan sweep and verify never look. When a blob leaves the
store (`blobs.remove`), what was drawn from it goes too: a purged original leaves no picture of itself behind.

A render that failed for want of time or memory is remembered for a while (FAILED_FOR), so a hostile PDF costs a
render process its time limit now and then, not at every view; a PDF that is encrypted or damaged stays so.
"""

import json
import os
import shutil
import time
import uuid
from pathlib import Path

from api.config import get_settings
from models.common import is_sha256_hex

FAILED_FOR = 600  # seconds a failure to render is remembered


def root() -> Path:
    settings = get_settings()
    return Path(settings.preview_cache_dir or settings.data_dir / "previews")


def folder(sha256: str) -> Path:
    if not is_sha256_hex(sha256):
        raise ValueError("not a sha256 hex digest")
    return root() / sha256[:2] / sha256


def page_path(sha256: str, page: int, width: int, *, rendering: str = "") -> Path:
    """A page of a PDF original; with `rendering` (its key), a page of a text-like original's rendering."""
    return folder(sha256) / (f"r{rendering}-p{page}-w{width}.png" if rendering else f"p{page}-w{width}.png")


def info_path(sha256: str, *, rendering: str = "") -> Path:
    """What opening the PDF (or the rendering) found: {"pages": n}, or {"refused": "encrypted" | "damaged"}."""
    return folder(sha256) / (f"rendering-{rendering}.json" if rendering else "pdf.json")


def rendering_path(sha256: str, rendering: str) -> Path:
    """A text-like original (a CSV, an e-mail...) rendered as a PDF, as a bundle shows it: what is rendered depends
    on more than the bytes (the item's title heads its pages), so each rendering has a key (a hex digest) of what
    it was made from. Made again whenever it is missing."""
    if not rendering.isalnum():
        raise ValueError("a rendering's key is a hex digest")
    return folder(sha256) / f"rendering-{rendering}.pdf"


def scratch(final: Path) -> Path:
    """A file beside `final` for a render process to write, renamed into place once it is whole."""
    final.parent.mkdir(parents=True, exist_ok=True)
    return final.with_name(f".{final.name}.{uuid.uuid4().hex[:12]}")


def read_info(sha256: str, *, rendering: str = "") -> dict | None:
    try:
        return json.loads(info_path(sha256, rendering=rendering).read_text())
    except (OSError, ValueError):
        return None


def write_info(sha256: str, info: dict) -> None:
    final = info_path(sha256)
    tmp = scratch(final)
    tmp.write_text(json.dumps(info))
    os.replace(tmp, final)


def failure(final: Path) -> str | None:
    """Why `final` could not be made, when that was found out less than FAILED_FOR seconds ago."""
    marker = final.with_name(final.name + ".failed")
    try:
        if time.time() - marker.stat().st_mtime < FAILED_FOR:
            return marker.read_text()
    except OSError:
        pass
    return None


def remember_failure(final: Path, reason: str) -> None:
    final.parent.mkdir(parents=True, exist_ok=True)
    final.with_name(final.name + ".failed").write_text(reason)


def forget(sha256: str) -> None:
    """Everything drawn from the blob: it has left the store."""
    shutil.rmtree(folder(sha256), ignore_errors=True)
