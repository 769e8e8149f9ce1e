"""A bundle built on a full disk fails saying so, and leaves no scratch directory and no partial file in the store.

The server runs as its own process with its data dir on a small tmpfs, mounted for the test (root only; skipped
with the reason where mounting is not permitted). The originals fit; the bundle's intermediate and final files
do not.
"""

import hashlib
import io
import os
import random
import subprocess

import pytest
from PIL import Image

from api.services import bundles as bundle_service
from tests.s3_server import local_disk_only
from tests.server_process import Instance, finished_bundle, fresh_database, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.engine, local_disk_only]

MiB = 1024 * 1024


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "small-disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=6m,mode=0755", "tmpfs", str(mount)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here ({(done.stderr or done.stdout).strip()[:200]})")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def _noise_jpeg(seed: int) -> bytes:
    """A photo-sized JPEG of noise: it does not compress, so a bundle holding it is as big as it is."""
    rng = random.Random(seed)
    image = Image.frombytes("RGB", (1100, 1100), rng.randbytes(1100 * 1100 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=95)
    return out.getvalue()


def _files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file())


def test_a_bundle_on_a_full_disk_fails_saying_so_and_leaves_nothing_behind(tmp_path, small_disk):
    url, drop = fresh_database(tmp_path)  # the database lives elsewhere: only the data dir is short of space
    server = Instance(url, small_disk / "blobs")
    server.add_user()
    server.start()
    try:
        with server.client() as http:
            case = http.post("/api/v1/cases", json={"title": "Acme v. Full", "case_type": "lanham_act"}).json()
            photos = []
            for n in range(2):
                data = _noise_jpeg(n)
                r = http.post(
                    f"/api/v1/cases/{case['id']}/evidence",
                    files={"file": (f"photo-{n}.jpg", data, "image/jpeg")},
                    data={"kind": "product_insert_card", "title": f"Insert card photo {n}"},
                )
                assert r.status_code == 201, r.text
                photos.append(r.json()["sha256"])
            stored = _files(server.data_dir / "sha256")
            free = os.statvfs(small_disk)
            assert free.f_bavail * free.f_frsize < 2 * sum(p.stat().st_size for p in stored)  # no room for a bundle

            bundle = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Too big"}).json()
            failed = finished_bundle(http, bundle["id"], seconds=180)
            assert failed["status"] == "failed", failed
            assert failed["error"] == bundle_service.DISK_FULL
            assert failed["error"].startswith("the server ran out of disk space while writing the bundle")
            assert failed["volumes"] == [] and failed["sha256"] is None

        wait_for(lambda: not list((server.data_dir / "tmp").glob("bundle-*")), seconds=30, what="the scratch directory")
        assert list((server.data_dir / "tmp").iterdir()) == []  # no staged copy either
        after = _files(server.data_dir / "sha256")
        assert after == stored  # no partial (or whole) volume in the store
        for path in after:
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name
    finally:
        server.kill()
        drop()
