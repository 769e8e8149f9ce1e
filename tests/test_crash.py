"""Crash safety: the real server, killed with SIGKILL mid-upload and mid-build, then started again.

The kill goes to the server's whole process group (the bundle worker included), as when a host or container
dies. Nothing gets to run shutdown code; whatever the next start-up finds is what a real crash leaves.
"""

import hashlib
import socket
import uuid

import pytest

from tests.helpers import rows
from tests.s3_server import local_disk_only
from tests.server_process import Instance, finished_bundle, serving, wait_for

pytestmark = pytest.mark.slow

MiB = 1024 * 1024
UPLOAD_BYTES = 200 * MiB


@pytest.fixture
def instance(tmp_path):
    with serving(tmp_path) as server:
        yield server


def staged(instance: Instance) -> list:
    return sorted(p for p in (instance.data_dir / "tmp").iterdir())


def assert_store_consistent(instance: Instance) -> None:
    """Every blob at a final path hashes to its name, every row has its blob, and `casebinder verify` agrees."""
    env = instance.env
    if env.get("CASEBINDER_BLOB_BACKEND") == "s3":  # each object's hash is checked by verify, which reads it back
        stored = set(_bucket_blobs(env))
    else:
        stored = set()
        for path in (instance.data_dir / "sha256").rglob("*"):
            if path.is_file():
                digest = hashlib.sha256()
                with open(path, "rb") as f:
                    while chunk := f.read(MiB):
                        digest.update(chunk)
                assert digest.hexdigest() == path.name, f"partial or foreign file at a final path: {path}"
                stored.add(path.name)
    for evidence_id, sha256 in rows(instance, "SELECT id, sha256 FROM evidence_items"):
        assert sha256 in stored, evidence_id
    report = instance.cli("verify")
    assert report.returncode == 0, report.stdout + report.stderr


def _bucket_blobs(env: dict) -> list[str]:
    """The digests of the blobs at final keys in the instance's bucket."""
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=env["CASEBINDER_S3_ENDPOINT_URL"],
        aws_access_key_id=env["CASEBINDER_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["CASEBINDER_S3_SECRET_ACCESS_KEY"],
        config=Config(region_name=env["CASEBINDER_S3_REGION"], s3={"addressing_style": "path"}),
    )
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=env["CASEBINDER_S3_BUCKET"], Prefix="sha256/")
    return [obj["Key"].rsplit("/", 1)[1] for page in pages for obj in page.get("Contents", [])]


def start_raw_upload(instance: Instance, case_id: str, size: int) -> tuple[socket.socket, bytes]:
    """Open a multipart upload of `size` file bytes by hand; returns the socket with headers and fields sent."""
    boundary = f"crash-{uuid.uuid4().hex}"
    fields = "".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in (("kind", "other"), ("title", "Half-sent capture"))
    )
    head = (
        f"{fields}--{boundary}\r\n"
        'Content-Disposition: form-data; name="file"; filename="capture.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    tail = f"\r\n--{boundary}--\r\n".encode()
    request = (
        f"POST /api/v1/cases/{case_id}/evidence HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{instance.port}\r\n"
        f"Authorization: Bearer {instance.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + size + len(tail)}\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", instance.port), timeout=30)
    sock.sendall(request + head)
    return sock, tail


@local_disk_only
def test_kill_mid_upload_leaves_no_row_no_partial_blob_and_staging_is_swept(instance):
    with instance.client() as http:
        case = http.post("/api/v1/cases", json={"title": "Acme v. Crash", "case_type": "lanham_act"}).json()
        before = http.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("kept.txt", b"an upload that finished before the crash")},
            data={"kind": "other", "title": "Finished"},
        )
        assert before.status_code == 201, before.text

    block = hashlib.sha256(b"seed").digest() * (MiB // 32)  # 1 MiB, incompressible enough
    sock, _ = start_raw_upload(instance, case["id"], UPLOAD_BYTES)
    try:
        sent = 0
        while sent < UPLOAD_BYTES // 2:
            sock.sendall(block)
            sent += len(block)
        # Kill once the server has staged a good part of what was sent, so the kill lands mid-write.
        partial = wait_for(
            lambda: [p for p in staged(instance) if p.name.startswith("upload-") and p.stat().st_size >= 64 * MiB],
            seconds=30,
            what="the upload to reach the staging file",
        )
        instance.kill()
    finally:
        sock.close()

    [leftover] = partial
    assert leftover.exists() and leftover.stat().st_size < UPLOAD_BYTES  # what the crash left behind
    titles = [t for (t,) in rows(instance, "SELECT title FROM evidence_items")]
    assert titles == ["Finished"]

    instance.start()
    assert staged(instance) == []  # swept at start-up, though only seconds old
    assert_store_consistent(instance)
    with instance.client() as http:
        listed = http.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]
        assert [e["evidence"]["title"] for e in listed] == ["Finished"]
        content = http.get(f"/api/v1/evidence/{before.json()['id']}/content")
        assert content.content == b"an upload that finished before the crash"


def start_build(instance: Instance, files: list) -> dict:
    """A case of the 18 exhibits of `files` (the `build_corpus` fixture) and its bundle, caught while it is running."""
    with instance.client() as http:
        case = http.post(
            "/api/v1/cases", json={"title": "Acme v. Build", "case_type": "lanham_act", "bates_prefix": "ACME"}
        ).json()
        for f in files:
            r = http.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": (f.path.name, f.path.read_bytes())},
                data={"kind": f.kind, "title": f.title},
            )
            assert r.status_code == 201, r.text
        bundle = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Trial Exhibits"}).json()
        running = wait_for(
            lambda: (b := http.get(f"/api/v1/bundles/{bundle['id']}").json())["status"] != "queued" and b,
            seconds=60,
            what="the build to start",
            interval=0.02,
        )
    assert running["status"] == "running", running  # still building when the kill or the second start lands
    return bundle


@local_disk_only
def test_kill_mid_build_marks_the_bundle_failed_and_it_rebuilds(instance, build_corpus):
    bundle = start_build(instance, build_corpus)
    instance.kill()

    instance.start()
    assert staged(instance) == []  # the build's scratch directory went with the sweep
    with instance.client() as http:
        failed = http.get(f"/api/v1/bundles/{bundle['id']}").json()
        assert failed["status"] == "failed", failed
        assert failed["error"] == "the build was interrupted because the server stopped; rebuild the bundle"
        assert failed["volumes"] == [] and failed["sha256"] is None
        assert http.get(f"/api/v1/bundles/{bundle['id']}/pdf").status_code == 409

        assert http.post(f"/api/v1/bundles/{bundle['id']}/rebuild").status_code == 202
        done = finished_bundle(http, bundle["id"], seconds=120)
        assert done["status"] == "done", done
        assert done["bates_first"] == "ACME000001"
        pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf")
        assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == done["sha256"]
    assert_store_consistent(instance)


@local_disk_only
def test_a_second_server_starting_leaves_a_live_build_alone(instance, build_corpus):
    """Another server on the same database and data dir starts mid-build: the build is not its to fail."""
    bundle = start_build(instance, build_corpus)
    second = Instance(instance.database_url, instance.data_dir, token=instance.token, logs=list(instance.logs))
    second.start()
    try:
        with instance.client() as http:
            done = wait_for(
                lambda: (b := http.get(f"/api/v1/bundles/{bundle['id']}").json())["status"] != "running" and b,
                seconds=120,
                what="the build",
                interval=0.2,
            )
        assert done["status"] == "done", done
        [(failures,)] = rows(instance, "SELECT count(*) FROM audit_events WHERE action = 'bundle.failed'")
        assert failures == 0
    finally:
        second.kill()
    assert_store_consistent(instance)


def test_a_starting_server_keeps_the_fresh_uploads_of_a_live_one(tmp_path):
    """With two servers on one data dir, the second start-up must not sweep the first one's live upload."""
    from api.storage import LocalBlobStore

    first, second = LocalBlobStore(tmp_path), LocalBlobStore(tmp_path)
    first.claim_staging()
    writer = first.writer()
    writer.write(b"still arriving")
    second.claim_staging()
    assert writer.path.exists()
    writer.abort()
    (tmp_path / "tmp" / "upload-old").write_bytes(b"left by a crash")
    first._staging_lock.close()  # both servers gone: the next start-up is alone and sweeps everything
    second._staging_lock.close()
    assert LocalBlobStore(tmp_path).claim_staging() == 1
    assert staged_dir_is_empty(tmp_path)


def staged_dir_is_empty(root) -> bool:
    return list((root / "tmp").iterdir()) == []


def test_a_build_whose_server_died_is_failed_by_a_live_server_without_a_restart(instance, build_corpus):
    """Two servers on one database: the one building is killed, and the other (which could be on another host,
    on PostgreSQL) notices within its next recovery round, not at a start of the dead one."""
    from api.runners import IDLE_WAIT

    recover_every = 5  # CASEBINDER_RUNNER_RECOVER_SECONDS, 60 by default
    instance.stop()
    instance.settings["CASEBINDER_RUNNER_RECOVER_SECONDS"] = str(recover_every)
    instance.start()
    second = Instance(
        instance.database_url,
        instance.data_dir,
        token=instance.token,
        logs=list(instance.logs),
        settings=dict(instance.settings),
    )
    second.start()
    try:
        bundle = start_build(instance, build_corpus)
        builders = [server for server in (instance, second) if holds_lease(server, f"bundle-{bundle['id']}")]
        assert len(builders) == 1
        [survivor] = [server for server in (instance, second) if server is not builders[0]]
        builders[0].kill()
        with survivor.client() as http:
            failed = finished_bundle(http, bundle["id"], seconds=recover_every + IDLE_WAIT + 30)
        assert failed["status"] == "failed", failed
        assert failed["error"] == "the build was interrupted because the server stopped; rebuild the bundle"
    finally:
        second.kill()


def holds_lease(server: Instance, name: str) -> bool:
    """Whether the server's process (or one it started) holds the lease `name`, by the database's or kernel's word."""
    if server.database_url.startswith("postgresql"):
        from tests.test_job_queue import lease_holder_pid

        return lease_holder_pid(server, name) == server.proc.pid
    lock = server.data_dir / "locks" / f"{name}.lock"
    held = [line for line in open("/proc/locks").read().splitlines() if f":{lock.stat().st_ino} " in line]
    return any(f" {server.proc.pid} " in line for line in held)
