"""`casebinder verify`, run as a real process against a store with real uploads and a real bundle.

The instance has a database and data dir of its own: the suite's shared ones hold rows from other tests
(the demo command's, say) whose blobs live elsewhere, so only a store of its own can be verified clean.
"""

import hashlib
import os
import re
import time

import pytest

from tests.server_process import Instance, fresh_database, wait_for


@pytest.fixture(scope="module")
def store(tmp_path_factory, corpus):
    tmp = tmp_path_factory.mktemp("verify")
    url, drop = fresh_database(tmp)
    instance = Instance(url, tmp / "blobs")
    instance.add_user()
    instance.start()
    try:
        with instance.client() as http:
            case = http.post("/api/v1/cases", json={"title": "Acme v. Verify", "case_type": "lanham_act"}).json()
            items = []
            for f in corpus[:3]:
                r = http.post(
                    f"/api/v1/cases/{case['id']}/evidence",
                    files={"file": (f.path.name, f.path.read_bytes())},
                    data={"kind": f.kind, "title": f.title},
                )
                assert r.status_code == 201, r.text
                items.append(r.json())
            bundle = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Verify"}).json()
            bundle = wait_for(
                lambda: (b := http.get(f"/api/v1/bundles/{bundle['id']}").json())["status"] in ("done", "failed") and b,
                seconds=120,
                what="the bundle build",
                interval=0.2,
            )
            assert bundle["status"] == "done", bundle
    finally:
        instance.kill()
    yield instance, items, bundle
    drop()


def blob_path(instance: Instance, sha256: str):
    return instance.data_dir / "sha256" / sha256[:2] / sha256[2:4] / sha256


def verify(instance: Instance):
    started = time.monotonic()
    result = instance.cli("verify")
    assert result.returncode in (0, 1), result.stderr
    return result, time.monotonic() - started


def findings(stdout: str) -> list[str]:
    return [line for line in stdout.splitlines() if re.match(r"^(MISSING|CORRUPT|ORPHAN) ", line)]


def test_a_clean_store_passes(store):
    instance, items, bundle = store
    result, _ = verify(instance)
    assert result.returncode == 0, result.stdout
    assert findings(result.stdout) == []
    assert "originals re-hashed" in result.stdout and "bundle volumes re-hashed" in result.stdout
    assert f"checked {len(items)} originals ({len(items)} evidence items), 1 bundle volumes" in result.stdout
    assert result.stdout.rstrip().endswith("OK: no findings")


def test_a_flipped_byte_is_reported_with_the_evidence_id(store):
    instance, items, _ = store
    item = items[1]
    path = blob_path(instance, item["sha256"])
    original = path.read_bytes()
    os.chmod(path, 0o640)  # originals are stored read-only
    try:
        with open(path, "r+b") as f:
            f.seek(len(original) // 2)
            f.write(bytes([original[len(original) // 2] ^ 0x01]))
        result, _ = verify(instance)
        assert result.returncode == 1
        [line] = findings(result.stdout)
        assert line.startswith("CORRUPT") and f"evidence {item['id']}" in line and str(path) in line
        flipped = hashlib.sha256(path.read_bytes()).hexdigest()
        assert f"bytes hash to {flipped}, not {item['sha256']}" in line
        assert "FAILED: 1 finding(s): 1 corrupt" in result.stdout
    finally:
        path.write_bytes(original)
        os.chmod(path, 0o440)
    assert verify(instance)[0].returncode == 0


def test_a_missing_original_and_a_missing_bundle_volume_are_reported(store):
    instance, items, bundle = store
    item, volume = items[0], bundle["volumes"][0]
    moved = []
    try:
        for sha256 in (item["sha256"], volume["sha256"]):
            path = blob_path(instance, sha256)
            path.rename(path.with_name(f"{sha256}.aside"))
            moved.append(path)
        result, _ = verify(instance)
        assert result.returncode == 1
        lines = findings(result.stdout)
        missing = [line for line in lines if line.startswith("MISSING")]
        assert len(missing) == 2, result.stdout
        assert any(f"evidence {item['id']}" in line and str(moved[0]) in line for line in missing)
        assert any(f"bundle {bundle['id']} volume 1" in line for line in missing)
        # The moved-aside copies are not where any row expects them: blobs without rows.
        assert len([line for line in lines if line.startswith("ORPHAN")]) == 2
    finally:
        for path in moved:
            path.with_name(f"{path.name}.aside").rename(path)
    assert verify(instance)[0].returncode == 0


def test_a_blob_without_a_row_is_reported_and_kept(store):
    instance, _, _ = store
    stray = instance.data_dir / "sha256" / "ab" / "cd"
    stray.mkdir(parents=True, exist_ok=True)
    data = b"dropped here by hand"
    planted = [stray / hashlib.sha256(data).hexdigest(), stray / "notes.txt"]
    try:
        for path in planted:
            path.write_bytes(data)
        result, _ = verify(instance)
        assert result.returncode == 1
        lines = findings(result.stdout)
        assert len(lines) == 2 and all(line.startswith("ORPHAN") for line in lines)
        for path in planted:
            assert any(str(path) in line for line in lines)
            assert path.read_bytes() == data  # verify deletes nothing
    finally:
        for path in planted:
            path.unlink(missing_ok=True)
    assert verify(instance)[0].returncode == 0
