"""The floor for uploads: a bare ASGI endpoint that streams the body into a file while hashing it,
then fsyncs, renames and fsyncs the directory. No multipart, no database, no checks."""

import asyncio
import hashlib
import json
import os
import tempfile
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from anyio import to_thread

ROOT = os.environ.get("FLOOR_DIR", tempfile.gettempdir())


def _write(f, hasher, data):
    hasher.update(data)
    f.write(data)


async def app(scope, receive, send):
    if scope["type"] != "http":
        return
    hasher = hashlib.sha256()
    fd, tmp = tempfile.mkstemp(dir=ROOT)
    size, pending, pending_bytes = 0, [], 0
    # One writer thread overlaps hashing and disk with receiving, as the app does: the floor is the
    # best a bare endpoint reaches, not a handicapped one.
    pool, in_flight = ThreadPoolExecutor(max_workers=1), deque()
    with os.fdopen(fd, "wb", buffering=0) as f:
        more = True
        while more:
            message = await receive()
            body = message.get("body", b"")
            more = message.get("more_body", False)
            size += len(body)
            pending.append(body)
            pending_bytes += len(body)
            if pending_bytes >= 1 << 20 or not more:
                in_flight.append(asyncio.wrap_future(pool.submit(_write, f, hasher, b"".join(pending))))
                pending, pending_bytes = [], 0
                while len(in_flight) > 4 or (in_flight and in_flight[0].done()):
                    await in_flight.popleft()
        for future in in_flight:
            await future
        pool.shutdown()
        await to_thread.run_sync(os.fsync, f.fileno())
    digest = hasher.hexdigest()
    final = os.path.join(ROOT, digest)
    os.replace(tmp, final)
    dfd = os.open(ROOT, os.O_RDONLY | os.O_DIRECTORY)
    os.fsync(dfd)
    os.close(dfd)
    os.unlink(final)
    payload = json.dumps({"sha256": digest, "size": size}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 201,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(payload)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": payload})
