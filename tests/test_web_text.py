"""The evidence page's Text section: how the text was read, in words; the text itself, page by page and escaped, in
any script; long texts a screen at a time; the .txt download; reading again (editors only) and the polling that
follows it."""

import re
import uuid

import pytest
from sqlalchemy import update
from sqlmodel import col

from api.db import session_scope
from api.web import text_section
from api.web import text_words as words
from models.text import EvidenceText
from tests.helpers import add_member, events
from tests.text_support import wait_text
from tests.web_support import sign_in

HOSTILE = "<script>alert(1)</script> refund sent\n"
POLLING = 'hx-trigger="every 3s"'


def _text_item(actor, case_id: str, text: str, name: str = "chat.txt") -> dict:
    response = actor.upload(case_id, text.encode(), name, kind="chat_log", title="Chat with the seller")
    assert response.status_code == 201, response.text
    item = wait_text(actor, response.json()["id"])
    assert item["text_status"] == "done", item["text_error"]
    return item


def _section(html: str) -> str:
    """The Text section of a page (or a fragment that holds it)."""
    start = html.index('<section class="panel text-section" id="text"')
    return html[start : html.index("</section>", start)]


def _long_text() -> str:
    """About 60 KB: 1,500 numbered lines, so 15 sections of the 4,000 characters a decoded "page" holds."""
    return "".join(f"line {n:05d} the seller offered a refund"[:39] + "\n" for n in range(1, 1501))


def _set_status(evidence_id: str, status: str) -> None:
    """The item's text job as a reading in progress leaves it (or as it ends), so the states can be looked at."""
    with session_scope() as session:
        session.execute(
            update(EvidenceText).where(col(EvidenceText.id) == uuid.UUID(evidence_id)).values(status=status)
        )


def test_a_text_file_shows_how_it_was_read_and_its_text_escaped(app, alice):
    case = alice.make_case()
    item = _text_item(alice, case["id"], HOSTILE + "مراجعة خمس نجوم\n五星好评 ดีมาก 좋아요 बहुत अच्छा\n")
    browser = sign_in(app, alice.email)
    html = browser.get(f"/evidence/{item['id']}?case={case['id']}").text
    section = _section(html)
    assert "Read from the file&#39;s own text." in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt; refund sent" in section
    assert "<script>alert(1)" not in html
    # Each page's text sets its own direction: the Arabic reads right to left.
    assert re.search(r'<pre class="evidence-text" dir="auto"[^>]*>[^<]*مراجعة خمس نجوم', section)
    assert "五星好评 ดีมาก 좋아요 बहुत अच्छा" in section
    assert f'href="/evidence/{item["id"]}/text.txt"' in section
    assert "Read the text again" in section and POLLING not in section
    shown = events("evidence.text", evidence_id=uuid.UUID(item["id"]))
    assert [e.details for e in shown] == [{"via": "web", "pages": [1, 1]}]
    browser.close()


@pytest.mark.slow
def test_a_screenshot_read_by_ocr_shows_the_engine_language_and_words(app, alice, corpus, ocr_on):
    case = alice.make_case()
    review = next(f for f in corpus if f.kind == "review_screenshot")
    uploaded = alice.upload(case["id"], review.path.read_bytes(), review.path.name, kind=review.kind, title="Review")
    item = wait_text(alice, uploaded.json()["id"])
    assert item["text_status"] == "done", item["text_error"]
    browser = sign_in(app, alice.email)
    section = _section(browser.get(f"/evidence/{item['id']}").text)
    assert re.search(r"Read by OCR \(tesseract [\d.]+, English\), 1 page, \d+\.\d s\.", section), section[:800]
    assert review.facts["reviewer_name"] in section
    browser.close()


def test_a_long_text_is_shown_ten_sections_at_a_time(app, alice):
    case = alice.make_case()
    item = _text_item(alice, case["id"], _long_text(), "long.txt")
    assert item["text_pages"] == 15
    browser = sign_in(app, alice.email)
    first = _section(browser.get(f"/evidence/{item['id']}?case={case['id']}").text)
    assert "15 sections of about 4,000 characters" in first and "Sections 1–10 of 15." in first
    assert "<h3>Section 10</h3>" in first and "<h3>Section 11</h3>" not in first
    assert "line 00001" in first and "line 01500" not in first
    more = f"/evidence/{item['id']}?case={case['id']}&amp;text_from=11#text"
    assert f'href="{more}"' in first and "More sections (11–15)" in first
    assert 'name="text_from"' in first  # and a page to go to
    # The next screen, as a page (no script) and as the fragment htmx swaps in.
    rest = _section(browser.get(f"/evidence/{item['id']}", params={"case": case["id"], "text_from": 11}).text)
    assert "Sections 11–15 of 15." in rest and "line 01500" in rest and "line 00001" not in rest
    assert "Earlier sections" in rest and "More sections" not in rest
    part = browser.htmx("GET", f"/evidence/{item['id']}/text", params={"case": case["id"], "text_from": 11})
    assert part.status_code == 200 and "<html" not in part.text and "Sections 11–15 of 15." in part.text
    plain = browser.get(f"/evidence/{item['id']}/text", params={"text_from": 11}, follow_redirects=False)
    assert plain.status_code == 303 and plain.headers["location"].endswith("text_from=11#text")
    # A page past the end shows the last screen; a page that is not a number says so.
    past = _section(browser.get(f"/evidence/{item['id']}", params={"text_from": 9999}).text)
    assert "Sections 6–15 of 15." in past
    for bad_page in ("two", "0", "²", "99999999999"):
        bad = browser.get(f"/evidence/{item['id']}", params={"text_from": bad_page})
        assert bad.status_code == 422 and "The page of the text to show (text_from) must be a number" in bad.text
    shown = [e.details["pages"] for e in events("evidence.text", evidence_id=uuid.UUID(item["id"]))]
    assert shown == [[1, 10], [11, 15], [11, 15], [6, 15]]
    browser.close()


def test_a_long_page_is_cut_by_characters_and_points_to_the_download(app, alice, monkeypatch):
    monkeypatch.setattr(text_section, "PAGE_CHARS", 1000)
    case = alice.make_case()
    text = "".join(f"{n:04d} مراجعة 五星好评 ok\n" for n in range(150))  # 3,000 characters, most not ASCII
    item = _text_item(alice, case["id"], text)
    browser = sign_in(app, alice.email)
    section = _section(browser.get(f"/evidence/{item['id']}").text)
    shown = re.search(r'<pre class="evidence-text"[^>]*>([^<]*)</pre>', section)
    assert shown and shown.group(1) == text[:1000]  # characters, not bytes, on both databases
    assert "Only the first 1,000 of 3,000 characters of this section are shown" in section
    assert f'href="/evidence/{item["id"]}/text.txt"' in section
    browser.close()


def test_the_text_downloads_as_the_api_gives_it_and_is_recorded(app, alice, make_user):
    case = alice.make_case()
    item = _text_item(alice, case["id"], _long_text(), "long.txt")
    browser = sign_in(app, alice.email)
    response = browser.get(f"/evidence/{item['id']}/text.txt")
    assert response.status_code == 200 and response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"].startswith('attachment; filename="long - text.txt"')
    api = alice.get(f"/api/v1/evidence/{item['id']}/text", params={"format": "txt"}).text
    assert response.text == api and response.text.count("\f") == 14
    assert response.text.replace("\f", "") == _long_text()
    downloads = [e.details for e in events("evidence.text", evidence_id=uuid.UUID(item["id"]))]
    assert {"format": "txt", "page": None, "via": "web"} in downloads
    outsider = sign_in(app, make_user().email)
    assert outsider.get(f"/evidence/{item['id']}/text.txt").status_code == 404
    browser.close()
    outsider.close()


def test_an_editor_reads_the_text_again_and_the_page_follows(app, alice):
    case = alice.make_case()
    item = _text_item(alice, case["id"], "order 1234: refund after a five-star review\n")
    browser = sign_in(app, alice.email)
    sent = browser.post(f"/evidence/{item['id']}/text/rerun?case={case['id']}", {"language": "eng"})
    assert sent.status_code == 303 and sent.headers["location"] == f"/evidence/{item['id']}?case={case['id']}#text"
    [asked] = events("evidence.text_rerun", evidence_id=uuid.UUID(item["id"]))
    assert asked.details == {"language": "eng"}
    section = _section(browser.get(sent.headers["location"]).text)
    assert re.search(r"Waiting to be read|Being read now|Read from the file&#39;s own text", section)
    assert wait_text(alice, item["id"])["text_status"] == "done"
    # htmx: the section comes back in place, saying so in #status.
    again = browser.htmx("POST", f"/evidence/{item['id']}/text/rerun", data={"language": "eng"})
    assert again.status_code == 200 and 'id="text"' in again.text and "<html" not in again.text
    assert "The text will be read again, in English." in again.text
    wait_text(alice, item["id"])
    browser.close()


def test_while_the_text_is_read_the_section_polls_its_state_until_it_ends(app, alice):
    case = alice.make_case()
    item = _text_item(alice, case["id"], "refund sent by PayPal\n")
    _set_status(item["id"], "running")
    browser = sign_in(app, alice.email)
    section = _section(browser.get(f"/evidence/{item['id']}").text)
    assert "Being read now." in section and POLLING in section
    assert "The text below is the earlier reading's" in section and "refund sent by PayPal" in section
    assert "Read the text again" not in section  # it would be refused while the reading runs
    before = len(events("evidence.text", evidence_id=uuid.UUID(item["id"])))
    polled = browser.htmx("GET", f"/evidence/{item['id']}/text/state", params={"case": case["id"]})
    assert polled.status_code == 200 and POLLING in polled.text and 'id="text-state"' in polled.text
    assert "<section" not in polled.text and "HX-Retarget" not in polled.headers
    assert len(events("evidence.text", evidence_id=uuid.UUID(item["id"]))) == before  # no text shown, none read
    _set_status(item["id"], "done")  # the reading ends
    settled = browser.htmx("GET", f"/evidence/{item['id']}/text/state", params={"case": case["id"]})
    assert settled.headers["hx-retarget"] == "#text" and settled.headers["hx-reswap"] == "outerHTML"
    assert '<section class="panel text-section" id="text"' in settled.text and POLLING not in settled.text
    assert "refund sent by PayPal" in settled.text and "The text has been read." in settled.text
    browser.close()


def test_reading_again_is_refused_in_words(app, alice, make_user):
    viewer, stranger = make_user(), make_user()
    case = alice.make_case()
    add_member(alice, case["id"], viewer, "viewer")
    item = _text_item(alice, case["id"], "five stars for a full refund\n")
    rerun = f"/evidence/{item['id']}/text/rerun"
    browser = sign_in(app, alice.email)
    # A language not installed: the page again, saying so in the Text section, the choice kept.
    bad = browser.post(rerun, {"language": "xx_nope"})
    assert bad.status_code == 422 and "Language xx_nope is not installed on this server" in _section(bad.text)
    odd = browser.htmx("POST", rerun, data={"language": "eng; rm -rf /"})
    assert odd.status_code == 422 and odd.headers["hx-retarget"] == "#alerts"
    assert "Tesseract language codes" in odd.text
    # While the text is being read: 409, in words.
    _set_status(item["id"], "running")
    busy = browser.post(rerun, {"language": "eng"})
    assert busy.status_code == 409 and "being read already" in _section(busy.text)
    busy_htmx = browser.htmx("POST", rerun, data={"language": "eng"})
    assert busy_htmx.status_code == 409 and busy_htmx.headers["hx-retarget"] == "#alerts"
    _set_status(item["id"], "done")
    # No CSRF token: refused before anything is read.
    assert browser.post(rerun, {"language": "eng"}, csrf=False).status_code == 403
    browser.close()
    # A viewer sees no form and is refused; a non-member is told nothing is there.
    seen = sign_in(app, viewer.email)
    assert "Read the text again" not in seen.get(f"/evidence/{item['id']}").text
    refused = seen.post(rerun, {"language": "eng"})
    assert refused.status_code == 403 and "editor role" in refused.text
    seen.close()
    outsider = sign_in(app, stranger.email)
    assert outsider.post(rerun, {"language": "eng"}).status_code == 404
    outsider.close()
    assert events("evidence.text_rerun", evidence_id=uuid.UUID(item["id"])) == []


def test_the_reading_in_words():
    done = {"text_status": "done", "text_pages": 3, "ocr_pages": 3, "ocr_seconds": 4.21, "text_language": "eng"}
    ocr = done | {"text_engine": "tesseract 5.3.0"}
    assert words.how_read(ocr) == "Read by OCR (tesseract 5.3.0, English), 3 pages, 4.2 s"
    mixed = ocr | {"text_engine": "pdfium + tesseract 5.3.0", "text_pages": 12, "text_language": "eng+chi_sim"}
    assert words.how_read(mixed) == (
        "Read from the PDF's own text, 12 pages, and by OCR (tesseract 5.3.0, English and Chinese (simplified)) "
        "for 3 of them, 4.2 s"
    )
    assert words.how_read(done | {"text_engine": "pdfium", "ocr_pages": 0}) == "Read from the PDF's own text, 3 pages"
    assert words.how_read({"text_status": "pending"}) == "Waiting to be read"
    assert words.how_read({"text_status": "running"}) == "Being read now"
    encrypted = {"text_status": "skipped", "text_error": "the PDF is encrypted with a password"}
    assert words.how_read(encrypted) == "Skipped: the PDF is encrypted with a password"
    assert words.how_read({"text_status": "failed", "text_error": "the PDF is damaged"}) == "Failed: the PDF is damaged"
    assert words.how_read({"text_status": None}).startswith("Not read yet")
    limit = ocr | {"text_error": "only the first 500 of 900 pages were read (the page limit)"}
    assert words.left_out(limit) == "Something was left out: only the first 500 of 900 pages were read (the page limit)"
    assert words.left_out(ocr) is None
    assert words.languages("chi_sim+ara+xyz") == "Chinese (simplified), Arabic and xyz"
    assert words.duration(125) == "2 min 5 s" and words.duration(0.01) == "0.1 s"
