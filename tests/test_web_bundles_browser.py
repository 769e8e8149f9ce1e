"""The Bundles tab in Chromium, against the real `casebinder serve`: build a bundle in the builder, watch its
progress reach done, download it and open it with pikepdf; the pages pass axe and fit a phone."""

import io

import httpx
import pikepdf
from playwright.sync_api import expect

from tests.browser import assert_no_horizontal_scroll, axe_check, sign_in
from tests.pdf_reading import page_texts
from tests.test_web_bundles import HOSTILE, _pdf, _png

BUILD_SECONDS = 300  # a wait for a background build on a shared machine, not a performance limit


def _case(base_url: str, email: str, password: str) -> dict:
    token = httpx.post(f"{base_url}/api/v1/auth/token", data={"username": email, "password": password}).json()
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        for name, content, kind in (
            ("refund.pdf", _pdf(2), "refund_record"),
            ("review.png", _png(), "review_screenshot"),
        ):
            r = api.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": (name, content)},
                data={"kind": kind, "title": f"Evidence {name}"},
            )
            assert r.status_code == 201, r.text
    return case


def test_build_a_bundle_watch_it_finish_and_download_it(web_server, account, page, open_page, tmp_path):
    email, password = account()
    case = _case(web_server.base_url, email, password)
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}/bundles")
    expect(page.get_by_text("No bundles yet")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Build a bundle").first.click()
    expect(page.get_by_role("heading", name="Build a bundle")).to_be_visible()
    page.get_by_label("Choose exhibits and their order").check()
    axe_check(page)
    # The second exhibit first, moved with the keyboard: the focus stays on the button, the move is announced.
    down = page.get_by_role("button", name="Move exhibit PX-001 down")
    down.focus()
    page.keyboard.press("Enter")
    expect(down).to_be_focused()
    expect(page.locator("#status")).to_have_text("Exhibit PX-001 moved to position 2 of 2.")
    page.get_by_label("Title").fill(HOSTILE)
    page.get_by_label("Largest file the court accepts").select_option("35")
    page.get_by_role("button", name="Build the bundle", exact=True).last.click()

    expect(page.get_by_role("heading", level=2)).to_have_text(HOSTILE)
    assert page.locator("main img").count() == 0  # the hostile title was text, never markup
    expect(page.locator("#status")).to_have_text("Bundle built.", timeout=BUILD_SECONDS * 1000)
    expect(page.locator("#bundle-state[hx-trigger]")).to_have_count(0)  # the polling has stopped
    axe_check(page)

    with page.expect_download() as started:
        page.get_by_role("link", name="Download the PDF").click()
    path = tmp_path / "bundle.pdf"
    started.value.save_as(path)
    data = path.read_bytes()
    with pikepdf.open(io.BytesIO(data)) as pdf:
        pages = len(pdf.pages)
    texts = page_texts(data)
    assert "CB000001" in texts[0] and f"CB{pages:06d}" in texts[-1]  # the case has no prefix: the default one

    page.get_by_role("link", name="Read the validation report").click()
    expect(page.get_by_text("Ready to file.")).to_be_visible()
    axe_check(page)

    phone = open_page("phone")
    sign_in(phone, web_server.base_url, email, password)
    for where in ("bundles", "bundles/new"):
        phone.goto(f"/cases/{case['id']}/{where}")
        assert_no_horizontal_scroll(phone)
    phone.get_by_label("Choose exhibits and their order").check()
    assert_no_horizontal_scroll(phone)
    axe_check(phone)
