"""Hostile uploads over a real socket: each gets a clear 4xx or is stored as the original it is, nothing
half-written stays behind, and the server keeps answering other clients while the hostile request is open.

A hang fails the test through the client timeout instead of blocking the run; there are no wall-clock limits.
"""

import http.client
import io
import json
import socket
from urllib.parse import urlsplit

import httpx
import pytest
from PIL import Image

from api.upload import MAX_FIELD_BYTES, MAX_PARTS
from models.inputs import NOTE_CHARS
from tests.helpers import BOUNDARY, blob_snapshot, multipart_part, settled

CLIENT_TIMEOUT = 60


def _form(content: bytes, filename: bytes, *, kind: bytes = b"other", title: bytes = b"Hostile") -> bytes:
    return (
        multipart_part(b"kind", kind)
        + multipart_part(b"title", title)
        + multipart_part(b"file", content, filename)
        + b"--"
        + BOUNDARY
        + b"--\r\n"
    )


class Reply:
    def __init__(self, status: int, headers: http.client.HTTPMessage, body: bytes):
        self.status, self.headers, self.body = status, headers, body

    @property
    def detail(self) -> str:
        return json.loads(self.body)["detail"]


def _others_are_answered(live_server: str, other) -> None:
    """Another client, anonymous and signed in, gets its answer while the hostile request is still open."""
    with httpx.Client(base_url=live_server, timeout=CLIENT_TIMEOUT) as anon:
        assert anon.get("/healthz").json() == {"status": "ok"}
    with httpx.Client(base_url=live_server, headers=other.headers, timeout=CLIENT_TIMEOUT) as signed_in:
        assert signed_in.get("/api/v1/cases").status_code == 200


def _hostile_post(
    live_server: str,
    actor,
    path: str,
    body: bytes,
    *,
    other,
    content_length: str | None = None,
    split: int | None = None,
) -> Reply:
    """POST `body` on a raw keep-alive connection: the headers and body[:split] first, then - with that request
    still open - check that `other` is served, then the rest of the body; return the server's reply."""
    parts = urlsplit(live_server)
    length = str(len(body)) if content_length is None else content_length
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {actor.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    split = len(body) // 2 if split is None else split
    with socket.create_connection((parts.hostname, parts.port), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(head + body[:split])
        _others_are_answered(live_server, other)
        sock.sendall(body[split:])
        response = http.client.HTTPResponse(sock)
        response.begin()
        reply = Reply(response.status, response.headers, response.read())
    _others_are_answered(live_server, other)  # and the server is still up afterwards
    return reply


def _evidence_url(case: dict) -> str:
    return f"/api/v1/cases/{case['id']}/evidence"


# --- malformed multipart envelopes: refused with a 4xx that says what is wrong, nothing staged or stored ---


def test_ten_thousand_parts_are_refused_at_the_first_part_too_many(alice, bob, live_server, blob_root):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    parts = [multipart_part(b"file", b"evidence bytes", b"e.txt")] + [
        multipart_part(b"f%d" % i, b"x") for i in range(9_999)
    ]
    body = b"".join(parts) + b"--" + BOUNDARY + b"--\r\n"
    r = _hostile_post(live_server, alice, _evidence_url(case), body, other=bob)
    assert r.status == 422
    assert r.detail == f"too many parts in the multipart body: at most {MAX_PARTS} (the file and up to 50 fields)"
    assert settled(blob_root, before)


def test_the_same_field_repeated_thousands_of_times_is_refused_at_the_second(alice, bob, live_server, blob_root):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    body = b"".join(multipart_part(b"title", b"t%d" % i) for i in range(10_000))
    body += multipart_part(b"kind", b"other") + multipart_part(b"file", b"x", b"x.txt") + b"--" + BOUNDARY + b"--\r\n"
    r = _hostile_post(live_server, alice, _evidence_url(case), body, other=bob)
    assert r.status == 422 and r.detail == "form field 'title' is sent more than once: send each field once"
    assert settled(blob_root, before)


@pytest.mark.parametrize("junk_start", [b"J", b"\r\n"], ids=["junk", "newline-then-junk"])
def test_a_megabyte_of_junk_before_the_first_boundary_is_a_malformed_body(
    alice, bob, live_server, blob_root, junk_start
):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    junk = (junk_start + b"not a boundary " * 70_000)[: 1024 * 1024]
    body = junk + _form(b"never reached", b"late.txt")
    r = _hostile_post(live_server, alice, _evidence_url(case), body, other=bob, split=512 * 1024)
    assert r.status == 400 and r.detail.startswith("malformed multipart body: Expected boundary character")
    assert settled(blob_root, before)


def test_a_two_megabyte_form_field_is_413_naming_the_field(alice, bob, live_server, blob_root):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    body = (
        multipart_part(b"file", b"small original", b"small.txt")
        + multipart_part(b"kind", b"other")
        + multipart_part(b"description", b"D" * (2 * 1024 * 1024))
        + multipart_part(b"title", b"Huge description")
        + b"--"
        + BOUNDARY
        + b"--\r\n"
    )
    r = _hostile_post(live_server, alice, _evidence_url(case), body, other=bob)
    assert r.status == 413
    assert r.detail == f"form field 'description' is larger than {MAX_FIELD_BYTES:,} bytes"
    assert settled(blob_root, before)


def test_a_field_of_exactly_the_limit_is_read_and_then_held_to_its_own_limit(alice, blob_root):
    """The reader takes a field of exactly MAX_FIELD_BYTES (413 only past it); what it holds then meets the
    limit the field has everywhere (a description: the one PATCH applies)."""
    case = alice.make_case()
    r = alice.upload(case["id"], b"original with a long description", description="d" * MAX_FIELD_BYTES)
    assert r.status_code == 422 and f"at most {NOTE_CHARS} characters" in r.json()["detail"], r.text[:300]
    r = alice.upload(case["id"], b"original with a long description", description="d" * NOTE_CHARS)
    assert r.status_code == 201, r.text[:300]
    assert len(alice.get(f"/api/v1/evidence/{r.json()['id']}").json()["description"]) == NOTE_CHARS


@pytest.mark.parametrize("declared", ["-1", "-99999999999999999999", "12abc", "1, 2"])
def test_a_negative_or_garbled_content_length_is_refused_by_the_http_layer(
    alice, bob, live_server, blob_root, declared
):
    case = alice.make_case()
    before = blob_snapshot(blob_root)
    parts = urlsplit(live_server)
    head = (
        f"POST {_evidence_url(case)} HTTP/1.1\r\nHost: {parts.netloc}\r\nAuthorization: Bearer {alice.token}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY.decode()}\r\nContent-Length: {declared}\r\n\r\n"
    ).encode()
    with socket.create_connection((parts.hostname, parts.port), timeout=CLIENT_TIMEOUT) as sock:
        sock.sendall(head)  # no body: the server must decide from the header alone
        _others_are_answered(live_server, bob)
        response = http.client.HTTPResponse(sock)
        response.begin()
        status, text = response.status, response.read()
    assert status == 400 and b"Invalid HTTP request" in text
    _others_are_answered(live_server, bob)
    assert settled(blob_root, before)


# --- hostile files: stored unchanged as the original, with what inspection could (not) learn recorded ---


def _stored_as_is(actor, reply: Reply, content: bytes, blob_root) -> dict:
    assert reply.status == 201, reply.body
    item = json.loads(reply.body)
    assert item["size_bytes"] == len(content) and item["sha256"] in blob_snapshot(blob_root)[0]
    download = actor.get(f"/api/v1/evidence/{item['id']}/content")
    assert download.status_code == 200 and download.content == content
    assert settled(blob_root, blob_snapshot(blob_root))  # nothing left in staging
    return item


def _jpeg(width: int = 640, height: int = 480) -> bytes:
    im = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def test_truncated_jpeg_is_stored_unchanged_with_its_header_size(alice, bob, live_server, blob_root):
    case = alice.make_case()
    whole = _jpeg()
    cut = whole[: len(whole) // 2]  # the scan data stops halfway: no end-of-image marker
    assert not cut.endswith(b"\xff\xd9")
    r = _hostile_post(live_server, alice, _evidence_url(case), _form(cut, b"cut.jpg"), other=bob)
    item = _stored_as_is(alice, r, cut, blob_root)
    assert item["media_type"] == "image/jpeg"
    assert (item["width"], item["height"], item["page_count"]) == (640, 480, 1)  # read from the header only


def test_jpeg_cut_inside_its_header_is_stored_with_a_note(alice, bob, live_server, blob_root):
    case = alice.make_case()
    stub = _jpeg()[:40]
    r = _hostile_post(live_server, alice, _evidence_url(case), _form(stub, b"stub.jpg"), other=bob)
    item = _stored_as_is(alice, r, stub, blob_root)
    assert item["media_type"] == "image/jpeg"
    assert item["width"] is None and item["height"] is None and item["page_count"] is None
    assert item["inspection_note"].startswith("image header could not be read")


def _pdf(*, pages_loop: bool = False, xref_loop: bool = True) -> bytes:
    """A one-page PDF whose trailer's /Prev points back at its own xref table (an endless chain of updates),
    or whose page tree lists itself among its own kids."""
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R" + (b" 2 0 R" if pages_loop else b"") + b"] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] >>",
    ]
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, body)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    prev = b" /Prev %d" % xref if xref_loop else b""
    out += b"trailer\n<< /Size %d /Root 1 0 R%s >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, prev, xref)
    return bytes(out)


def test_pdf_whose_xref_chain_loops_is_stored_and_its_repair_noted(alice, bob, live_server, blob_root):
    case = alice.make_case()
    looped = _pdf()
    r = _hostile_post(live_server, alice, _evidence_url(case), _form(looped, b"loop.pdf"), other=bob)
    item = _stored_as_is(alice, r, looped, blob_root)
    assert item["media_type"] == "application/pdf"
    assert item["page_count"] == 1  # counted from the rebuilt cross-reference table
    assert "loop detected following xref tables" in item["inspection_note"]
    assert str(blob_root) not in item["inspection_note"]


def test_pdf_whose_page_tree_contains_itself_is_stored_without_a_page_count(alice, bob, live_server, blob_root):
    case = alice.make_case()
    looped = _pdf(pages_loop=True, xref_loop=False)
    r = _hostile_post(live_server, alice, _evidence_url(case), _form(looped, b"pages.pdf"), other=bob)
    item = _stored_as_is(alice, r, looped, blob_root)
    assert item["media_type"] == "application/pdf" and item["page_count"] is None
    assert "Loop detected in /Pages structure" in item["inspection_note"]
    assert str(blob_root) not in item["inspection_note"]


SVG = (
    b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" '
    b"onload=\"fetch('/api/v1/cases').then(r => r.text()).then(t => alert(t))\">"
    b'<script>alert(document.cookie)</script><rect width="10" height="10"/></svg>\n'
)


def test_svg_with_script_is_stored_but_only_ever_served_as_a_sandboxed_attachment(alice, bob, live_server, blob_root):
    case = alice.make_case()
    r = _hostile_post(
        live_server, alice, _evidence_url(case), _form(SVG, b"review.svg", kind=b"review_screenshot"), other=bob
    )
    item = _stored_as_is(alice, r, SVG, blob_root)
    assert item["media_type"] == "image/svg+xml" and item["width"] is None
    with httpx.Client(base_url=live_server, headers=alice.headers, timeout=CLIENT_TIMEOUT) as browser:
        for extra in ({}, {"Accept": "image/svg+xml,text/html"}, {"Range": "bytes=0-10"}):
            download = browser.get(f"/api/v1/evidence/{item['id']}/content", headers=extra)
            assert download.status_code == 200 and download.content == SVG
            assert download.headers["content-disposition"].startswith("attachment;")
            assert download.headers["content-security-policy"] == "default-src 'none'; sandbox"
            assert download.headers["x-content-type-options"] == "nosniff"
        revalidated = browser.get(
            f"/api/v1/evidence/{item['id']}/content", headers={"If-None-Match": download.headers["etag"]}
        )
        assert revalidated.status_code == 304 and revalidated.content == b""
        assert revalidated.headers["content-security-policy"] == "default-src 'none'; sandbox"
