"""A full disk, for real: the server's data dir is a small tmpfs, so a write fails with ENOSPC as on a full volume.

Mounting needs root (or CAP_SYS_ADMIN); where it is not permitted the tests skip and say so.
"""

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from tests.helpers import rows
from tests.s3_server import local_disk_only
from tests.server_process import Instance, fresh_database

pytestmark = [pytest.mark.slow, local_disk_only]

KiB = 1024


def _mount_tmpfs(path: Path, size: str) -> None:
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs to fill up here: {done.stderr.decode().strip() or 'not permitted'}")


@pytest.fixture
def full_disk_server(tmp_path):
    """A server whose data dir is a 256 KiB filesystem: the database stays on the ordinary disk."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs as the data dir needs root")
    data_dir = tmp_path / "small"
    _mount_tmpfs(data_dir, "256k")
    url, drop = fresh_database(tmp_path)
    server = Instance(url, data_dir)
    try:
        server.add_user()
        server.start()
        yield server
    finally:
        server.kill()
        subprocess.run(["umount", "-l", str(data_dir)], check=False)
        drop()


def _files(root: Path) -> list[Path]:
    """What the store holds: not the locks of work going on (the text reader's, say), which come and go."""
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and p.name != ".staging.lock" and p.relative_to(root).parts[0] != "locks"
    ]


def test_an_upload_that_does_not_fit_gets_507_and_leaves_nothing(full_disk_server):
    server = full_disk_server
    with server.client() as api:
        case = api.post("/api/v1/cases", json={"title": "Full disk", "case_type": "lanham_act"}).json()
        fits = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("small.bin", os.urandom(16 * KiB))},
            data={"kind": "other", "title": "Fits"},
        )
        assert fits.status_code == 201, fits.text
        stored = _files(server.data_dir)

        too_big = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("large.bin", os.urandom(512 * KiB))},
            data={"kind": "other", "title": "Does not fit"},
        )
        assert too_big.status_code == 507, too_big.text
        detail = too_big.json()["detail"]
        assert "disk" in detail and "nothing was stored" in detail

        assert _files(server.data_dir) == stored  # no staged file, no partial blob
        for blob in stored:
            assert hashlib.sha256(blob.read_bytes()).hexdigest() == blob.name, f"{blob} is not what its name says"
        assert rows(server, "SELECT title FROM evidence_items") == [("Fits",)]
        listed = api.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]
        assert [e["evidence"]["title"] for e in listed] == ["Fits"]
