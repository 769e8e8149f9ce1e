"""Hostile and awkward originals: each one's text ends done, skipped or failed with a reason in words, within its
limits, and the text runner goes on reading the next item."""

import io
import os
import signal
import struct
import time
import zlib
from pathlib import Path

import img2pdf
import pikepdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from api.config import get_settings
from tests.text_support import wait_text

pytestmark = pytest.mark.slow

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
CJK_FONT = "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _words(lines: list[tuple[int, str]], size=(900, 300), font=FONT, points=28) -> Image.Image:
    image = Image.new("L", size, 255)
    draw = ImageDraw.Draw(image)
    face = ImageFont.truetype(font, points)
    for y, words in lines:
        draw.text((40, y), words, fill=0, font=face)
    return image


def _upload(actor, case_id, content: bytes, name: str) -> dict:
    r = actor.upload(case_id, content, name)
    assert r.status_code == 201, r.text
    return r.json()


def _still_reading(actor, case_id) -> None:
    """The runner outlived what came before: a plain text file is read at once."""
    item = wait_text(actor, _upload(actor, case_id, b"the runner is alive and reading", "alive.txt")["id"])
    assert item["text_status"] == "done"


def test_a_1x1_picture_is_skipped(alice, ocr_on):
    case = alice.make_case()
    item = wait_text(alice, _upload(alice, case["id"], _png(Image.new("RGB", (1, 1), "white")), "dot.png")["id"])
    assert item["text_status"] == "skipped" and "too small" in item["text_error"]


def test_a_20000_pixel_tall_screenshot_is_read_top_to_bottom(alice, ocr_on):
    case = alice.make_case()
    tall = _words(
        [(200, "Chargeback filed at the top"), (19_600, "Refunded through PayPal at the bottom")], (900, 20_000)
    )
    item = wait_text(alice, _upload(alice, case["id"], _png(tall), "tall.png")["id"])
    assert item["text_status"] == "done", item["text_error"]
    text = alice.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "txt"}).text
    assert "Chargeback" in text and "PayPal" in text


def test_an_encrypted_pdf_is_skipped(alice, ocr_on):
    case = alice.make_case()
    buf = io.BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page()
        pdf.save(buf, encryption=pikepdf.Encryption(owner="owner secret", user="user secret"))
    item = wait_text(alice, _upload(alice, case["id"], buf.getvalue(), "locked.pdf")["id"])
    assert item["text_status"] == "skipped" and "encrypted" in item["text_error"]


def test_a_language_not_installed_is_refused_and_a_foreign_script_still_ends(alice, bob, ocr_on):
    case = alice.make_case()
    chinese = _words([(100, "五星好评返现 全额退款")], font=CJK_FONT)
    item = wait_text(alice, _upload(alice, case["id"], _png(chinese), "insert-cn.png")["id"])
    assert item["text_status"] == "done"  # read in English: what it finds, it finds; the job ends all the same
    rerun = alice.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={"language": "chi_sim"})
    assert rerun.status_code == 422 and "chi_sim is not installed" in rerun.json()["detail"]
    assert "eng" in rerun.json()["detail"]
    odd = alice.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={"language": "eng; rm -rf /"})
    assert odd.status_code == 422
    assert bob.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={}).status_code == 404
    again = alice.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={"language": "eng"})
    assert again.status_code == 202 and again.json()["text_status"] in ("pending", "running", "done")
    assert wait_text(alice, item["id"])["text_status"] == "done"


def test_a_decompression_bomb_is_not_decoded(alice, ocr_on):
    case = alice.make_case()
    width = height = 40_000  # 1.6 billion pixels, a few kilobytes compressed
    row = b"\x00" + b"\x00" * width
    raw = zlib.compress(row * 2000, 9)  # a short stream: the header's claim is what counts

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    bomb = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
    bomb += chunk(b"IDAT", raw) + chunk(b"IEND", b"")
    item = wait_text(alice, _upload(alice, case["id"], bomb, "bomb.png")["id"])
    assert item["text_status"] == "skipped" and "pixels" in item["text_error"]


def test_a_damaged_picture_fails_with_a_reason(alice, ocr_on):
    case = alice.make_case()
    broken = _png(_words([(100, "damaged")]))[:200]
    item = wait_text(alice, _upload(alice, case["id"], broken, "broken.png")["id"])
    assert item["text_status"] == "failed" and "could not be decoded" in item["text_error"]
    _still_reading(alice, case["id"])


def _reader_pids() -> list[int]:
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "cb-text":
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids


def test_a_reader_killed_mid_read_fails_that_item_only(alice, ocr_on):
    case = alice.make_case()
    tall = _words([(200 + 400 * n, f"message {n} about the refund") for n in range(40)], (900, 16_000))
    item = _upload(alice, case["id"], _png(tall), "killed.png")
    deadline = time.monotonic() + 120
    while alice.get(f"/api/v1/evidence/{item['id']}").json()["text_status"] != "running":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    for pid in _reader_pids():
        os.kill(pid, signal.SIGKILL)
    ended = wait_text(alice, item["id"])
    if ended["text_status"] == "failed":  # else it finished first: the kill came too late to test anything
        assert "stopped while reading" in ended["text_error"]
    _still_reading(alice, case["id"])


def test_a_300_page_scan_stops_at_the_ocr_page_limit_and_says_so(alice, ocr_on, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "text_ocr_max_pages", 3)
    workers_with(CASEBINDER_TEXT_OCR_MAX_PAGES="3")
    case = alice.make_case()
    page = _png(_words([(100, "Scanned page of the refund ledger")], (1275, 1650)))
    scan = img2pdf.convert([page] * 300)
    item = wait_text(alice, _upload(alice, case["id"], scan, "scan.pdf")["id"])
    assert item["text_status"] == "done" and item["ocr_pages"] == 3 and item["text_pages"] == 300
    assert "OCR stopped after 3 pages" in item["text_error"]
    first = alice.get(f"/api/v1/evidence/{item['id']}/text", params={"page": 1}).json()["pages"]
    assert first[0]["source"] == "ocr" and "ledger" in first[0]["text"]


def test_a_read_past_its_time_limit_is_stopped_and_the_runner_goes_on(alice, ocr_on, monkeypatch, workers_with):
    monkeypatch.setattr(get_settings(), "text_job_timeout_seconds", 0.5)
    workers_with(CASEBINDER_TEXT_JOB_TIMEOUT_SECONDS="0.5")
    case = alice.make_case()
    tall = _words([(200 + 400 * n, f"line {n} of a long chat") for n in range(40)], (900, 16_000))
    item = wait_text(alice, _upload(alice, case["id"], _png(tall), "long-chat.png")["id"])
    assert item["text_status"] == "failed" and "longer than its" in item["text_error"]
    monkeypatch.setattr(get_settings(), "text_job_timeout_seconds", 3600)
    workers_with(CASEBINDER_TEXT_JOB_TIMEOUT_SECONDS="3600")
    _still_reading(alice, case["id"])
