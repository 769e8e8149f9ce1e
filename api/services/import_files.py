"""Import, files: every file in the ZIP safely named, listed, within the size limits and hashing to what the
manifest says; the originals and bundle volumes the rows need among them; and, at restore, each one staged
into the store and taken back again if the transaction rolls back.

Sizes are checked three times, because each can lie: the manifest's listed size against the limits, the ZIP
directory's declared size against the listed one, and the bytes counted while they are read.
"""

import hashlib
import re
import shutil
import zipfile
import zlib

from sqlalchemy import select
from sqlmodel import Session, col

from api.db import on_commit, on_rollback
from api.services import case_export as spec
from api.services.import_manifest import ImportLimits, ImportRefused, Problems
from api.services.import_rows import listed
from api.storage import BlobStore, StagedBlob, stage_stream
from models.bundle import Bundle, BundleStatus
from models.common import is_sha256_hex
from models.evidence import EvidenceItem


def unsafe_name(name: str) -> str | None:
    """Why a name in the ZIP could escape or confuse a directory it is extracted to (None when it is safe)."""
    if not name:
        return "an empty name"
    if "\\" in name:
        return "a backslash"
    if name.startswith("/") or re.match(r"^[A-Za-z]:", name):
        return "an absolute path"
    if "\x00" in name or any(ord(c) < 32 for c in name):
        return "a control character"
    if any(part in ("", ".", "..") for part in name.split("/")):
        return "a '..', '.' or empty path segment"
    return None


def check_names(zf: zipfile.ZipFile) -> set[str]:
    """The ZIP's entry names, refused when any is unsafe or repeated, or when there is no manifest."""
    problems = Problems()
    seen: set[str] = set()
    for info in zf.infolist():
        name = info.filename
        if why := unsafe_name(name):
            problems.add(f"ZIP entry {name!r}: refused, the name has {why}")
        if name in seen:
            problems.add(f"ZIP entry {name!r}: appears twice")
        seen.add(name)
    if spec.MANIFEST not in seen:
        problems.add(f"the ZIP has no {spec.MANIFEST}: it is not a casebinder case export")
    problems.refuse_if_any()
    return seen


def _listed_files(manifest: dict, problems: Problems) -> dict[str, dict]:
    files: dict[str, dict] = {}
    for i, entry in enumerate(listed(manifest, "files", problems)):
        if not isinstance(entry, dict) or set(entry) != {"path", "sha256", "size"}:
            problems.add(f"files[{i}]: expected an object with path, sha256 and size")
            continue
        name, sha256, size = entry["path"], entry["sha256"], entry["size"]
        if not isinstance(name, str) or (why := unsafe_name(name)):
            problems.add(f"files[{i}] {name!r}: refused, the path has {why or 'no text'}")
            continue
        if not isinstance(sha256, str) or not is_sha256_hex(sha256) or type(size) is not int or size < 0:
            problems.add(f"files[{i}] {name}: sha256 must be a hex digest and size a byte count")
            continue
        if name in files or name == spec.MANIFEST:
            problems.add(f"files[{i}] {name}: listed twice")
            continue
        files[name] = {"sha256": sha256, "size": size}
    return files


def check_files(
    zf: zipfile.ZipFile, manifest: dict, names: set[str], limits: ImportLimits, problems: Problems
) -> dict[str, dict]:
    """Every listed file present, within the limits, and hashing to its listed SHA-256 and size; nothing
    unlisted. Sizes are checked before a byte is read, so an oversized export costs no hashing."""
    files = _listed_files(manifest, problems)
    for name in sorted(names - files.keys() - {spec.MANIFEST}):
        problems.add(f"ZIP entry {name}: not listed in the manifest's files")
    sized = True
    for name, entry in files.items():
        if name not in names:
            problems.add(f"{name}: listed in the manifest but missing from the ZIP")
            sized = False
            continue
        declared = zf.getinfo(name).file_size
        if max(entry["size"], declared) > limits.file_bytes:
            problems.add(
                f"{name}: {max(entry['size'], declared)} bytes, more than the largest file this instance accepts "
                f"({limits.file_bytes} bytes, CASEBINDER_MAX_UPLOAD_BYTES)"
            )
            sized = False
        elif declared != entry["size"]:
            problems.add(f"{name}: the ZIP says it inflates to {declared} bytes, the manifest lists {entry['size']}")
            sized = False
    total = sum(entry["size"] for entry in files.values())
    if total > limits.total_bytes:
        problems.add(
            f"the files add up to {total} bytes, more than one import may bring here "
            f"({limits.total_bytes} bytes, CASEBINDER_IMPORT_MAX_TOTAL_BYTES)"
        )
        sized = False
    if not sized:
        return files
    for name, entry in files.items():
        actual = hash_member(zf, name, entry["size"])
        if isinstance(actual, str):
            problems.add(f"{name}: damaged, it cannot be read back ({actual})")
        elif actual != (entry["sha256"], entry["size"]):
            problems.add(
                f"{name}: hashes to {actual[0]} ({actual[1]} bytes), but the manifest says {entry['sha256']} "
                f"({entry['size']} bytes)"
            )
    return files


def hash_member(zf: zipfile.ZipFile, name: str, limit: int) -> tuple[str, int] | str:
    """(sha256, size) of a ZIP member, read in chunks and never past limit + 1 bytes; or why it cannot be read."""
    digest, size = hashlib.sha256(), 0
    try:
        with zf.open(name) as member:
            while chunk := member.read(spec.CHUNK_BYTES):
                digest.update(chunk)
                size += len(chunk)
                if size > limit:
                    break
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError) as exc:
        return str(exc)
    return digest.hexdigest(), size


def needed_blobs(sections: dict[str, list[dict]], files: dict[str, dict], problems: Problems) -> dict[str, str]:
    """Every original (unless purged) and every done bundle volume must come with its file: an import stores
    only bytes it brings, and a purged item comes without any."""
    blobs: dict[str, str] = {}

    def need(path: str, sha256: str, size: int, what: str) -> None:
        entry = files.get(path)
        if entry is None:
            problems.add(f"{what}: its file {path} is not in the export")
        elif (entry["sha256"], entry["size"]) != (sha256, size):
            problems.add(f"{what}: the manifest lists {path} with another sha256 or size than the row")
        else:
            blobs.setdefault(sha256, path)

    for row in sections["evidence"]:
        if row["purged_at"] is None:
            need(spec.evidence_path(row["sha256"]), row["sha256"], row["size_bytes"], f"evidence {row['id']}")
    for row in sections["bundles"]:
        if row["status"] == BundleStatus.done:
            for volume in row["volumes"] if isinstance(row["volumes"], list) else []:
                try:
                    path = spec.volume_path(row["id"], volume["number"])
                    need(path, volume["sha256"], volume["size_bytes"], f"bundle {row['id']} volume {volume['number']}")
                except (KeyError, TypeError):
                    problems.add(f"bundle {row['id']}: a volume lacks number, sha256 or size_bytes")
        elif row["status"] != BundleStatus.failed:
            problems.add(f"bundle {row['id']}: status {row['status']!r} cannot be imported (done or failed only)")
    return blobs


def check_space(store: BlobStore, blobs: dict[str, str], files: dict[str, dict]) -> None:
    """Refuse up front when the store's disk cannot hold the files this import adds."""
    root = getattr(store, "root", None)
    if root is None:
        return
    needed = sum(files[path]["size"] for sha256, path in blobs.items() if not store.exists(sha256))
    free = shutil.disk_usage(root).free
    if needed > free:
        raise ImportRefused(
            [f"the import adds {needed} bytes of files, but the disk holding {root} has {free} bytes free"]
        )


class _Capped:
    """A ZIP member read no further than its listed size: one that grew since it was checked is refused."""

    def __init__(self, member, name: str, size: int):
        self.member, self.name, self.left = member, name, size

    def read(self, n: int = -1) -> bytes:
        chunk = self.member.read(spec.CHUNK_BYTES if n is None or n < 0 else n)
        self.left -= len(chunk)
        if self.left < 0:
            raise ImportRefused([f"{self.name}: changed while it was being imported"])
        return chunk


def stage_blobs(session: Session, store: BlobStore, zf: zipfile.ZipFile, blobs: dict[str, str], files) -> int:
    """Copy each needed file into the store; in place before the commit, taken back if the transaction rolls back."""
    bind = session.get_bind()
    added = 0
    for sha256, name in blobs.items():
        with zf.open(name) as member:
            staged = stage_stream(store, _Capped(member, name, files[name]["size"]))
        if staged.sha256 != sha256:  # the ZIP changed since it was checked
            staged.discard()
            raise ImportRefused([f"{name}: changed while it was being imported"])
        try:
            created = staged.commit()
        except BaseException:  # a full disk while putting it in place: the staged copy goes too
            staged.settle(committed=False)
            raise
        added += created
        on_commit(session, lambda s=staged: s.settle(committed=True))
        on_rollback(session, lambda s=staged, c=created: _undo_blob(store, s, c, bind))
    return added


def _undo_blob(store: BlobStore, staged: StagedBlob, created: bool, bind) -> None:
    """After a rollback: drop the staged copy, and the stored blob if this import made it and nothing uses it."""
    staged.settle(committed=False)
    if not created:
        return
    with Session(bind) as check_session:
        kept = select(EvidenceItem.id).where(
            col(EvidenceItem.sha256) == staged.sha256, col(EvidenceItem.purged_at).is_(None)
        )
        if check_session.execute(kept).first():
            return
        for volumes in check_session.execute(
            select(Bundle.volumes).where(Bundle.status == BundleStatus.done)
        ).scalars():
            if any(v.get("sha256") == staged.sha256 for v in volumes or []):
                return
    store.delete(staged.sha256)
