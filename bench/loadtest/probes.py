"""Measured before the load, on the same cluster:

- Upload throughput through the S3 backend: the same files uploaded through casebinder's HTTP API (one node, one
  at a time) and with boto3's `upload_fileobj` straight to SeaweedFS (the AWS CLI's way); the ratio (target 0.7).
- Whether the database pool caps concurrency: a cheap GET (a page of one exhibit) timed alone, then while every
  lawyer sends an upload at once, each body trickling in over some seconds through both nodes. If a body held a
  pooled connection, the GETs would queue behind the uploads; the connections PostgreSQL sees are sampled too."""

import asyncio
import io
import time
import uuid

from bench.loadtest.cluster import POOL_OVERFLOW, POOL_SIZE, Cluster
from bench.loadtest.files import EvidenceFile, MiB, multipart
from bench.loadtest.load import API, Client
from bench.loadtest.report import percentile


async def s3_throughput(cluster: Cluster, client: Client, token: str, case_id: str, files: int, mib: int) -> dict:
    sent = [EvidenceFile(900_000_000 + n, "other", "bin", "application/octet-stream", mib * MiB) for n in range(files)]
    http = client.http
    ours = direct = 0.0
    s3 = cluster.s3.client()
    bucket = f"direct-{uuid.uuid4().hex[:8]}"  # apart from the store's bucket, whose every object verify accounts for
    s3.create_bucket(Bucket=bucket)
    for file in sent:
        boundary = uuid.uuid4().hex
        started = time.perf_counter()
        response = await http.post(
            f"{cluster.nodes[1].base_url}{API}/cases/{case_id}/evidence",
            headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
            content=multipart(file, {"kind": "other", "title": "throughput"}, boundary, [0]),
        )
        ours += time.perf_counter() - started
        assert response.status_code == 201, response.text
        data = b"".join(file.chunks())
        started = time.perf_counter()
        await asyncio.to_thread(s3.upload_fileobj, io.BytesIO(data), bucket, f"direct/{file.seed}")
        direct += time.perf_counter() - started
        del data
    total = files * mib * MiB / 1e6
    return {
        "files": f"{files} x {mib} MiB",
        "casebinder_http_mb_s": round(total / ours, 1),
        "boto3_upload_fileobj_mb_s": round(total / direct, 1),
        "ratio": round(direct / ours, 2),
    }


async def _probe(client: Client, token: str, case_id: str, until, out: list[float]) -> None:
    while not until():
        started = time.perf_counter()
        response = await client.request("probe", "GET", f"{API}/cases/{case_id}/exhibits?limit=1", token)
        if response is not None and response.status_code == 200:
            out.append((time.perf_counter() - started) * 1000)
        await asyncio.sleep(0.05)


async def _slow_upload(client: Client, token: str, case_id: str, seed: int, seconds: float) -> int:
    """8 MiB sent over about `seconds`, as from a slow line; one attempt, to node seed % 2."""
    file = EvidenceFile(seed, "other", "bin", "application/octet-stream", 8 * MiB)
    boundary = uuid.uuid4().hex

    async def trickle():
        async for piece in multipart(file, {"kind": "other", "title": "storm"}, boundary, [0]):
            for offset in range(0, len(piece), 256 * 1024):
                yield piece[offset : offset + 256 * 1024]
                await asyncio.sleep(seconds / 32)

    response = await client.http.post(
        f"{client.nodes[seed % 2]}{API}/cases/{case_id}/evidence",
        headers={"Authorization": f"Bearer {token}", "Content-Type": f"multipart/form-data; boundary={boundary}"},
        content=trickle(),
    )
    return response.status_code


async def pool_storm(cluster: Cluster, client: Client, lawyers: list[tuple[str, str]], probe_token: str, case: str):
    idle: list[float] = []
    stop_at = time.monotonic() + 8
    await _probe(client, probe_token, case, lambda: time.monotonic() > stop_at, idle)
    storm: list[float] = []
    connections: list[tuple] = []
    done = asyncio.Event()

    async def sample():
        while not done.is_set():
            name = cluster.database_url.rsplit("/", 1)[1]
            found = await asyncio.to_thread(
                cluster.sql,
                "SELECT count(*), count(*) FILTER (WHERE state = 'idle in transaction'), "
                "count(*) FILTER (WHERE state = 'active') FROM pg_stat_activity WHERE datname = %s",
                name,
            )
            connections.append(found[0])
            await asyncio.sleep(0.2)

    sampler = asyncio.create_task(sample())
    probe = asyncio.create_task(_probe(client, probe_token, case, done.is_set, storm))
    started = time.monotonic()
    statuses = await asyncio.gather(
        *(_slow_upload(client, token, case_id, 800_000_000 + n, 6.0) for n, (token, case_id) in enumerate(lawyers))
    )
    storm_seconds = time.monotonic() - started
    done.set()
    await asyncio.gather(sampler, probe)
    return {
        "uploads_at_once": len(lawyers),
        "pool_per_node": f"{POOL_SIZE} + {POOL_OVERFLOW} overflow",
        "upload_statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
        "storm_seconds": round(storm_seconds, 1),
        "cheap_get_idle_ms": {"n": len(idle), "p50": percentile(idle, 50), "p95": percentile(idle, 95)},
        "cheap_get_storm_ms": {"n": len(storm), "p50": percentile(storm, 50), "p95": percentile(storm, 95)},
        "db_connections_max": max(c[0] for c in connections),
        "idle_in_transaction_max": max(c[1] for c in connections),
        "active_max": max(c[2] for c in connections),
    }
