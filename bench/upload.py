"""Upload throughput: a 512 MiB file through POST /cases/{id}/evidence versus the bare floor endpoint.

Both servers run as their own uvicorn processes on loopback; the client streams from one 1 MiB block
with a per-run prefix (so every run stores new bytes). Reports MB/s, the app/floor ratio, and the
server's RSS growth during the upload.
"""

import json
import os
import shutil
import socket
import time
import uuid
from pathlib import Path

from bench.common import RssSampler, median, server, spread
from bench.setup import make_workspace

MiB = 1024 * 1024
BOUNDARY = b"benchBOUNDARY7f3a"


def _send(base: str, path: str, headers: dict, parts: list[bytes | memoryview], total: int) -> tuple[float, dict]:
    host, port = base.removeprefix("http://").split(":")
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Length: {total}\r\nConnection: close\r\n{head}\r\n"
    started = time.perf_counter()
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(request.encode())
        for part in parts:
            sock.sendall(part)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    elapsed = time.perf_counter() - started
    status = reply.split(b" ", 2)[1]
    body = json.loads(reply.split(b"\r\n\r\n", 1)[1] or b"{}")
    if status not in (b"200", b"201"):
        raise RuntimeError(f"upload failed: {reply[:500]!r}")
    return elapsed, body


def _payload(size: int) -> tuple[list[memoryview], int]:
    block = bytearray(os.urandom(MiB))
    block[:16] = uuid.uuid4().bytes  # new bytes every run, so nothing is deduplicated
    view = memoryview(bytes(block))
    count = size // MiB
    return [view] * count, count * MiB


def run(size_mib: int = 512, repeat: int = 5, root: Path | None = None) -> dict:
    root = root or Path("var/bench") / f"upload-{uuid.uuid4().hex[:6]}"
    ws = make_workspace(root)
    floor_dir = root / "floor"
    floor_dir.mkdir(parents=True)
    app_rates, floor_rates, app_growth, floor_growth = [], [], [], []
    with (
        server("api.app:app", ws.env) as (app_base, app_pid),
        server("bench.floor_app:app", {"FLOOR_DIR": str(floor_dir)}) as (floor_base, floor_pid),
    ):

        def floor_run():
            payload, size = _payload(size_mib * MiB)
            with RssSampler(floor_pid) as rss:
                seconds, _ = _send(floor_base, "/", {"Content-Type": "application/octet-stream"}, payload, size)
            floor_rates.append(size / seconds / 1e6)
            floor_growth.append(rss.growth / MiB)

        def app_run():
            payload, size = _payload(size_mib * MiB)
            pre = (
                b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nchat_log\r\n'
                b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nLeaked exchange dump\r\n'
                b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="file"; filename="dump.bin"\r\n'
                b"Content-Type: application/octet-stream\r\n\r\n"
            )
            post = b"\r\n--" + BOUNDARY + b"--\r\n"
            headers = {
                "Authorization": f"Bearer {ws.token}",
                "Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}",
            }
            with RssSampler(app_pid) as rss:
                seconds, body = _send(
                    app_base,
                    f"/api/v1/cases/{ws.case_id}/evidence",
                    headers,
                    [pre, *payload, post],
                    len(pre) + size + len(post),
                )
            assert body["size_bytes"] == size, body
            app_rates.append(size / seconds / 1e6)
            app_growth.append(rss.growth / MiB)

        for i in range(repeat):
            # Alternate who goes first, so page-cache write-back from one run does not always land on the same side.
            for step in (floor_run, app_run) if i % 2 == 0 else (app_run, floor_run):
                step()
            print(
                f"  run {i + 1}/{repeat}: floor {floor_rates[-1]:.0f} MB/s, casebinder {app_rates[-1]:.0f} MB/s, "
                f"RSS growth {app_growth[-1]:.1f} MiB",
                flush=True,
            )
    ws.drop()
    shutil.rmtree(root, ignore_errors=True)  # gigabytes of benchmark blobs
    ratios = [a / f for a, f in zip(app_rates, floor_rates, strict=True)]
    result = {
        "size_mib": size_mib,
        "repeat": repeat,
        "app_mb_s": median(app_rates),
        "floor_mb_s": median(floor_rates),
        "ratio": median(ratios),
        "app_rss_growth_mib": max(app_growth),
        "floor_rss_growth_mib": max(floor_growth),
        "app_spread": spread(app_rates),
        "floor_spread": spread(floor_rates),
    }
    print(
        f"upload {size_mib} MiB x{repeat}: casebinder median {result['app_mb_s']:.0f} MB/s ({result['app_spread']}), "
        f"floor median {result['floor_mb_s']:.0f} MB/s ({result['floor_spread']}), "
        f"ratio {result['ratio']:.2f} (target >= 250 MB/s); "
        f"server RSS growth max {result['app_rss_growth_mib']:.1f} MiB (target < 64 MiB)"
    )
    return result


if __name__ == "__main__":
    run(size_mib=int(os.environ.get("BENCH_UPLOAD_MIB", 512)), repeat=int(os.environ.get("BENCH_REPEAT", 5)))
