"""The Redactions page: a reviewer suggests, accepts, rejects and draws redactions over an item's pages, edits the
case's terms, applies the accepted ones and follows the redacted copy to its end, all through the API's service (so
the same audit events are recorded); a viewer reads the page and is refused every action; a non-member finds
nothing; every string (a term, the text a box covers, a reason) is text, never markup, in any script."""

import html
import re
import time
import uuid

import pytest
from playwright.sync_api import expect
from sqlalchemy import update
from sqlmodel import col

from api.db import session_scope
from models.text import EvidenceText
from tests.browser import EXPECT_SECONDS, axe_check
from tests.browser import sign_in as browser_sign_in
from tests.helpers import add_member, events
from tests.redaction_support import EMAIL, SSN, TERM, text_pdf
from tests.text_support import wait_text
from tests.web_support import sign_in

pytestmark = pytest.mark.slow
HOSTILE = "<script>alert(1)</script>"
SCRIPTS = "مراجعة 五星好评 ביקורת ดีมาก 좋아요 बहुत"


def _sheet(rows: list[str]) -> bytes:
    head = "order_id,buyer,email,ssn,note"
    return ("\r\n".join([head, *rows]) + "\r\n").encode()


def _csv(extra: str = "") -> bytes:
    return _sheet(
        [
            f"A-1001,Jane Roe,{EMAIL},{SSN},{TERM} refund",
            f"A-1002,{SCRIPTS},,,{HOSTILE}{extra}",
        ]
    )


def _item(actor, case_id: str, data: bytes, name: str = "orders.csv") -> dict:
    response = actor.upload(case_id, data, filename=name, kind="order_record", title=f"Orders {SCRIPTS}")
    assert response.status_code == 201, response.text
    return response.json()


def _listing(actor, item: dict) -> list[dict]:
    return actor.get(f"/api/v1/evidence/{item['id']}/redactions").json()["items"]


def _url(item: dict, case: dict, tail: str = "") -> str:
    return f"/evidence/{item['id']}/redactions{tail}?case={case['id']}"


def _set_id(fragment: str) -> str:
    found = re.search(r"/redactions/sets/([0-9a-f-]{36})", fragment)
    assert found, fragment
    return found.group(1)


def _follow(browser, item: dict, case: dict, set_id: str, limit: float = 300) -> str:
    """The set's part of the page once it no longer polls (done or failed), as htmx polls it."""
    deadline = time.monotonic() + limit
    while True:
        part = browser.htmx("GET", _url(item, case, f"/sets/{set_id}"))
        assert part.status_code == 200, part.text
        if 'hx-trigger="every 2s"' not in part.text:
            return part.text
        assert time.monotonic() < deadline, f"redaction set {set_id} still being applied after {limit} s"
        time.sleep(0.3)


def test_a_reviewer_suggests_decides_draws_and_applies_and_opens_the_copy(app, alice):
    case = alice.make_case()
    item = _item(alice, case["id"], _csv())
    browser = sign_in(app, alice.email)
    evidence_page = browser.get(f"/evidence/{item['id']}?case={case['id']}").text
    assert f'href="/evidence/{item["id"]}/redactions?case={case["id"]}"' in evidence_page

    # The case's terms, one per line: the protective order's project name and a hostile string.
    saved = browser.post(_url(item, case, "/terms"), {"terms": f"{TERM.lower()}\r\n\r\n{HOSTILE}\r\n", "patterns": ""})
    assert saved.status_code == 303 and saved.headers["location"] == _url(item, case) + "#terms"
    assert alice.get(f"/api/v1/cases/{case['id']}/redaction-terms").json()["terms"] == [TERM.lower(), HOSTILE]

    first = browser.get(_url(item, case))
    assert first.status_code == 200
    for control in ("Suggest redactions", "Apply accepted redactions", "Save terms and patterns", "Redact this box"):
        assert control in first.text
    assert 'src="/static/redact.js"' in first.text
    assert f'src="/evidence/{item["id"]}/redactions/pages/1.png?width=800"' in first.text

    # Suggest: htmx gets the page's body with the new suggestions, and says how many.
    suggested = browser.htmx("POST", _url(item, case, "/suggest"))
    assert suggested.status_code == 200, suggested.text
    found = _listing(alice, item)
    rules = {r["rule"] for r in found}
    assert {"ssn", "email", "term"} <= rules, rules
    assert f"{len(found)} new suggestions to review" in suggested.text
    assert 'id="redactions-body"' in suggested.text and 'hx-swap-oob="innerHTML:#status"' in suggested.text
    assert suggested.text.count("box-suggested") >= len(found)
    # Asked again, nothing is suggested twice; a plain form comes back to the page saying so.
    again = browser.post(_url(item, case, "/suggest"))
    assert again.status_code == 303 and "added=0" in again.headers["location"]
    assert "No new suggestions" in browser.get(again.headers["location"]).text

    # Accept one (htmx: the page's group comes back, with the counts out of band), with a reason of one's own.
    ssn = next(r for r in found if r["rule"] == "ssn")
    accepted = browser.htmx(
        "POST", _url(item, case, f"/{ssn['id']}/decide"), data={"status": "accepted", "reason": "PO ¶ 4 <b>"}
    )
    assert accepted.status_code == 200, accepted.text
    assert f'id="page-{ssn["page"]}"' in accepted.text and 'id="redaction-counts" hx-swap-oob="true"' in accepted.text
    assert "1 accepted" in accepted.text and 'value="PO ¶ 4 &lt;b&gt;"' in accepted.text
    # Reject another, with a plain form: back to the page at its row.
    email = next(r for r in found if r["rule"] == "email")
    rejected = browser.post(_url(item, case, f"/{email['id']}/decide"), {"status": "rejected", "reason": ""})
    assert rejected.status_code == 303 and rejected.headers["location"].endswith(f"#redaction-{email['id']}")
    by_id = {r["id"]: r for r in _listing(alice, item)}
    assert by_id[ssn["id"]]["status"] == "accepted" and by_id[ssn["id"]]["reason"] == "PO ¶ 4 <b>"
    assert by_id[email["id"]]["status"] == "rejected" and by_id[email["id"]]["reason"] == email["reason"]

    # Draw one: a box over the term's row, with its reason.
    term = next(r for r in found if r["rule"] == "term")
    box = dict(zip(("x0", "y0", "x1", "y1"), (str(v) for v in term["box"]), strict=True))
    drawn = browser.htmx("POST", _url(item, case, "/draw"), data={"page": "1", "reason": "Protective order", **box})
    assert drawn.status_code == 409 and "already covers this box" in drawn.text  # the term's suggestion covers it
    box["x1"] = str(min(1.0, term["box"][2] + 0.05))
    drawn = browser.htmx("POST", _url(item, case, "/draw"), data={"page": "1", "reason": "Protective order", **box})
    assert drawn.status_code == 200, drawn.text
    assert "Drawn by hand" in drawn.text and "2 accepted" in drawn.text
    [hand] = [r for r in _listing(alice, item) if r["rule"] == "drawn"]
    assert hand["status"] == "accepted" and TERM in (hand["text"] or "")
    # A box off the page is refused in words, before the service is asked.
    off = browser.post(
        _url(item, case, "/draw"), {"page": "1", "reason": "x", "x0": "0.5", "y0": "0.1", "x1": "0.4", "y1": "0.2"}
    )
    assert off.status_code == 422 and "x0 &lt; x1" in off.text and 'aria-invalid="true"' in off.text

    # Apply: the set's part polls until it has ended, then links to the redacted copy.
    applying = browser.htmx("POST", _url(item, case, "/apply"))
    assert applying.status_code == 200, applying.text
    assert 'hx-trigger="every 2s"' in applying.text and "being applied" in applying.text
    ended = _follow(browser, item, case, _set_id(applying.text))
    done = alice.get(f"/api/v1/redaction-sets/{_set_id(applying.text)}").json()
    assert done["status"] == "done", done["error"]
    assert f'href="/evidence/{done["derived_evidence_id"]}?case={case["id"]}"' in ended
    assert "Open the redacted copy" in ended
    page = browser.get(_url(item, case)).text
    assert f"/evidence/{done['derived_evidence_id']}?case={case['id']}" in page

    # Every action was recorded as the API's are, as the reviewer's.
    evidence_id = uuid.UUID(item["id"])
    for action in ("redaction.suggest", "redaction.decide", "redaction.draw", "redaction.apply"):
        recorded = events(action, evidence_id=evidence_id)
        assert recorded and all(e.actor_email == alice.email for e in recorded), action
    assert len(events("redaction.terms", case_id=uuid.UUID(case["id"]))) == 1
    browser.close()


def test_the_page_shows_any_script_and_hostile_strings_as_text(app, alice):
    case = alice.make_case()
    item = _item(alice, case["id"], _csv())
    alice.request(
        "PUT", f"/api/v1/cases/{case['id']}/redaction-terms", json={"terms": [HOSTILE, "五星好评"], "patterns": []}
    )
    assert alice.post(f"/api/v1/evidence/{item['id']}/redactions/suggest").status_code == 200
    covered = {r["text"] for r in _listing(alice, item)}
    assert any(HOSTILE in (t or "") for t in covered) and any("五星好评" in (t or "") for t in covered), covered
    browser = sign_in(app, alice.email)
    page = browser.get(_url(item, case)).text
    assert "<script>alert(1)" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # the term in the textarea, and the text it covers
    assert '<bdi dir="auto">五星好评</bdi>' in page
    assert html.escape(f"Orders {SCRIPTS}", quote=False) in page
    # A refused pattern is named by its line, and what was typed stays in the form.
    refused = browser.post(_url(item, case, "/terms"), {"terms": "x", "patterns": "ok\n(unclosed"})
    assert (
        refused.status_code == 422
        and "The pattern on line 2 is not a regular expression" in refused.text
        and "(unclosed</textarea>" in refused.text
    )
    # The picture of the CSV's page, as redaction places boxes on it.
    picture = browser.get(f"/evidence/{item['id']}/redactions/pages/1.png?width=800")
    assert picture.status_code == 200 and picture.content.startswith(b"\x89PNG")
    assert browser.get(f"/evidence/{item['id']}/redactions/pages/9.png").status_code == 404
    browser.close()


def test_while_the_text_is_being_read_suggesting_says_so(app, alice):
    case = alice.make_case()
    response = alice.upload(case["id"], text_pdf(), filename="statement.pdf", kind="refund_record", title="Statement")
    item = wait_text(alice, response.json()["id"])
    with session_scope() as session:
        session.execute(
            update(EvidenceText).where(col(EvidenceText.id) == uuid.UUID(item["id"])).values(status="running")
        )
    browser = sign_in(app, alice.email)
    assert f'src="/evidence/{item["id"]}/pages/1.png?width=800"' in browser.get(_url(item, case)).text
    told = browser.htmx("POST", _url(item, case, "/suggest"))
    assert told.status_code == 409 and told.headers["hx-retarget"] == "#alerts"
    assert "still being read" in told.text and "GET /evidence" not in told.text
    plain = browser.post(_url(item, case, "/suggest"))
    assert plain.status_code == 409 and "still being read" in plain.text and "Suggest redactions" in plain.text
    assert _listing(alice, item) == []
    browser.close()


def test_a_viewer_reads_the_page_and_is_refused_every_action(app, alice, make_user):
    viewer, stranger = make_user(), make_user()
    case = alice.make_case()
    add_member(alice, case["id"], viewer, "viewer")
    item = _item(alice, case["id"], _csv())
    alice.post(f"/api/v1/evidence/{item['id']}/redactions/suggest")
    [first, *_] = _listing(alice, item)
    seen = sign_in(app, viewer.email)
    page = seen.get(_url(item, case))
    assert page.status_code == 200 and "Suggested" in page.text
    for control in ("Suggest redactions", "Apply accepted redactions", ">Accept<", ">Reject<", "Redact this box"):
        assert control not in page.text, control
    assert "<textarea" not in page.text and "redact.js" not in page.text and "data-draw" not in page.text
    actions = [
        (_url(item, case, "/suggest"), {}),
        (_url(item, case, f"/{first['id']}/decide"), {"status": "accepted"}),
        (_url(item, case, "/draw"), {"page": "1", "reason": "x", "x0": "0.1", "y0": "0.1", "x1": "0.2", "y1": "0.2"}),
        (_url(item, case, "/apply"), {}),
        (_url(item, case, "/terms"), {"terms": "x"}),
    ]
    refused = [seen.post(url, data) for url, data in actions]
    assert [r.status_code for r in refused] == [403] * 5
    assert "editor role" in html.unescape(refused[0].text)
    assert seen.htmx("POST", actions[0][0]).status_code == 403
    # Nothing was changed by any of it.
    assert all(r["status"] == "suggested" for r in _listing(alice, item))
    assert alice.get(f"/api/v1/cases/{case['id']}/redaction-terms").json()["terms"] == []
    # A form without the CSRF token is refused too, even an editor's.
    owner = sign_in(app, alice.email)
    assert owner.post(actions[0][0], csrf=False).status_code == 403
    # A non-member is told there is nothing there.
    outsider = sign_in(app, stranger.email)
    assert outsider.get(_url(item, case)).status_code == 404
    assert outsider.post(actions[0][0]).status_code == 404
    assert outsider.get(f"/evidence/{item['id']}/redactions/pages/1.png").status_code == 404
    for browser in (seen, owner, outsider):
        browser.close()


def test_drag_a_box_over_a_page_and_see_it_listed(web_server, account, page):
    import httpx

    email, password = account()
    token = httpx.post(f"{web_server.base_url}/api/v1/auth/token", data={"username": email, "password": password})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=web_server.base_url, headers=headers, timeout=60) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        item = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("orders.csv", _csv(), "text/csv")},
            data={"kind": "order_record", "title": f"Orders {SCRIPTS}"},
        ).json()
    browser_sign_in(page, web_server.base_url, email, password)
    page.goto(f"/evidence/{item['id']}?case={case['id']}")
    page.get_by_role("link", name="Redactions").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Redactions")
    picture = page.get_by_role("img", name=re.compile(r"^Page 1 of Orders"))
    expect(picture).to_have_js_property("complete", True, timeout=EXPECT_SECONDS * 1000)
    assert picture.evaluate("img => img.naturalWidth") > 0
    axe_check(page)

    sheet = page.locator("#page-1 .redact-sheet")
    box = sheet.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] * 0.1)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.15, steps=5)
    page.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2, steps=5)
    page.mouse.up()
    reason = page.locator("#draw-1-reason")
    expect(reason).to_be_focused()
    assert abs(float(page.locator("#draw-1-x0").input_value()) - 0.1) < 0.01
    assert abs(float(page.locator("#draw-1-y1").input_value()) - 0.2) < 0.01
    reason.fill("Protective order ¶ 4 — 保护令")
    page.get_by_role("button", name="Redact this box").click()
    row = page.locator("#page-1 table.redactions tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("Drawn by hand")
    expect(row).to_contain_text("Accepted")
    expect(page.locator("#page-1 svg rect.box-accepted")).to_have_count(1)
    expect(page.locator("#redaction-counts")).to_contain_text("1 accepted")
    expect(page.locator("#status")).to_contain_text("Box drawn on page 1")
    axe_check(page)
