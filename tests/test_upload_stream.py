"""The upload limit and truncated bodies, over a real socket: checked while streaming, nothing left behind."""

import http.client
import json
import socket
import time
from urllib.parse import urlsplit

from tests.conftest import count_rows
from tests.helpers import BOUNDARY, blob_snapshot, multipart_headers, settled


def _multipart(content: bytes) -> bytes:
    return (
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
        b"--" + BOUNDARY + b'\r\nContent-Disposition: form-data; name="title"\r\n\r\nStream test\r\n'
        b"--"
        + BOUNDARY
        + b'\r\nContent-Disposition: form-data; name="file"; filename="big.bin"\r\n\r\n'
        + content
        + b"\r\n--"
        + BOUNDARY
        + b"--\r\n"
    )


def _connection(live_server) -> http.client.HTTPConnection:
    parts = urlsplit(live_server)
    return http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)


def test_declared_length_over_the_limit_is_refused_before_the_body(
    alice, live_server, settings, monkeypatch, blob_root
):
    monkeypatch.setattr(settings, "max_upload_bytes", 64 * 1024)
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    conn = _connection(live_server)
    conn.putrequest("POST", f"/api/v1/cases/{case['id']}/evidence")
    for k, v in multipart_headers(alice, **{"Content-Length": str(10**12)}).items():
        conn.putheader(k, v)
    conn.endheaders()  # not one byte of the terabyte is sent
    r = conn.getresponse()
    assert r.status == 413 and "upload limit" in json.loads(r.read())["detail"]
    conn.close()
    assert settled(blob_root, before)


def test_chunked_body_without_length_is_cut_off_at_the_limit(alice, live_server, settings, monkeypatch, blob_root):
    monkeypatch.setattr(settings, "max_upload_bytes", 256 * 1024)
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    body = _multipart(b"A" * (2 * 1024 * 1024))
    conn = _connection(live_server)
    chunks = (body[i : i + 65536] for i in range(0, len(body), 65536))
    try:
        conn.request(
            "POST",
            f"/api/v1/cases/{case['id']}/evidence",
            body=chunks,
            headers=multipart_headers(alice),
            encode_chunked=True,
        )
        r = conn.getresponse()
        assert r.status == 413 and "262,144 bytes" in json.loads(r.read())["detail"]
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server may close the socket before the client finishes sending; the check below still holds
    conn.close()
    assert settled(blob_root, before)


def test_lying_short_content_length_is_an_incomplete_upload(alice, live_server, blob_root):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    body = _multipart(b"B" * 50_000)
    sock = socket.create_connection((urlsplit(live_server).hostname, urlsplit(live_server).port), timeout=30)
    head = "".join(
        f"{k}: {v}\r\n" for k, v in multipart_headers(alice, **{"Content-Length": str(len(body) // 2)}).items()
    )
    sock.sendall(
        f"POST /api/v1/cases/{case['id']}/evidence HTTP/1.1\r\nHost: test\r\n{head}Connection: close\r\n\r\n".encode()
        + body
    )
    reply = b""
    while chunk := sock.recv(65536):
        reply += chunk
    sock.close()
    assert reply.startswith(b"HTTP/1.1 400") and b"closing boundary" in reply
    assert settled(blob_root, before)


def test_client_that_disconnects_mid_upload_leaves_nothing(alice, live_server, blob_root):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    body = _multipart(b"C" * 3_000_000)
    sock = socket.create_connection((urlsplit(live_server).hostname, urlsplit(live_server).port), timeout=30)
    head = "".join(f"{k}: {v}\r\n" for k, v in multipart_headers(alice, **{"Content-Length": str(len(body))}).items())
    sock.sendall(f"POST /api/v1/cases/{case['id']}/evidence HTTP/1.1\r\nHost: test\r\n{head}\r\n".encode())
    sock.sendall(body[: len(body) // 2])
    time.sleep(0.2)  # let the server start staging the file part
    sock.close()
    assert settled(blob_root, before)
    assert count_rows("evidence_items") == before[1]
