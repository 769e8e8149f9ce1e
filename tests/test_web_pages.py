"""The web app's pages as a person sees them: my cases, a new case, a case's exhibits; 404 and 403 as pages."""

import re

from tests.helpers import add_member
from tests.web_support import sign_in

HOSTILE = "<script>alert(1)</script><img src=x onerror=alert(2)> شركة 假评论 ביקורת"


def _rows(html: str, table_class: str) -> list[str]:
    table = re.search(rf'<table class="data {table_class}".*?</table>', html, re.S)
    return re.findall(r"<tr[ >].*?</tr>", table.group(0), re.S)[1:] if table else []


def test_my_cases_lists_the_cases_with_their_counts_and_hold(app, make_user):
    owner = make_user()
    browser = sign_in(app, owner.email)
    empty = browser.get("/").text
    assert "No cases yet" in empty and "Create your first case" in empty

    case = owner.make_case(title="Acme Audio v. Mpow Direct", court="N.D. Cal.", docket_number="5:24-cv-01234")
    owner.upload(case["id"], b"\x89PNG screenshot one", "one.png")
    owner.upload(case["id"], b"\x89PNG screenshot two", "two.png")
    owner.post(f"/api/v1/cases/{case['id']}/legal-hold", json={"reason": "litigation pending"})
    html = browser.get("/").text
    [row] = _rows(html, "cases")
    assert "Acme Audio v. Mpow Direct" in row and "N.D. Cal." in row and "5:24-cv-01234" in row
    assert re.findall(r'<td class="num">(\d+)</td>', row) == ["2", "0", "0"]
    assert "Legal hold" in row and "Owner" in row
    assert "<time" in row  # last activity
    browser.close()


def test_a_case_created_on_the_page_is_the_apis_case(app, make_user):
    owner = make_user()
    browser = sign_in(app, owner.email)
    response = browser.post(
        "/cases/new", {"title": HOSTILE, "case_type": "ftc_consumer_reviews_rule", "timezone": "America/New_York"}
    )
    assert response.status_code == 303
    case_id = response.headers["location"].rsplit("/", 1)[1]
    case = owner.get(f"/api/v1/cases/{case_id}").json()
    assert case["title"] == HOSTILE and case["timezone"] == "America/New_York"
    page = browser.get(f"/cases/{case_id}").text
    assert "<script>alert(1)" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    browser.close()


def test_a_refused_case_form_says_what_to_correct_and_keeps_what_was_typed(app, make_user):
    owner = make_user()
    browser = sign_in(app, owner.email)
    response = browser.post(
        "/cases/new", {"title": "Acme v. Mpow", "case_type": "lanham_act", "timezone": "Mars/Olympus"}
    )
    assert response.status_code == 422
    assert "Unknown IANA timezone &#39;Mars/Olympus&#39;" in response.text
    assert 'value="Acme v. Mpow"' in response.text
    assert 'aria-invalid="true"' in response.text
    assert owner.get("/api/v1/cases").json()["items"] == []
    browser.close()


def test_the_exhibits_tab_sorts_filters_and_pages(app, make_user):
    owner = make_user()
    case = owner.make_case()
    titles = ["Zeta refund", "Alpha review", "Mu insert card"]
    kinds = ["refund_record", "review_screenshot", "product_insert_card"]
    for n, (title, kind) in enumerate(zip(titles, kinds, strict=True)):
        tags = '["refund"]' if kind == "refund_record" else "[]"
        r = owner.upload(
            case["id"], f"file {n}".encode(), f"f{n}.txt", title=title, kind=kind, tags=tags.strip("[]").strip('"')
        )
        assert r.status_code == 201, r.text
    browser = sign_in(app, owner.email)

    def titles_shown(query: str) -> list[str]:
        html = browser.get(f"/cases/{case['id']}/exhibits{query}").text
        return re.findall(r'<a href="/evidence/[^"]+"[^>]*>([^<]+)</a>', html)

    assert titles_shown("") == titles  # exhibit order
    assert titles_shown("?sort=title") == sorted(titles)
    assert titles_shown("?sort=title&direction=desc") == sorted(titles, reverse=True)
    assert titles_shown("?kind=review_screenshot") == ["Alpha review"]
    assert titles_shown("?tag=refund") == ["Zeta refund"]
    nothing = browser.get(f"/cases/{case['id']}/exhibits?tag=nope").text
    assert "No exhibits match" in nothing

    fragment = browser.htmx("GET", f"/cases/{case['id']}/exhibits?sort=label", headers={"HX-Target": "exhibit-results"})
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "exhibit-table" in fragment.text
    browser.close()


def test_exhibit_pages_follow_the_cursor(app, make_user, monkeypatch):
    from api.web import case_page

    monkeypatch.setattr(case_page, "EXHIBITS_PER_PAGE", 2)
    owner = make_user()
    case = owner.make_case()
    for n in range(5):
        owner.upload(case["id"], f"paged {n}".encode(), f"p{n}.txt", title=f"Item {n}")
    browser = sign_in(app, owner.email)
    seen, path = [], f"/cases/{case['id']}/exhibits"
    while path:
        html = browser.get(path).text
        seen += re.findall(r'<a href="/evidence/[^"]+"[^>]*>([^<]+)</a>', html)
        more = re.search(r'<a class="button" href="([^"]+cursor=[^"]+)">Next', html)
        path = more.group(1).replace("&amp;", "&") if more else None
    assert seen == [f"Item {n}" for n in range(5)]
    browser.close()


def test_a_non_member_gets_the_404_page_and_a_viewer_sees_no_upload(app, make_user):
    owner, viewer, stranger = make_user(), make_user(), make_user()
    case = owner.make_case()
    add_member(owner, case["id"], viewer, "viewer")
    outsider = sign_in(app, stranger.email)
    response = outsider.get(f"/cases/{case['id']}")
    assert response.status_code == 404
    assert "Page not found" in response.text or "Case not found" in response.text
    assert case["title"] not in response.text
    assert outsider.get("/cases/not-a-uuid").status_code == 404
    watcher = sign_in(app, viewer.email)
    page = watcher.get(f"/cases/{case['id']}")
    assert page.status_code == 200
    assert "You are viewer" in page.text
    outsider.close()
    watcher.close()


def test_an_unknown_page_is_a_page_and_an_unknown_api_path_is_json(app, alice):
    browser = sign_in(app, alice.email)
    page = browser.get("/no/such/page")
    assert page.status_code == 404 and page.headers["content-type"].startswith("text/html")
    assert "Go to my cases" in page.text
    api = browser.get("/api/v1/no/such/thing")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"
    browser.close()
