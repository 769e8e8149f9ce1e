"""The Bundles tab in the web app: building a bundle through the builder, watching its build to the end, downloading
it (whole and by volume) and reading it back with pikepdf, its validation report, rebuilding it, and who may do what.
Real uploads, real builds, real HTTP through the app as a signed-in person."""

import html
import io
import random
import re
import time

import pikepdf
import pytest
from PIL import Image

from tests.helpers import add_member, events, wait_done
from tests.pdf_reading import page_texts
from tests.web_support import sign_in

pytestmark = pytest.mark.slow

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> بيان المدعي 原告の証拠 עדות"


def _pdf(text_pages: int = 1) -> bytes:
    pdf = pikepdf.new()
    for _ in range(text_pages):
        pdf.add_blank_page(page_size=(612, 792))
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def _png(size: tuple[int, int] = (60, 40), seed: str = "png") -> bytes:
    """A picture that does not compress: about 3 bytes a pixel, in the file and on its page."""
    rng = random.Random(seed)
    out = io.BytesIO()
    Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3)).save(out, "PNG")
    return out.getvalue()


def _case_with_two(actor) -> tuple[dict, list[dict]]:
    case = actor.make_case(bates_prefix="ACME")
    items = [
        actor.upload(case["id"], _pdf(2), filename="refund.pdf", kind="refund_record", title="Refund record").json(),
        actor.upload(case["id"], _png(), filename="review.png", kind="review_screenshot", title="Review").json(),
    ]
    return case, items


def _bundle_id(response) -> str:
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/cases/[0-9a-f-]+/bundles/([0-9a-f-]+)", response.headers["location"])
    assert match, response.headers["location"]
    return match.group(1)


def _watch(browser, case_id: str, bundle_id: str, *, seconds: float = 180) -> str:
    """Poll the status fragment as the page does, until it stops asking to be polled; the last fragment. (A wait
    for a background job, not a performance limit.)"""
    path = f"/cases/{case_id}/bundles/{bundle_id}/status"
    was = "queued"
    deadline = time.monotonic() + seconds
    while True:
        fragment = browser.htmx("GET", path, params={"was": was})
        assert fragment.status_code == 200, fragment.text
        polled = re.search(r'hx-get="[^"]*status\?was=(\w+)"', fragment.text)
        if polled is None or time.monotonic() > deadline:
            return fragment.text
        was = polled.group(1)
        time.sleep(0.1)


def _builder_form(page: str) -> dict:
    """The builder's fields as the browser sends them at first: every text field, each exhibit row (all ticked)."""
    data: dict = {"title": "", "legend": "", "bates_prefix": "", "bates_start": "", "bates_digits": "6"}
    data["bates_prefix"] = re.search(r'id="bates_prefix" name="bates_prefix" maxlength="30" value="([^"]*)"', page)[1]
    data |= {"volume": "", "volume_other": "", "selection": "all", "cover": "on", "index": "on"}
    data |= {"slip_sheets": "on", "certificate": "on", "action": "build"}
    rows = re.findall(r'name="row" value="([0-9a-f-]+)"', page)
    data["row"], data["include"] = rows, list(rows)
    for position, row in enumerate(rows, 1):
        data[f"position-{row}"] = str(position)
    return data


def test_a_bundle_built_in_the_builder_is_watched_to_done_and_downloaded(app, alice):
    case, items = _case_with_two(alice)
    browser = sign_in(app, alice.email)
    empty = browser.get(f"/cases/{case['id']}/bundles")
    assert empty.status_code == 200 and "No bundles yet" in empty.text and "Build a bundle" in empty.text

    builder = browser.get(f"/cases/{case['id']}/bundles/new")
    assert builder.status_code == 200
    for item in items:
        assert item["exhibit"]["label"] in builder.text
    assert 'value="ACME"' in builder.text and "35 MB per file" in builder.text and "All 2 exhibits" in builder.text
    form = _builder_form(builder.text)
    first, second = form["row"]
    # Chosen, in the other order (position numbers, as a browser without JavaScript sends them).
    form |= {"title": HOSTILE, "selection": "chosen", f"position-{first}": "2", f"position-{second}": "1"}
    form["bates_prefix"] = "web"  # typed in lower case: bundled in capitals
    bundle_id = _bundle_id(browser.post(f"/cases/{case['id']}/bundles", data=form))

    watching = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}")
    assert watching.status_code == 200
    assert "<script>alert(1)" not in watching.text and html.escape(HOSTILE, quote=False) in watching.text
    last = _watch(browser, case["id"], bundle_id)
    assert 'hx-swap-oob="innerHTML:#status">Bundle built.' in last and "hx-trigger" not in last
    assert f"/cases/{case['id']}/bundles/{bundle_id}/pdf" in last  # the download, put in place by the last poll

    bundle = alice.get(f"/api/v1/bundles/{bundle_id}").json()
    assert bundle["status"] == "done" and bundle["title"] == HOSTILE
    assert [p["exhibit_id"] for p in bundle["exhibits"]] == [second, first]
    download = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}/pdf")
    assert download.status_code == 200 and download.headers["content-type"] == "application/pdf"
    assert "attachment" in download.headers["content-disposition"]
    with pikepdf.open(io.BytesIO(download.content)) as pdf:
        assert len(pdf.pages) == bundle["page_count"]
    texts = page_texts(download.content)
    assert "WEB000001" in texts[0] and f"WEB{bundle['page_count']:06d}" in texts[-1]
    assert bundle["bates_first"] == "WEB000001"
    downloads = events("bundle.download", object_id=bundle_id)
    assert [e.details["volume"] for e in downloads] == [1] and downloads[0].details["sha256"] == bundle["sha256"]

    page = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}").text
    assert "Built" in page and "Download the PDF" in page and "WEB000001 to" in page and "hx-trigger" not in page
    listed = browser.get(f"/cases/{case['id']}/bundles").text
    assert "Built" in listed and f"/bundles/{bundle_id}/pdf" in listed and "Rebuild" in listed
    assert "<img src=x" not in listed and "&lt;img src=x onerror=alert(2)&gt;" in listed
    browser.close()


def test_a_bundle_in_volumes_is_downloaded_volume_by_volume_and_its_report_reads_in_words(app, alice):
    case = alice.make_case(bates_prefix="VOL")
    for name in ("a", "b", "c"):
        alice.upload(case["id"], _png((250, 580), name), filename=f"{name}.png", kind="listing_snapshot", title=name)
    browser = sign_in(app, alice.email)
    form = _builder_form(browser.get(f"/cases/{case['id']}/bundles/new").text)
    form |= {"volume": "other", "volume_other": "0.6", "certificate": None}
    bundle_id = _bundle_id(browser.post(f"/cases/{case['id']}/bundles", data={k: v for k, v in form.items() if v}))
    assert "Bundle built." in _watch(browser, case["id"], bundle_id)
    bundle = alice.get(f"/api/v1/bundles/{bundle_id}").json()
    assert len(bundle["volumes"]) >= 2 and bundle["params"]["max_volume_mb"] == 0.6

    page = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}").text
    assert f"split into {len(bundle['volumes'])} volumes" in page and "0.6 MB per file" in page
    whole = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}/pdf")
    assert whole.status_code == 409 and "split into" in whole.text
    for volume in bundle["volumes"]:
        path = f"/cases/{case['id']}/bundles/{bundle_id}/volumes/{volume['number']}/pdf"
        assert f"Download volume {volume['number']}" in page and path in page
        got = browser.get(path)
        assert got.status_code == 200 and len(got.content) == volume["size_bytes"] <= 600_000
        with pikepdf.open(io.BytesIO(got.content)) as pdf:
            assert len(pdf.pages) == volume["page_count"]
        assert volume["bates_first"] in page_texts(got.content)[0]
    assert browser.get(f"/cases/{case['id']}/bundles/{bundle_id}/volumes/99/pdf").status_code == 404
    assert sorted(e.details["volume"] for e in events("bundle.download", object_id=bundle_id)) == [
        v["number"] for v in bundle["volumes"]
    ]

    report = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}/validation")
    assert report.status_code == 200
    assert "Ready to file." in report.text and "within the volume size limit (0.6 MB per file)" in report.text
    assert "not encrypted" in report.text and "every font is embedded" in report.text
    textless = bundle["validation"]["pages_without_text"]
    assert textless, "the pictures' pages carry no text"
    assert f"{len(textless)} page" in report.text and textless[0] in report.text
    browser.close()


def test_a_failed_build_is_announced_with_its_reason(app, alice):
    case = alice.make_case(bates_prefix="HUGE")
    alice.upload(case["id"], _png((640, 640), "scan"), filename="scan.png", kind="listing_snapshot", title="Scan")
    browser = sign_in(app, alice.email)
    form = _builder_form(browser.get(f"/cases/{case['id']}/bundles/new").text) | {"volume": "other"}
    form["volume_other"] = "1"
    bundle_id = _bundle_id(browser.post(f"/cases/{case['id']}/bundles", data=form))
    last = _watch(browser, case["id"], bundle_id)
    error = alice.get(f"/api/v1/bundles/{bundle_id}").json()["error"]
    assert error and 'hx-swap-oob="innerHTML:#status">Bundle failed: ' in last
    assert html.escape(error, quote=False) in last and "The build failed." in last
    assert "Download the PDF" not in last and "Rebuild" in last
    assert browser.get(f"/cases/{case['id']}/bundles/{bundle_id}/pdf").status_code == 409
    browser.close()


def test_a_rebuild_from_the_page_builds_again_and_a_filed_bundle_is_rebuilt_beside_itself(app, alice):
    case, _ = _case_with_two(alice)
    browser = sign_in(app, alice.email)
    bundle_id = _bundle_id(browser.post(f"/cases/{case['id']}/bundles", data={"title": "Trial exhibits"}))
    assert "Bundle built." in _watch(browser, case["id"], bundle_id)
    built = alice.get(f"/api/v1/bundles/{bundle_id}").json()

    again = browser.post(f"/cases/{case['id']}/bundles/{bundle_id}/rebuild")
    assert _bundle_id(again) == bundle_id
    assert "Bundle built." in _watch(browser, case["id"], bundle_id)
    rebuilt = alice.get(f"/api/v1/bundles/{bundle_id}").json()
    assert rebuilt["sha256"] == built["sha256"] and rebuilt["finished_at"] >= built["finished_at"]
    assert [e.object_id for e in events("bundle.rebuild", object_id=bundle_id)] == [bundle_id]

    filed = alice.request("PUT", f"/api/v1/cases/{case['id']}/filed-bundle", json={"bundle_id": bundle_id})
    assert filed.status_code == 200, filed.text
    listed = browser.get(f"/cases/{case['id']}/bundles").text
    assert "Filed bundle" in listed
    page = browser.get(f"/cases/{case['id']}/bundles/{bundle_id}").text
    assert "Filed bundle" in page and "a new bundle beside it" in page
    beside = _bundle_id(browser.post(f"/cases/{case['id']}/bundles/{bundle_id}/rebuild"))
    assert beside != bundle_id
    assert "Bundle built." in _watch(browser, case["id"], beside)
    assert alice.get(f"/api/v1/bundles/{beside}").json()["rebuilt_from"] == bundle_id
    assert "Rebuilt beside" in browser.get(f"/cases/{case['id']}/bundles/{beside}").text
    browser.close()


def test_a_viewer_sees_no_builder_or_rebuild_and_is_refused_when_forcing_them(app, alice, make_user):
    case, _ = _case_with_two(alice)
    bundle = wait_done(alice, alice.post(f"/api/v1/cases/{case['id']}/bundles", json={}).json()["id"])
    viewer = make_user()
    add_member(alice, case["id"], viewer, "viewer")
    browser = sign_in(app, viewer.email)
    base = f"/cases/{case['id']}/bundles"
    listed = browser.get(base)
    assert listed.status_code == 200 and f"{base}/{bundle['id']}/pdf" in listed.text
    assert "Build a bundle" not in listed.text and "Rebuild" not in listed.text
    page = browser.get(f"{base}/{bundle['id']}")
    assert page.status_code == 200 and "Download the PDF" in page.text
    assert "Rebuild" not in page.text and "Cancel the build" not in page.text
    assert browser.get(f"{base}/{bundle['id']}/pdf").status_code == 200  # a viewer may download
    assert browser.get(f"{base}/new").status_code == 403
    assert browser.post(base, data={"title": "Forced"}).status_code == 403
    assert browser.post(f"{base}/{bundle['id']}/rebuild").status_code == 403
    assert browser.post(f"{base}/{bundle['id']}/cancel").status_code == 403
    assert len(alice.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"]) == 1
    assert events("bundle.rebuild", object_id=bundle["id"]) == []
    browser.close()


def test_a_non_member_gets_404_and_another_case_s_bundle_is_not_found_here(app, alice, bob):
    case, _ = _case_with_two(alice)
    bundle = wait_done(alice, alice.post(f"/api/v1/cases/{case['id']}/bundles", json={}).json()["id"])
    base = f"/cases/{case['id']}/bundles"
    outsider = sign_in(app, bob.email)
    own = f"{base}/{bundle['id']}"
    for path in (base, f"{base}/new", own, f"{own}/status", f"{own}/pdf", f"{own}/volumes/1/pdf", f"{own}/validation"):
        assert outsider.get(path).status_code == 404, path
    assert outsider.post(f"{base}/{bundle['id']}/rebuild").status_code == 404
    assert outsider.post(base, data={"title": "Forced"}).status_code == 404
    outsider.close()

    other = alice.make_case()  # alice's own case, but the bundle is not its
    browser = sign_in(app, alice.email)
    assert browser.get(f"/cases/{other['id']}/bundles/{bundle['id']}").status_code == 404
    assert browser.get(f"/cases/{other['id']}/bundles/{bundle['id']}/pdf").status_code == 404
    assert browser.get(f"{base}/not-a-bundle").status_code == 404
    browser.close()


def test_forms_without_the_csrf_token_are_refused(app, alice):
    case, _ = _case_with_two(alice)
    bundle = wait_done(alice, alice.post(f"/api/v1/cases/{case['id']}/bundles", json={}).json()["id"])
    browser = sign_in(app, alice.email)
    base = f"/cases/{case['id']}/bundles"
    assert browser.post(base, data={"title": "No token"}, csrf=False).status_code == 403
    assert browser.post(f"{base}/{bundle['id']}/rebuild", csrf=False).status_code == 403
    assert len(alice.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"]) == 1
    assert events("bundle.rebuild", object_id=bundle["id"]) == []
    browser.close()


def _rows(page: str) -> list[str]:
    return re.findall(r'name="row" value="([0-9a-f-]+)"', page)


def _ticked(page: str) -> set[str]:
    return set(re.findall(r'name="include" value="([0-9a-f-]+)" checked', page))


def test_the_builder_without_javascript_shows_more_moves_rows_and_says_what_is_wrong(app, alice):
    from api.web.bundle_builder import ROWS_PER_PAGE

    case = alice.make_case()
    for n in range(ROWS_PER_PAGE + 2):
        alice.upload(case["id"], f"note {n}".encode(), filename=f"n{n}.txt", title=f"Note {n}")
    browser = sign_in(app, alice.email)
    base = f"/cases/{case['id']}/bundles"
    page = browser.get(f"{base}/new").text
    form = _builder_form(page)
    assert len(form["row"]) == ROWS_PER_PAGE and f"It lists {ROWS_PER_PAGE} of the {ROWS_PER_PAGE + 2}" in page
    cursor = re.search(r'name="cursor" value="([^"]+)"', page)[1]

    # With htmx, "Show more" fetches the next rows, numbered on from the rest, in place of its own row.
    more = browser.htmx("GET", f"{base}/new/rows", params={"cursor": cursor, "start": ROWS_PER_PAGE})
    assert more.status_code == 200 and len(_rows(more.text)) == 2 and "more-row" not in more.text
    assert f'value="{ROWS_PER_PAGE + 1}"' in more.text and _ticked(more.text) == set(_rows(more.text))

    # Without it, the same button posts the form back and it returns as sent, with the next rows after.
    first = form["row"][0]
    form |= {"title": HOSTILE, "include": form["row"][1:], "action": "more", "cursor": cursor}
    shown = browser.post(base, data=form)
    assert shown.status_code == 200 and len(_rows(shown.text)) == ROWS_PER_PAGE + 2
    assert first not in _ticked(shown.text) and len(_ticked(shown.text)) == ROWS_PER_PAGE + 1
    assert 'id="selection-chosen" name="selection" value="chosen" checked' in shown.text
    assert html.escape(HOSTILE) in shown.text and "<script>alert(1)" not in shown.text

    # Move down, then typed positions applied: the rows come back in that order, numbered again.
    form = _builder_form(shown.text) | {"action": None, "move": f"down:{first}"}
    moved = browser.post(base, data={k: v for k, v in form.items() if v is not None})
    assert _rows(moved.text)[:2] == [_rows(shown.text)[1], first]
    form = _builder_form(moved.text) | {"action": "order", f"position-{first}": "999"}
    ordered = browser.post(base, data=form)
    assert _rows(ordered.text)[-1] == first and f'name="position-{first}" value="{ROWS_PER_PAGE + 2}"' in ordered.text
    third = _rows(ordered.text)[2]  # given the number of the row before it: it takes that place
    up = browser.post(base, data=_builder_form(ordered.text) | {"action": "order", f"position-{third}": "2"})
    assert _rows(up.text)[:3] == [_rows(ordered.text)[0], third, _rows(ordered.text)[1]]

    # Refusals in words, beside their fields, and nothing built.
    wrong = _builder_form(ordered.text) | {"selection": "chosen", "include": [], "bates_prefix": "AB9"}
    wrong |= {"bates_start": "one", "volume": "other", "volume_other": "big"}
    refused = browser.post(base, data=wrong)
    assert refused.status_code == 422
    for words in ("Tick at least one exhibit", "do not end in a digit", "Enter a whole number", "as a number"):
        assert words in refused.text, words
    assert 'id="bates_prefix-error"' in refused.text and 'aria-invalid="true"' in refused.text
    forged = _builder_form(ordered.text) | {"selection": "chosen"}
    stranger = alice.make_case()
    foreign = alice.upload(stranger["id"], b"elsewhere", filename="x.txt", title="Elsewhere").json()["exhibit"]["id"]
    forged["row"] = forged["include"] = [foreign]
    refused = browser.post(base, data=forged)
    assert refused.status_code == 422 and "The bundle was not built." in refused.text
    assert alice.get(f"/api/v1/cases/{case['id']}/bundles").json()["items"] == []
    browser.close()


def test_a_case_without_exhibits_says_to_upload_them_first(app, alice):
    case = alice.make_case()
    browser = sign_in(app, alice.email)
    page = browser.get(f"/cases/{case['id']}/bundles/new")
    assert page.status_code == 200 and "No exhibits to bundle yet" in page.text
    assert 'id="builder"' not in page.text
    browser.close()
