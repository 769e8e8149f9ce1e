"""Import bombs and a full disk: `casebinder import` refuses what would exhaust memory, disk or the parser,
with a message and without writing anything, and a disk that fills up midway takes back what it wrote.

Each case is scaled down with the limit settings (a manifest cap of 1 MiB stands for 256 MiB), so the tests
stay small; the code path is the same. The full-disk tests mount a small tmpfs as the data dir (root only).
"""

import hashlib
import io
import json
import os
import subprocess
import uuid
import zipfile

import pytest

from tests.helpers import new_actor, rezip, snapshot
from tests.server_process import BIN, ROOT, Instance, fresh_database

pytestmark = pytest.mark.slow

MiB = 1024 * 1024


def run(instance: Instance, *args: str, **settings) -> subprocess.CompletedProcess:
    """`casebinder` on an instance, with CASEBINDER_* settings given as keyword arguments."""
    env = instance.env | {f"CASEBINDER_{k.upper()}": str(v) for k, v in settings.items()}
    return subprocess.run([str(BIN), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def export(client, corpus):
    """A real export: a case with a screenshot, a PDF and a text record."""
    owner = new_actor(client)
    case = owner.make_case(title="Limits v. Bombs")
    for f in [next(f for f in corpus if f.path.suffix == s) for s in (".png", ".pdf")]:
        r = owner.upload(case["id"], f.path.read_bytes(), filename=f.path.name, kind=f.kind, title=f.title)
        assert r.status_code == 201, r.text
    r = owner.upload(case["id"], b"a small record " + uuid.uuid4().bytes, filename="record.txt", title="Record")
    assert r.status_code == 201, r.text
    r = owner.get(f"/api/v1/cases/{case['id']}/export")
    assert r.status_code == 200, r.text
    return r.content


@pytest.fixture(scope="module")
def empty(tmp_path_factory):
    """An instance every refused import is tried against: it must stay exactly as it was."""
    root = tmp_path_factory.mktemp("limits")
    url, drop = fresh_database(root)
    yield Instance(url, root / "blobs")
    drop()


def refused(instance: Instance, path, message: str, **settings) -> str:
    before = snapshot(instance)
    result = run(instance, "import", str(path), **settings)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "refused; nothing was written" in result.stderr and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(instance) == before
    return result.stderr


def manifest_member(data: bytes) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        return json.loads(zf.read("manifest.json"))


def test_a_manifest_that_inflates_past_the_cap_is_refused_unread(export, empty, tmp_path):
    """A few KiB of ZIP whose manifest inflates to 8 MiB (whitespace JSON allows), with a cap of 1 MiB."""
    padded = json.dumps(manifest_member(export)).encode() + b" " * (8 * MiB)
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zipfile.ZipFile(io.BytesIO(export)) as src:
        zf.writestr("manifest.json", padded)
        for name in src.namelist():
            if name != "manifest.json":
                zf.writestr(name, src.read(name))
    assert path.stat().st_size < MiB
    refused(empty, path, "inflates to more than 1048576 bytes", import_max_manifest_bytes=MiB)


def understated(data: bytes, member: str) -> bytes:
    """The ZIP with `member`'s inflated size in the central directory set to 100 bytes: a directory that lies."""
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        offset = zf.start_dir
        infos = zf.infolist()
    out = bytearray(data)
    at = offset
    for info in infos:
        assert out[at : at + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = (int.from_bytes(out[at + i : at + i + 2], "little") for i in (28, 30, 32))
        if info.filename == member:
            out[at + 24 : at + 28] = (100).to_bytes(4, "little")
        at += 46 + name_len + extra_len + comment_len
    return bytes(out)


def test_a_zip_directory_that_understates_a_size_is_refused(export, empty, tmp_path):
    """Reading stops at the size the directory declares, and the checksum then fails: the bytes past it are
    never read, whatever the limits."""
    path = tmp_path / "lying.zip"
    plain = rezip(export)  # a ZIP without zip64 extras, so the directory's 32-bit size is the one read
    path.write_bytes(understated(plain, "manifest.json"))
    refused(empty, path, "Bad CRC-32 for file 'manifest.json'")


def test_a_file_larger_than_an_upload_may_be_is_refused_before_it_is_read(export, empty, tmp_path):
    """A real 8 MiB file of zeros (8 KiB deflated), listed with its true hash, where uploads stop at 1 MiB."""
    body = bytes(8 * MiB)
    name = f"evidence/{hashlib.sha256(body).hexdigest()}"

    def edit(manifest):
        manifest["files"].append({"path": name, "sha256": hashlib.sha256(body).hexdigest(), "size": len(body)})

    path = tmp_path / "big.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf, zipfile.ZipFile(io.BytesIO(export)) as src:
        manifest = json.loads(src.read("manifest.json"))
        edit(manifest)
        zf.writestr("manifest.json", json.dumps(manifest))
        for member in src.namelist()[1:]:
            zf.writestr(member, src.read(member))
        zf.writestr(name, body)
    assert path.stat().st_size < MiB
    refused(empty, path, f"{name}: 8388608 bytes, more than the largest file", max_upload_bytes=MiB)


def test_files_adding_up_past_the_total_cap_are_refused(export, empty, tmp_path):
    path = tmp_path / "case.zip"
    path.write_bytes(export)
    total = sum(f["size"] for f in manifest_member(export)["files"])
    refused(empty, path, f"the files add up to {total} bytes", import_max_total_bytes=total - 1)


def test_a_deeply_nested_manifest_is_refused_without_a_traceback(export, empty, tmp_path):
    path = tmp_path / "deep.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("manifest.json", "[" * 200_000 + "]" * 200_000)
    refused(empty, path, "nested more than 64 levels deep")

    def nest(manifest):  # deep, but not deep enough to trouble the parser: the depth check catches it
        value = "bottom"
        for _ in range(100):
            value = {"x": value}
        manifest["evidence"][0]["facts"] = value

    path.write_bytes(rezip(export, edit=nest))
    refused(empty, path, "nested more than 64 levels deep")


# --- a full disk --------------------------------------------------------------------------------------------


@pytest.fixture
def small_disk(tmp_path):
    """Factory: an instance whose data dir is a tmpfs of the given size and inode count (its database
    elsewhere); unmounted and dropped afterwards."""
    made = []

    def mount(*, size: int, inodes: int) -> Instance:
        if os.geteuid() != 0:
            pytest.skip("mounting a small tmpfs needs root")
        point, db = tmp_path / f"disk{len(made)}", tmp_path / f"db{len(made)}"
        point.mkdir()
        db.mkdir()
        done = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size},nr_inodes={inodes},mode=0755", "tmpfs", str(point)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
        url, drop = fresh_database(db)
        made.append((point, drop))
        return Instance(url, point, settings={"CASEBINDER_BLOB_BACKEND": "local"})  # the store on that disk

    yield mount
    for point, drop in made:
        subprocess.run(["umount", str(point)], check=False)
        drop()


def test_files_that_do_not_fit_on_the_disk_are_refused_up_front(export, small_disk, tmp_path):
    instance = small_disk(size=32 * 1024, inodes=100)
    path = tmp_path / "case.zip"
    path.write_bytes(export)
    needed = sum(f["size"] for f in manifest_member(export)["files"])
    assert needed > 32 * 1024
    message = refused(instance, path, f"the import adds {needed} bytes of files, but the disk holding")
    assert "bytes free" in message


def test_a_disk_that_fills_up_midway_takes_back_everything(export, small_disk, tmp_path):
    """Enough bytes, but one inode too few for the last file: the files put in place before it and the staged
    copy are all removed, no row is written, and the command says so in one line."""
    files = manifest_member(export)["files"]
    hashes = [f["sha256"] for f in files]
    # The root, tmp/ and sha256/, then per file its staged copy (renamed into place) and any new ab/ and ab/cd/.
    inodes = 3 + len(hashes) + len({h[:2] for h in hashes}) + len({h[:4] for h in hashes})
    instance = small_disk(size=16 * MiB, inodes=inodes - 1)
    path = tmp_path / "case.zip"
    path.write_bytes(export)
    before = snapshot(instance)
    result = run(instance, "import", str(path))
    assert result.returncode == 2, result.stdout + result.stderr
    [line] = result.stderr.splitlines()
    assert "failed; nothing was written: the disk holding the store is full" in line, line
    assert snapshot(instance) == before  # no row, no blob, no staged copy
    checked = run(instance, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
