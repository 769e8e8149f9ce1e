"""Import, first step: read a case export's manifest within limits; what every refusal is made of, and the
ImportPlan the checks hand to the restore.

Nothing here touches the database or the store. The manifest is read a chunk at a time and refused past
`ImportLimits.manifest_bytes` (the ZIP's directory may understate it), then parsed and refused when nested
deeper than any real export is, so a crafted ZIP can neither exhaust memory nor crash the parser. Its rows
are checked by transfer.rows, its files by transfer.files.
"""

import hashlib
import json
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

from api.config import get_settings
from api.services.transfer import spec

MAX_PROBLEMS = 50
# No export nests deeper than about ten levels (manifest, list, row, details, before/after, facts, list).
MAX_DEPTH = 64


class ImportRefused(Exception):
    """The export cannot be imported; nothing was written. `problems` says why, one line each."""

    def __init__(self, problems: list[str]):
        super().__init__("; ".join(problems))
        self.problems = problems


class Problems:
    """Every problem found, so one refusal names them all (up to MAX_PROBLEMS)."""

    def __init__(self):
        self.items: list[str] = []

    def add(self, text: str) -> None:
        self.items.append(text)

    def refuse_if_any(self) -> None:
        if self.items:
            shown = self.items[:MAX_PROBLEMS]
            if len(self.items) > MAX_PROBLEMS:
                shown.append(f"... and {len(self.items) - MAX_PROBLEMS} more")
            raise ImportRefused(shown)


@dataclass(frozen=True)
class ImportLimits:
    """How much an import may inflate to: the manifest, each file, all files together."""

    manifest_bytes: int
    file_bytes: int
    total_bytes: int
    depth: int = MAX_DEPTH

    @classmethod
    def from_settings(cls) -> "ImportLimits":
        s = get_settings()
        return cls(s.import_max_manifest_bytes, s.max_upload_bytes, s.import_max_total_bytes)


@dataclass
class ImportPlan:
    """What `check` found: the parsed rows (with their source ids), ready to insert, and the files to bring."""

    path: Path
    manifest_sha256: str
    manifest: dict
    case: dict
    users: list[dict]
    members: list[dict]
    sections: dict[str, list[dict]]
    placements: list[dict]
    history: list[dict]  # earlier imported history first, then the source's own events
    files: dict[str, dict]  # path -> {"sha256", "size"}
    blobs: dict[str, str]  # sha256 -> the path to read it from
    as_email: str | None = None
    again: bool = False


def read_manifest(zf: zipfile.ZipFile, limits: ImportLimits) -> tuple[str, dict]:
    """The manifest's SHA-256 and its parsed content; refused when too large or too deeply nested."""
    too_big = (
        f"{spec.MANIFEST}: inflates to more than {limits.manifest_bytes} bytes, the most this instance reads "
        "(CASEBINDER_IMPORT_MAX_MANIFEST_BYTES)"
    )
    if zf.getinfo(spec.MANIFEST).file_size > limits.manifest_bytes:
        raise ImportRefused([too_big])
    raw, digest = bytearray(), hashlib.sha256()
    try:
        with zf.open(spec.MANIFEST) as member:
            while chunk := member.read(spec.CHUNK_BYTES):
                raw += chunk
                digest.update(chunk)
                if len(raw) > limits.manifest_bytes:  # the directory understated it
                    raise ImportRefused([too_big])
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as exc:
        raise ImportRefused([f"{spec.MANIFEST}: damaged, it cannot be read back ({exc})"]) from None
    try:
        manifest = json.loads(raw)
    except RecursionError:
        raise ImportRefused([f"{spec.MANIFEST}: nested more than {limits.depth} levels deep"]) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ImportRefused([f"{spec.MANIFEST}: not valid JSON ({exc})"]) from None
    finally:
        del raw
    if nested_deeper(manifest, limits.depth):
        raise ImportRefused([f"{spec.MANIFEST}: nested more than {limits.depth} levels deep"])
    return digest.hexdigest(), manifest


def nested_deeper(value, limit: int) -> bool:
    """Whether lists and objects nest more than `limit` levels deep (walked without recursion)."""
    if not isinstance(value, dict | list):
        return False
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        children = node.values() if isinstance(node, dict) else node
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
