"""How a picture reaches Tesseract: an upright JPEG or PNG as it is stored, anything that needs turning or
flattening as its decoded pixels; the same words and word boxes either way, and no path of the evidence store in
what is served. The reader runs Tesseract at the configured niceness and on one thread."""

import io
import os
import re
import stat

import pytest
from PIL import Image, ImageOps

from api.text.extract import TextLimits
from api.text.reader import Reader
from tests.text_support import wait_text

pytestmark = [pytest.mark.slow, pytest.mark.engine]


def _read(actor, case_id, content: bytes, filename: str) -> tuple[dict, dict]:
    r = actor.upload(case_id, content, filename, kind="review_screenshot", title=filename)
    assert r.status_code == 201, r.text
    item = wait_text(actor, r.json()["id"])
    assert item["text_status"] == "done", item["text_error"]
    [page] = actor.get(f"/api/v1/evidence/{item['id']}/text").json()["pages"]
    return item, page


def _hocr(actor, item) -> str:
    return actor.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "hocr"}).text


def _png(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "PNG")
    return out.getvalue()


def test_a_screenshot_reads_the_same_as_stored_and_as_flattened_pixels(alice, corpus, blob_root, ocr_on):
    case = alice.make_case()
    review = next(f for f in corpus if f.kind == "review_screenshot")
    stored, stored_page = _read(alice, case["id"], review.path.read_bytes(), "review.png")
    with Image.open(review.path) as im:
        transparent = _png(im.convert("RGBA"))  # opaque everywhere, but it has to be flattened first
    flattened, flattened_page = _read(alice, case["id"], transparent, "review-rgba.png")
    assert review.facts["reviewer_name"] in stored_page["text"]
    assert stored_page == flattened_page  # text, source, width and height
    tsv = [alice.get(f"/api/v1/evidence/{i['id']}/text", params={"format": "tsv"}).text for i in (stored, flattened)]
    assert tsv[0] == tsv[1]
    hocr = [_hocr(alice, i) for i in (stored, flattened)]
    assert str(blob_root) not in hocr[0] + hocr[1] and stored["sha256"] not in hocr[0]
    page_names = re.compile(r"image &quot;[^&]*&quot;|image \"[^\"]*\"")
    assert page_names.sub("", hocr[0]) == page_names.sub("", hocr[1])


def test_a_sideways_phone_photo_is_turned_and_an_upright_one_read_as_stored(alice, corpus, ocr_on):
    case = alice.make_case()
    card = next(f for f in corpus if f.kind == "product_insert_card")
    with Image.open(card.path) as im:
        assert im.getexif().get(0x0112) == 6  # stored sideways, with the orientation that turns it upright
        out = io.BytesIO()
        ImageOps.exif_transpose(im).save(out, "JPEG", quality=90)
    for content, name in ((card.path.read_bytes(), "sideways.jpg"), (out.getvalue(), "upright.jpg")):
        item, page = _read(alice, case["id"], content, name)
        assert card.facts["contact"] in page["text"], (name, page["text"])
        assert "bbox 0 0 1600 1100;" in _hocr(alice, item) and item["ocr_pages"] == 1  # the upright picture's size


def test_a_damaged_jpeg_ends_the_same_whether_or_not_tesseract_was_given_it_first(alice, corpus, ocr_on):
    """An upright JPEG goes to Tesseract as stored; one damaged past its header is then read the way every other
    picture is, so it ends as a damaged sideways photo (which is never given as stored) does, with the same reason."""
    case = alice.make_case()
    card = next(f for f in corpus if f.kind == "product_insert_card")
    sideways = card.path.read_bytes()
    with Image.open(card.path) as im:
        out = io.BytesIO()
        ImageOps.exif_transpose(im).save(out, "JPEG", quality=90)
    ended = []
    for content, name in ((out.getvalue(), "upright-half.jpg"), (sideways, "sideways-half.jpg")):
        r = alice.upload(case["id"], content[: len(content) // 2], name, title=name)
        assert r.status_code == 201, r.text
        item = wait_text(alice, r.json()["id"])
        ended.append((item["text_status"], item["ocr_pages"], item["text_error"]))
    assert ended[0] == ended[1] and ended[0][1] == 0 and "decoded" in ended[0][2]


def test_the_reader_runs_tesseract_at_its_niceness_once_and_on_one_thread(corpus, tmp_path, monkeypatch):
    """Through a `tesseract` earlier on the PATH that notes how it was started, then runs the real one."""
    log = tmp_path / "started.log"
    wrapper = tmp_path / "bin" / "tesseract"
    wrapper.parent.mkdir()
    real = "/usr/bin/tesseract"
    wrapper.write_text(f'#!/bin/sh\necho "$(nice) ${{OMP_THREAD_LIMIT:-unset}} $*" >> {log}\nexec {real} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    monkeypatch.delenv("OMP_THREAD_LIMIT", raising=False)
    review = next(f for f in corpus if f.kind == "review_screenshot")
    reader = Reader()
    try:
        found = reader.read(review.path, "image/png", "review.png", TextLimits(language="eng", nice=5), timeout=120)
    finally:
        reader.close()
    assert found.status == "done" and review.facts["reviewer_name"] in found.pages[0].text
    [ocr_run] = [line for line in log.read_text().splitlines() if "hocr" in line]
    niceness, threads, _ = ocr_run.split(" ", 2)
    assert int(niceness) == min(19, os.nice(0) + 5) and threads == "1"
