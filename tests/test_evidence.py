"""Uploading originals: streamed, hashed, sniffed, deduplicated, and served back byte for byte."""

import base64
import hashlib
import io
import json
from urllib.parse import unquote

import pikepdf
import pytest
from PIL import Image

from tests.conftest import count_rows, staged_files, stored_blobs
from tests.helpers import png_claiming


def _by_kind(corpus, kind, suffix):
    return next(f for f in corpus if f.kind == kind and f.path.suffix == suffix)


def test_screenshot_upload_returns_hash_type_size_and_first_label(alice, corpus, blob_root):
    case = alice.make_case(timezone="America/Los_Angeles")
    shot = _by_kind(corpus, "review_screenshot", ".png")
    content = shot.path.read_bytes()
    r = alice.upload(
        case["id"],
        content,
        filename=shot.path.name,
        kind="review_screenshot",
        title=shot.title,
        occurred_at="2021-03-04T23:30:00",
        tags="five-star, paid review,five-star",
        facts=json.dumps(
            {
                "reviewer_name": "Noah Smith",
                "rating": 5,
                "asin": "B08PCF32ER",
                "review_date": "2021-03-04",
                "verified_purchase": True,
            }
        ),
        source_url="https://marketplace.example/review/R1",
        custodian="J. Rivera",
    )
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["sha256"] == hashlib.sha256(content).hexdigest()
    assert item["size_bytes"] == len(content)
    assert item["media_type"] == "image/png" and item["page_count"] == 1
    assert (item["width"], item["height"]) == Image.open(shot.path).size
    assert item["exhibit"]["label"] == "PX-001" and item["duplicate"] is False
    assert item["occurred_at"] == "2021-03-05T07:30:00Z"  # 23:30 in Los Angeles is 07:30 UTC next day
    assert item["tags"] == ["five-star", "paid review"]
    assert item["facts"]["rating"] == 5 and item["facts"]["review_date"] == "2021-03-04"
    assert item["sha256"] in stored_blobs(blob_root)


def test_download_is_the_exact_original_as_an_attachment(alice, corpus):
    case = alice.make_case()
    pdf = _by_kind(corpus, "refund_record", ".pdf")
    content = pdf.path.read_bytes()
    item = alice.upload(case["id"], content, filename="Refund – Émile.pdf", kind="refund_record", title="Refund").json()
    r = alice.get(f"/api/v1/evidence/{item['id']}/content")
    assert r.status_code == 200 and r.content == content
    assert r.headers["etag"] == f'"{item["sha256"]}"'
    assert r.headers["repr-digest"] == f"sha-256=:{base64.b64encode(hashlib.sha256(content).digest()).decode()}:"
    assert r.headers["x-content-type-options"] == "nosniff"
    disposition = r.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "Refund – Émile.pdf"
    again = alice.get(f"/api/v1/evidence/{item['id']}/content", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304


def test_pdf_pages_are_counted(alice, corpus):
    case = alice.make_case()
    chat = _by_kind(corpus, "chat_log", ".pdf")
    item = alice.upload(
        case["id"], chat.path.read_bytes(), filename=chat.path.name, kind="chat_log", title="Chat"
    ).json()
    with pikepdf.open(chat.path) as pdf:
        assert item["page_count"] == len(pdf.pages) and item["media_type"] == "application/pdf"


def test_image_size_is_as_displayed_after_exif_rotation(alice):
    im = Image.new("RGB", (400, 200), "white")
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to display": the photo is shown 200 wide, 400 tall
    buf = io.BytesIO()
    im.save(buf, "JPEG", exif=exif)
    case = alice.make_case()
    item = alice.upload(
        case["id"], buf.getvalue(), filename="insert.jpg", kind="product_insert_card", title="Card"
    ).json()
    assert item["media_type"] == "image/jpeg"
    assert (item["width"], item["height"]) == (200, 400)


def test_generated_sideways_insert_card_reports_display_size(alice, corpus):
    card = next(f for f in corpus if f.kind == "product_insert_card" and Image.open(f.path).getexif().get(0x0112) == 6)
    stored = Image.open(card.path).size
    case = alice.make_case()
    item = alice.upload(
        case["id"], card.path.read_bytes(), filename=card.path.name, kind="product_insert_card", title=card.title
    ).json()
    assert (item["width"], item["height"]) == (stored[1], stored[0])


def test_same_bytes_twice_in_a_case_is_a_duplicate_not_a_new_item(alice, blob_root):
    case = alice.make_case()
    first = alice.upload(case["id"], b"chat export v1", kind="chat_log", title="Chat")
    before = count_rows("evidence_items"), count_rows("exhibits")
    second = alice.upload(case["id"], b"chat export v1", kind="chat_log", title="Another title")
    assert first.status_code == 201 and second.status_code == 200
    assert second.json()["duplicate"] is True
    assert second.json()["id"] == first.json()["id"] and second.json()["title"] == "Chat"
    assert (count_rows("evidence_items"), count_rows("exhibits")) == before
    assert staged_files(blob_root) == []


def test_same_bytes_in_another_case_is_new_evidence_sharing_one_blob(alice, blob_root):
    one, two = alice.make_case(), alice.make_case()
    a = alice.upload(one["id"], b"shared payment export", title="In case one").json()
    b = alice.upload(two["id"], b"shared payment export", title="In case two")
    assert b.status_code == 201 and b.json()["id"] != a["id"] and b.json()["sha256"] == a["sha256"]
    assert sum(1 for name in stored_blobs(blob_root) if name == a["sha256"]) == 1


def test_html_named_png_is_sniffed_as_html_and_served_only_as_attachment(alice):
    case = alice.make_case()
    page = b"<!DOCTYPE html><html><body><script>alert(1)</script>Review</body></html>"
    item = alice.upload(case["id"], page, filename="review.png", kind="review_screenshot", title="Fake png")
    assert item.status_code == 201
    assert item.json()["media_type"] == "text/html" and item.json()["width"] is None
    r = alice.get(f"/api/v1/evidence/{item.json()['id']}/content")
    assert r.content == page
    assert r.headers["content-disposition"].startswith("attachment;")
    assert r.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in r.headers["content-security-policy"]


def test_image_claiming_200_million_pixels_is_stored_but_not_measured(alice, blob_root):
    case = alice.make_case()
    bomb = png_claiming(20_000, 10_000)
    r = alice.upload(case["id"], bomb, filename="bomb.png", kind="review_screenshot", title="Huge")
    assert r.status_code == 201, r.text
    item = r.json()
    assert item["media_type"] == "image/png"
    assert item["width"] is None and item["height"] is None and item["page_count"] is None
    assert "refused" in item["inspection_note"]
    assert item["sha256"] in stored_blobs(blob_root)


def _raw_multipart(parts: list[tuple[bytes, bytes]], boundary: bytes = b"casebinderBOUNDARY") -> tuple[bytes, str]:
    body = b"".join(b"--" + boundary + b"\r\n" + headers + b"\r\n\r\n" + value + b"\r\n" for headers, value in parts)
    return body + b"--" + boundary + b"--\r\n", f"multipart/form-data; boundary={boundary.decode()}"


@pytest.mark.parametrize(
    "raw_name,stored,download",
    [
        (b"../../etc/passwd", "../../etc/passwd", "passwd"),
        (b"C:/Users/x/evil\x00.png", "C:/Users/x/evil%00.png", "evil%00.png"),
        (b"a" * 10_240 + b".png", "a" * 10_240 + ".png", "a" * 150),
    ],
)
def test_hostile_filenames_are_kept_only_as_escaped_metadata(alice, blob_root, raw_name, stored, download):
    case = alice.make_case()
    content = b"plain text evidence, name length %d" % len(raw_name)
    body, ctype = _raw_multipart(
        [
            (b'Content-Disposition: form-data; name="kind"', b"other"),
            (b'Content-Disposition: form-data; name="title"', b"Hostile name"),
            (
                b'Content-Disposition: form-data; name="file"; filename="' + raw_name + b'"\r\nContent-Type: image/png',
                content,
            ),
        ]
    )
    r = alice.post(f"/api/v1/cases/{case['id']}/evidence", content=body, headers={"Content-Type": ctype})
    assert r.status_code == 201, r.text
    assert r.json()["original_filename"] == stored
    assert r.json()["media_type"] == "text/plain"  # the client's Content-Type is ignored
    name = alice.get(f"/api/v1/evidence/{r.json()['id']}/content").headers["content-disposition"]
    assert unquote(name.split("filename*=UTF-8''")[1]) == download
    assert not any(p.name == "passwd" for p in blob_root.rglob("*"))


def _nothing_stored(blob_root, before):
    return (stored_blobs(blob_root), count_rows("evidence_items"), count_rows("exhibits"), staged_files(blob_root)) == (
        before[0],
        before[1],
        before[2],
        [],
    )


@pytest.mark.parametrize(
    "fields,content,needle",
    [
        ({"kind": "other", "title": "Empty"}, b"", "empty"),
        ({"title": "No kind"}, b"x1", "kind is required"),
        ({"kind": "tweet", "title": "Bad kind"}, b"x2", "unknown kind"),
        ({"kind": "other"}, b"x3", "title is required"),
        ({"kind": "review_screenshot", "title": "t", "facts": "{rating: 5"}, b"x4", "not valid JSON"),
        ({"kind": "review_screenshot", "title": "t", "facts": '{"rating": "five"}'}, b"x5", "rating"),
        ({"kind": "review_screenshot", "title": "t", "facts": '{"rating": 9}'}, b"x6", "rating"),
        ({"kind": "review_screenshot", "title": "t", "facts": '{"stars": 5}'}, b"x7", "stars"),
        ({"kind": "refund_record", "title": "t", "facts": '{"amount": "lots"}'}, b"x8", "amount"),
        ({"kind": "refund_record", "title": "t", "facts": "[1, 2]"}, b"x9", "JSON object"),
        ({"kind": "other", "title": "t", "occurred_at": "last Tuesday"}, b"x10", "occurred_at"),
        ({"kind": "other", "title": "t", "captured_at": "2021-02-30"}, b"x11", "captured_at"),
        ({"kind": "other", "title": "t", "source_url": "javascript:alert(1)"}, b"x12", "source_url"),
        ({"kind": "other", "title": "t", "colour": "red"}, b"x13", "colour"),
    ],
)
def test_bad_upload_fields_get_a_422_and_store_nothing(alice, blob_root, fields, content, needle):
    case = alice.make_case()
    before = stored_blobs(blob_root), count_rows("evidence_items"), count_rows("exhibits")
    r = alice.post(f"/api/v1/cases/{case['id']}/evidence", files={"file": ("f.bin", content)}, data=fields)
    assert r.status_code == 422, r.text
    assert needle in str(r.json()["detail"])
    assert _nothing_stored(blob_root, before)


def test_upload_without_file_part_or_not_multipart_is_refused(alice, blob_root):
    case = alice.make_case()
    url = f"/api/v1/cases/{case['id']}/evidence"
    r = alice.post(url, data={"kind": "other", "title": "t"}, files={"attachment": ("x", b"zz")})
    assert r.status_code == 422 and "'file' part is missing" in r.json()["detail"]
    r = alice.post(url, json={"kind": "other", "title": "t"})
    assert r.status_code == 422 and "multipart/form-data" in r.json()["detail"]
    assert staged_files(blob_root) == []


def test_body_over_the_limit_is_413_and_stores_nothing(alice, settings, blob_root, monkeypatch):
    monkeypatch.setattr(settings, "max_upload_bytes", 4096)
    case = alice.make_case()
    before = stored_blobs(blob_root), count_rows("evidence_items"), count_rows("exhibits")
    r = alice.upload(case["id"], b"z" * 5000)
    assert r.status_code == 413 and "4,096" in r.json()["detail"]
    assert _nothing_stored(blob_root, before)
    assert alice.upload(case["id"], b"z" * 4096).status_code == 201  # the limit itself is allowed


def test_metadata_patch_never_touches_the_bytes(alice):
    case = alice.make_case(timezone="Europe/Berlin")
    item = alice.upload(case["id"], b"original bytes", kind="refund_record", title="Refund").json()
    r = alice.patch(
        f"/api/v1/evidence/{item['id']}",
        json={
            "title": "PayPal refund to reviewer",
            "occurred_at": "2021-03-01T09:00:00",
            "facts": {"processor": "PayPal", "amount": 42.1, "currency": "USD"},
            "tags": ["refund"],
        },
    )
    assert r.status_code == 200, r.text
    assert r.json()["occurred_at"] == "2021-03-01T08:00:00Z"  # naive times are read in the case timezone
    assert r.json()["facts"]["amount"] == "42.1"
    assert (r.json()["sha256"], r.json()["size_bytes"]) == (item["sha256"], item["size_bytes"])
    assert alice.patch(f"/api/v1/evidence/{item['id']}", json={"sha256": "0" * 64}).json()["sha256"] == item["sha256"]
    assert alice.patch(f"/api/v1/evidence/{item['id']}", json={"facts": {"amount": []}}).status_code == 422
    assert alice.patch(f"/api/v1/evidence/{item['id']}", json={"title": None}).status_code == 422
    assert alice.get(f"/api/v1/evidence/{item['id']}/content").content == b"original bytes"
