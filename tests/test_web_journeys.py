"""Journeys through the web app in Chromium, against the real `casebinder serve`: what a paralegal does, and sees."""

import re

import httpx
from playwright.sync_api import expect

from tests.browser import EXPECT_SECONDS, assert_no_horizontal_scroll, axe_check, sign_in

HOSTILE_TITLE = 'Acme <script>alert("x")</script><img src=x onerror=alert(1)> v. 假评论 شركة'


def _api(base_url: str, email: str, password: str) -> httpx.Client:
    token = httpx.post(f"{base_url}/api/v1/auth/token", data={"username": email, "password": password})
    token.raise_for_status()
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    return httpx.Client(base_url=base_url, headers=headers, timeout=60)


def test_sign_in_create_a_case_and_open_it(web_server, account, page):
    email, password = account()
    sign_in(page, web_server.base_url, email, password)
    expect(page.get_by_text("No cases yet")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="Create your first case").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New case")
    axe_check(page)
    page.get_by_label("Title").fill(HOSTILE_TITLE)
    page.get_by_label("Case type").select_option("lanham_act")
    page.get_by_label("Court").fill("N.D. Cal.")
    page.get_by_label("Docket number").fill("5:24-cv-01234")
    page.get_by_role("button", name="Create case").click()

    expect(page.get_by_role("heading", level=1)).to_have_text(HOSTILE_TITLE, timeout=EXPECT_SECONDS * 1000)
    expect(page.get_by_role("link", name="Exhibits")).to_have_attribute("aria-current", "page")
    expect(page.get_by_text("No exhibits yet")).to_be_visible()
    axe_check(page)

    page.get_by_role("link", name="My cases").first.click()
    row = page.locator("table.cases tbody tr")
    expect(row).to_have_count(1)
    expect(row).to_contain_text(HOSTILE_TITLE)
    expect(row).to_contain_text("5:24-cv-01234")
    # The hostile title was text, never markup: no dialog opened, no image element was made of it.
    assert page.locator("table.cases img").count() == 0


def test_a_refused_form_says_what_to_fix(web_server, account, page):
    email, password = account()
    sign_in(page, web_server.base_url, email, password)
    page.goto("/cases/new")
    page.get_by_label("Title").fill("Acme v. Mpow")
    page.get_by_label("Time zone").fill("Mars/Olympus")
    page.get_by_role("button", name="Create case").click()
    expect(page.get_by_text("Unknown IANA timezone 'Mars/Olympus'")).to_be_visible()
    expect(page.get_by_label("Title")).to_have_value("Acme v. Mpow")
    axe_check(page)


def test_a_non_member_gets_the_not_found_page(web_server, account, page):
    owner_email, owner_password = account()
    with _api(web_server.base_url, owner_email, owner_password) as api:
        case = api.post("/api/v1/cases", json={"title": "Private matter", "case_type": "ftc_act"}).json()
    email, password = account()
    sign_in(page, web_server.base_url, email, password)
    response = page.goto(f"/cases/{case['id']}")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", level=1)).to_have_text("Page not found")
    expect(page.get_by_text("Private matter")).to_have_count(0)
    axe_check(page)


def test_sign_out_and_the_back_button_shows_nothing_private(web_server, account, page):
    email, password = account()
    with _api(web_server.base_url, email, password) as api:
        api.post("/api/v1/cases", json={"title": "Sealed settlement talks", "case_type": "lanham_act"})
    sign_in(page, web_server.base_url, email, password)
    expect(page.get_by_text("Sealed settlement talks")).to_be_visible()
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    page.go_back()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("Sealed settlement talks")).to_have_count(0)
    page.goto("/")
    assert re.search(r"/login", page.url)


def test_the_pages_fit_a_phone(web_server, account, open_page):
    email, password = account()
    with _api(web_server.base_url, email, password) as api:
        long_title = "Reviewer" + "x" * 180 + " 評論者 مراجع"
        case = api.post("/api/v1/cases", json={"title": long_title, "case_type": "lanham_act"}).json()
        api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("screenshot.png", b"\x89PNG not really")},
            data={"kind": "review_screenshot", "title": "Five-star review " + "y" * 150},
        )
    phone = open_page("phone")
    sign_in(phone, web_server.base_url, email, password)
    assert_no_horizontal_scroll(phone)
    phone.goto(f"/cases/{case['id']}")
    expect(phone.get_by_role("heading", level=1)).to_contain_text("Reviewer")
    assert_no_horizontal_scroll(phone)
    axe_check(phone)
    phone.goto("/cases/new")
    assert_no_horizontal_scroll(phone)


def _small_pdf(pages: int) -> bytes:
    import io

    import pikepdf

    pdf = pikepdf.new()
    for n in range(pages):
        pdf.add_blank_page(page_size=(300, 400))
        content = f"BT /F1 24 Tf 40 300 Td (Refund page {n + 1}) Tj ET".encode()
        page = pdf.pages[-1]
        page.Resources = pikepdf.Dictionary(
            Font=pikepdf.Dictionary(
                F1=pikepdf.Dictionary(
                    Type=pikepdf.Name.Font, Subtype=pikepdf.Name.Type1, BaseFont=pikepdf.Name.Helvetica
                )
            )
        )
        page.Contents = pdf.make_stream(content)
    out = io.BytesIO()
    pdf.save(out)
    return out.getvalue()


def test_open_an_evidence_page_and_see_the_preview(web_server, account, page):
    email, password = account()
    with _api(web_server.base_url, email, password) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        refund = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("refund.pdf", _small_pdf(2), "application/pdf")},
            data={"kind": "refund_record", "title": "PayPal refund to 评论者", "facts": '{"amount": "17.48"}'},
        ).json()
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}")
    page.get_by_role("link", name="PayPal refund to 评论者").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("PX-001")
    thumbs = page.get_by_role("img", name=re.compile(r"^Page \d$"))
    expect(thumbs).to_have_count(2)
    expect(thumbs.first).to_have_js_property("complete", True, timeout=EXPECT_SECONDS * 1000)
    assert thumbs.first.evaluate("img => img.naturalWidth") == 320
    expect(page.get_by_text(refund["sha256"])).to_be_visible()
    expect(page.get_by_text("17.48")).to_be_visible()
    axe_check(page)


def test_drop_five_files_and_see_each_ones_result(web_server, account, page, tmp_path):
    from tests.browser_watch import watch_of

    email, password = account()
    with _api(web_server.base_url, email, password) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        first = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("earlier.png", b"\x89PNG the same screenshot")},
            data={"kind": "review_screenshot", "title": "Uploaded earlier"},
        ).json()
    files = {
        "review 1.png": b"\x89PNG first review",
        "insert card 假.png": b"\x89PNG insert card",
        "refund.txt": b"PayPal refund of $17.48",
        "same again.png": b"\x89PNG the same screenshot",
        "empty.txt": b"",
    }
    paths = []
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        paths.append(tmp_path / name)
    watch_of(page).refusals_expected.add(f"/cases/{case['id']}/upload")

    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}")
    page.get_by_label("Kind for this batch").select_option("review_screenshot")
    page.locator("#upload-file").set_input_files(paths)
    summary = page.locator("#upload-summary")
    expect(summary).to_have_text("5 files: 3 added, 1 already in the case, 1 failed.", timeout=EXPECT_SECONDS * 1000)
    rows = page.locator("#upload-list li")
    expect(rows.filter(has_text="same again.png")).to_contain_text(
        f"Already in this case as {first['exhibit']['label']}"
    )
    expect(rows.filter(has_text="empty.txt")).to_contain_text("empty")
    for name in ("review 1.png", "insert card 假.png", "refund.txt"):
        expect(rows.filter(has_text=name)).to_contain_text(re.compile(r"Added as PX-00[234]"))
    expect(page.locator("#status")).to_contain_text("3 added")
    # The table below shows them, titled by their file names.
    table = page.locator("#exhibit-table")
    expect(table).to_contain_text("insert card 假")
    expect(table.locator("tbody tr")).to_have_count(4)
    axe_check(page)


def _case_with_exhibits(base_url: str, email: str, password: str, titles: list[str]) -> dict:
    with _api(base_url, email, password) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        for title in titles:
            api.post(
                f"/api/v1/cases/{case['id']}/evidence",
                files={"file": (f"{title}.txt", f"the file {title}".encode())},
                data={"kind": "chat_log", "title": title},
            ).raise_for_status()
    return case


def test_reorder_exhibits_by_keyboard(web_server, account, page):
    email, password = account()
    case = _case_with_exhibits(web_server.base_url, email, password, ["First chat", "Second chat", "Third chat"])
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}")
    # Keyboard only: focus the button, press Enter; focus stays with the moved exhibit's control.
    page.get_by_role("button", name="Move PX-003 up").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("PX-003 moved to position 2", timeout=EXPECT_SECONDS * 1000)
    expect(page.get_by_role("button", name="Move PX-003 up")).to_be_focused(timeout=EXPECT_SECONDS * 1000)
    # htmx has taken over the redrawn table's forms (a person is slower than this; a test is not).
    page.wait_for_function(
        "() => document.activeElement.form && document.activeElement.form['htmx-internal-data'] "
        "&& !document.querySelector('.htmx-request, .htmx-settling, .htmx-swapping')"
    )
    page.keyboard.press("Enter")
    expect(page.locator("#status")).to_contain_text("PX-003 moved to position 1", timeout=EXPECT_SECONDS * 1000)
    labels = page.locator("#exhibit-table tbody th[scope=row]")
    expect(labels).to_have_text(["PX-003", "PX-001", "PX-002"])
    # The order is the case's: the API agrees, and a reload shows it.
    with _api(web_server.base_url, email, password) as api:
        items = api.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"]
    assert [item["label"] for item in items] == ["PX-003", "PX-001", "PX-002"]
    page.reload()
    expect(labels).to_have_text(["PX-003", "PX-001", "PX-002"])
    axe_check(page)


def test_a_viewer_sees_no_edit_controls_and_forcing_them_is_refused(web_server, account, page):
    owner_email, owner_password = account()
    case = _case_with_exhibits(web_server.base_url, owner_email, owner_password, ["Only chat"])
    email, password = account()
    with _api(web_server.base_url, owner_email, owner_password) as api:
        api.post(f"/api/v1/cases/{case['id']}/members", json={"email": email, "role": "viewer"}).raise_for_status()
        exhibit = api.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"][0]
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}")
    expect(page.get_by_text("Only chat")).to_be_visible()
    for control in ("Add evidence", "Move PX-001 up", "Remove PX-001"):
        expect(page.get_by_text(control)).to_have_count(0)
    expect(page.get_by_role("button", name=re.compile("Move|Remove|Upload"))).to_have_count(0)
    page.goto(f"/cases/{case['id']}/bundles")
    expect(page.get_by_role("link", name="Build a bundle")).to_have_count(0)
    # Forcing them, with the page's own CSRF token: 403 for the viewer's case, 404 for a case not theirs.
    token = page.evaluate("() => JSON.parse(document.body.getAttribute('hx-headers'))['X-CSRF-Token']")
    forced = page.request.post(
        f"/cases/{case['id']}/exhibits/{exhibit['id']}/move", form={"step": "down", "csrf_token": token}
    )
    assert forced.status == 403
    built = page.request.post(f"/cases/{case['id']}/bundles", form={"title": "Mine", "csrf_token": token})
    assert built.status == 403
    page.goto(f"/cases/{case['id']}/bundles/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("You do not have access to this")
    axe_check(page)


def test_a_form_posted_from_another_site_is_refused(web_server, account, page):
    email, password = account()
    sign_in(page, web_server.base_url, email, password)
    # Another site's page (another origin: a data: URL) that posts a form to casebinder with the victim's cookie.
    forged = (
        f'<form method="post" action="{web_server.base_url}/cases/new">'
        '<input name="title" value="Planted case"><input name="case_type" value="lanham_act"></form>'
        "<script>document.forms[0].submit()</script>"
    )
    from urllib.parse import quote

    from tests.browser_watch import watch_of

    watch_of(page).refusals_expected.add("/cases/new")
    with page.expect_response(lambda r: r.url.endswith("/cases/new") and r.request.method == "POST") as posted:
        page.goto("data:text/html," + quote(forged))
    # The session cookie is SameSite=Lax, so the browser does not even send it with another site's POST: the form
    # reaches casebinder signed out and is sent to sign in. Had it been sent, the missing CSRF token is a 403.
    assert posted.value.status in (303, 403)
    expect(page.get_by_role("heading", level=1)).to_have_text(re.compile("Sign in|You do not have access to this"))
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My cases")
    expect(page.get_by_text("Planted case")).to_have_count(0)


def test_members_activity_and_administration_pages_pass_axe(web_server, account, page, open_page):
    email, password = account(admin=True)
    case = _case_with_exhibits(web_server.base_url, email, password, ["A chat"])
    sign_in(page, web_server.base_url, email, password)
    for path, heading in (
        (f"/cases/{case['id']}/members", "Acme v. Mpow"),
        (f"/cases/{case['id']}/activity", "Acme v. Mpow"),
        (f"/cases/{case['id']}/bundles", "Acme v. Mpow"),
        ("/admin", None),
        ("/admin/verify-runs", None),
    ):
        response = page.goto(path)
        assert response is not None and response.status == 200, path
        if heading:
            expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        axe_check(page)
    phone = open_page("phone")
    sign_in(phone, web_server.base_url, email, password)
    for path in (f"/cases/{case['id']}/members", f"/cases/{case['id']}/activity", "/admin"):
        phone.goto(path)
        assert_no_horizontal_scroll(phone)


def test_add_a_month_precision_disputed_event_and_find_it_under_its_month(web_server, account, page):
    email, password = account()
    case = _case_with_exhibits(web_server.base_url, email, password, ["Refund chat"])
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}/timeline")
    expect(page.get_by_role("heading", level=1)).to_have_text("Acme v. Mpow")
    form = page.locator("#add-event")
    if form.get_attribute("open") is None:  # open already while the case has no events
        form.locator("summary").click()
    form.get_by_label("When").fill("2021-03")
    form.get_by_label("Title").fill("Seller offers a refund for a 5-star review — البائع")
    form.get_by_label("Disputed").check()
    form.get_by_role("button", name="Add event").click()
    expect(page.locator("#add-event")).to_contain_text("Added", timeout=EXPECT_SECONDS * 1000)
    # Its month in the chart says so, and leads to the month's events, where it is listed as disputed.
    page.reload()
    march = page.get_by_role("link", name=re.compile(r"^March 2021: 1 event, 1 disputed"))
    expect(march).to_have_count(1)
    march.click()
    row = page.locator("tr", has_text="Seller offers a refund")
    expect(row).to_be_visible(timeout=EXPECT_SECONDS * 1000)
    expect(row).to_contain_text("March 2021")
    expect(row).to_contain_text("Disputed")
    axe_check(page)


def test_search_from_the_header_and_follow_a_result_to_the_words_on_its_page(web_server, account, page):
    from tests.text_support import wait_text

    email, password = account()
    with _api(web_server.base_url, email, password) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. Mpow", "case_type": "lanham_act"}).json()
        chat = api.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("chat.txt", "Seller: a refund of $20 for a five star review — 五星好评\n".encode())},
            data={"kind": "chat_log", "title": "Chat with the seller"},
        ).json()
        assert wait_text(api, chat["id"])["text_status"] == "done"
    sign_in(page, web_server.base_url, email, password)
    page.keyboard.press("/")
    box = page.get_by_role("searchbox", name="Search evidence and events")
    expect(box).to_be_focused()
    page.keyboard.type('"five star" 好评')
    page.keyboard.press("Enter")
    result = page.locator(".search-results .hit")
    expect(result).to_have_count(1)
    expect(result.locator("mark")).to_have_text(["five star", "好评"])
    expect(box).to_have_value('"five star" 好评')
    axe_check(page)
    result.get_by_role("link", name="PX-001 Chat with the seller").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Chat with the seller")
    expect(page.locator("#text mark")).to_have_text(["five star", "好评"])
