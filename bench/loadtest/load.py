"""The load: lawyers (one account each, five of them to a case) uploading, listing exhibits, paging timelines and
downloading originals (each download's SHA-256 checked against what was uploaded), and a clerk building bundles
(and downloading them, the PDF's SHA-256 checked against the bundle's). A bounded asyncio client: each lawyer
does one thing at a time, with a pause between.

Requests go to the nodes in turn; one that cannot be reached (refused, or its connection cut mid-request) is left
alone for a moment and the request is sent again to the other: a client's retry, as a proxy in front would not
do for a request that reached a node. Every attempt is recorded, with the time it started and ended."""

import asyncio
import hashlib
import random
import time
import uuid
from dataclasses import dataclass, field

import httpx

from bench.loadtest.files import EvidenceFile, multipart, pick

API = "/api/v1"


@dataclass
class Attempt:
    op: str
    start: float  # seconds since the run's start
    end: float
    status: int  # 0: no answer (connection refused or cut)
    node: int
    up: int = 0
    down: int = 0
    note: str = ""


@dataclass
class Client:
    nodes: list[str]
    t0: float
    attempts: list[Attempt] = field(default_factory=list)
    down_until: list[float] = field(default_factory=list)
    in_flight: dict[int, dict] = field(default_factory=dict)  # uploads on their way: id -> node, file, sent
    recovered: list[str] = field(default_factory=list)  # requests answered after a try that got no answer
    faults_over_at: float | None = None  # the lawyers work on until 10 s after the last fault, if that is later

    def working(self, until: float) -> bool:
        over = self.faults_over_at
        return self.now() < until or over is None or self.now() < over + 10

    turn: int = 0
    http: httpx.AsyncClient | None = None

    def __post_init__(self):
        self.down_until = [0.0] * len(self.nodes)
        limits = httpx.Limits(max_connections=400, max_keepalive_connections=200)
        self.http = httpx.AsyncClient(limits=limits, timeout=httpx.Timeout(300, connect=5))

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _node(self) -> int:
        self.turn += 1
        order = [(self.turn + i) % len(self.nodes) for i in range(len(self.nodes))]
        return next((n for n in order if self.down_until[n] < time.monotonic()), order[0])

    async def request(self, op: str, method: str, path: str, token: str, *, body=None, json=None, file=None, sha=None):
        """One operation, sent again to the other node when no answer came (up to 4 tries). Returns the
        response (its body read) or None."""
        for tries in range(4):
            node = self._node()
            start = self.now()
            sent = [0]
            key = id(sent)
            headers = {"Authorization": f"Bearer {token}"}
            content = None
            if file is not None:
                boundary = uuid.uuid4().hex
                headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
                content = multipart(file, body, boundary, sent)
                self.in_flight[key] = {"node": node, "file": file, "sent": sent}
            try:
                async with self.http.stream(
                    method, self.nodes[node] + path, headers=headers, content=content, json=json
                ) as response:
                    if sha is None:
                        await response.aread()
                        down = len(response.content)
                    else:  # a download: hashed as it arrives, not kept
                        digest, down = hashlib.sha256(), 0
                        async for piece in response.aiter_bytes(1024 * 1024):
                            digest.update(piece)
                            down += len(piece)
                        response.digest = digest.hexdigest()
            except httpx.TransportError as exc:
                self.down_until[node] = time.monotonic() + 2
                self.attempts.append(Attempt(op, start, self.now(), 0, node, sent[0], note=type(exc).__name__))
                await asyncio.sleep(0.2)
                continue
            finally:
                self.in_flight.pop(key, None)
            note = ""
            if response.status_code >= 400 and sha is None:
                note = response.text[:200]
            self.attempts.append(Attempt(op, start, self.now(), response.status_code, node, sent[0], down, note))
            if tries:
                self.recovered.append(f"{op} {file.filename if file else path} {response.status_code}")
            return response
        return None


@dataclass
class Tally:
    uploaded: int = 0
    upload_sha_mismatch: int = 0
    downloads_checked: int = 0
    download_sha_mismatch: int = 0
    failed_then_stored: int = 0
    never_stored: int = 0
    bundles: list[dict] = field(default_factory=list)


async def lawyer(client: Client, tally: Tally, token: str, case_id: str, number: int, until: float) -> None:
    rng = random.Random(number)
    mine: list[tuple[str, str, int]] = []  # evidence id, sha256, size
    pending: list[EvidenceFile] = []  # uploads refused for a while (503): sent again later, nothing lost
    seed = number * 1_000_000
    while client.working(until):
        roll = rng.random()
        if roll < 0.30 or not mine:
            if pending and rng.random() < 0.5:
                file = pending.pop(0)
            else:
                seed += 1
                file = pick(rng, seed)
            await upload(client, tally, token, case_id, file, mine, pending, rng)
        elif roll < 0.60:
            await client.request("list exhibits", "GET", f"{API}/cases/{case_id}/exhibits?limit=50", token)
        elif roll < 0.80:
            cursor = None
            for _ in range(rng.randint(1, 3)):
                path = f"{API}/cases/{case_id}/timeline?limit=50" + (f"&cursor={cursor}" if cursor else "")
                response = await client.request("timeline page", "GET", path, token)
                if response is None or response.status_code != 200:
                    break
                cursor = response.json().get("next_cursor")
                if not cursor:
                    break
        else:
            small = [m for m in mine if m[2] <= 25 * 1024 * 1024]
            evidence_id, sha, _ = rng.choice(mine if rng.random() < 0.1 or not small else small)
            response = await client.request(
                "download original", "GET", f"{API}/evidence/{evidence_id}/content", token, sha=True
            )
            if response is not None and response.status_code == 200:
                tally.downloads_checked += 1
                if response.digest != sha:
                    tally.download_sha_mismatch += 1
        await asyncio.sleep(rng.uniform(1.0, 4.0))  # reading what came back
    # What could not be stored while the object store was away is sent now.
    for file in pending:
        await upload(client, tally, token, case_id, file, mine, [], rng)
        tally.failed_then_stored += 1


async def upload(client, tally, token, case_id, file, mine, pending, rng) -> None:
    fields = {"kind": file.kind, "title": f"Exhibit {file.seed}", "occurred_at": f"2023-{rng.randint(1, 12):02d}-01"}
    response = await client.request("upload", "POST", f"{API}/cases/{case_id}/evidence", token, body=fields, file=file)
    if response is not None and response.status_code in (200, 201):
        item = response.json()
        expected = await asyncio.to_thread(file.sha256)
        tally.uploaded += 1
        if item["sha256"] != expected:
            tally.upload_sha_mismatch += 1
        mine.append((item["id"], item["sha256"], item["size_bytes"]))
    elif response is not None and response.status_code == 503:
        pending.append(file)
    else:
        tally.never_stored += 1


async def build_bundle(
    client: Client, tally: Tally, token: str, case_id: str, exhibits: int = 25, record: dict | None = None
) -> dict:
    """A bundle of the case's first exhibits, waited for and downloaded; the PDF's SHA-256 checked. `record` is
    filled as it goes (its id once queued)."""
    listed = await client.request("list exhibits", "GET", f"{API}/cases/{case_id}/exhibits?limit={exhibits}", token)
    ids = [e["id"] for e in listed.json()["items"]] if listed is not None and listed.status_code == 200 else None
    body = {"title": "Trial Exhibits", "exhibit_ids": ids, "allow_incomplete": True}
    queued = await client.request("create bundle", "POST", f"{API}/cases/{case_id}/bundles", token, json=body)
    record = record if record is not None else {}
    record |= {"case_id": case_id, "exhibits": len(ids or []), "queued_at": client.now(), "status": "not queued"}
    tally.bundles.append(record)
    if queued is None or queued.status_code != 202:
        record["error"] = queued.text[:200] if queued is not None else "no answer"
        return record
    record["id"] = queued.json()["id"]
    return await finish_bundle(client, token, record)


async def finish_bundle(client: Client, token: str, record: dict, seconds: float = 900) -> dict:
    """Wait for the bundle's build to end; download a done one and check its SHA-256."""
    deadline = client.now() + seconds
    while client.now() < deadline:
        response = await client.request("bundle status", "GET", f"{API}/bundles/{record['id']}", token)
        if response is not None and response.status_code == 200:
            bundle = response.json()
            record["status"] = bundle["status"]
            if bundle["status"] in ("done", "failed"):
                record |= {"done_at": client.now(), "sha256": bundle["sha256"], "error": bundle["error"]}
                break
        await asyncio.sleep(1)
    if record["status"] == "done":
        pdf = await client.request("download bundle", "GET", f"{API}/bundles/{record['id']}/pdf", token, sha=True)
        record["pdf_sha_ok"] = pdf is not None and pdf.status_code == 200 and pdf.digest == record["sha256"]
    return record


async def clerk(client: Client, tally: Tally, owners: list[tuple[str, str]], count: int, seconds: float) -> None:
    """`count` bundles spread over the run, a case after another, each waited for in the background."""
    builds = []
    for number in range(count):
        target = seconds * (number + 1) / (count + 1)
        await asyncio.sleep(max(0.0, target - client.now()))
        token, case_id = owners[number % len(owners)]
        builds.append(asyncio.create_task(build_bundle(client, tally, token, case_id)))
    await asyncio.gather(*builds)
