"""The browser tests' own machinery (tests/browser.py): the served app opens in Chromium, accounts made for it can
sign in, and each check a journey leans on fails when it should, so a journey that passes means what it says."""

import json
from urllib.parse import quote

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser import assert_no_horizontal_scroll, axe_check
from tests.browser_watch import settle, watch


def html(body: str, head: str = "") -> str:
    return "data:text/html," + quote(f'<!doctype html><html lang="en"><head><title>t</title>{head}</head>{body}</html>')


@pytest.fixture
def watched(browser):
    """A page of a context that the test inspects itself, outside the watch that fails a test."""
    context = browser.new_context()
    seen = watch(context)
    yield context.new_page(), seen
    context.close()


def test_the_served_health_check_opens_in_chromium(web_server, page):
    page.goto("/healthz")
    expect(page.locator("body")).to_contain_text('"ok"')
    assert json.loads(page.locator("body").inner_text()) == {"status": "ok"}


def test_an_account_made_for_the_server_can_sign_in_to_it(web_server, account):
    email, password = account(admin=True)
    answer = httpx.post(f"{web_server.base_url}/api/v1/auth/token", data={"username": email, "password": password})
    assert answer.status_code == 200, answer.text
    me = httpx.get(
        f"{web_server.base_url}/api/v1/auth/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert me.json()["email"] == email and me.json()["is_admin"] is True


def test_the_watch_reports_a_console_error(watched):
    page, seen = watched
    page.goto(html("<script>console.log('fine'); console.error('broken on purpose')</script>"))
    settle(page.context)
    assert len(seen.problems()) == 1
    assert seen.problems()[0].startswith("console error: broken on purpose")


def test_the_watch_reports_a_content_security_policy_violation(watched):
    page, seen = watched
    policy = """<meta http-equiv="Content-Security-Policy" content="script-src 'none'">"""
    page.goto(html("<p id=p>unchanged</p><script>p.textContent = 'ran'</script>", head=policy))
    settle(page.context)
    expect(page.locator("#p")).to_have_text("unchanged")
    assert any(text.startswith("script-src-elem blocked inline (enforce") for text in seen.csp_violations)
    assert seen.problems() and all(problem.startswith("CSP violation: ") for problem in seen.problems())


def test_the_watch_reports_an_uncaught_exception(watched):
    page, seen = watched
    page.goto(html("<script>null.property</script>"))
    settle(page.context)
    assert seen.page_errors and "TypeError" in seen.page_errors[0]


def test_dialogs_are_recorded_and_accepted(watched):
    page, seen = watched
    page.goto(html("<script>document.title = confirm('Delete it?') ? 'accepted' : 'dismissed'</script>"))
    expect(page).to_have_title("accepted")
    assert seen.dialogs == [("confirm", "Delete it?")]
    assert seen.problems() == []


def test_axe_check_fails_on_a_serious_violation_and_passes_a_clean_page(open_page):
    page = open_page()
    page.goto(html('<main><h1>Exhibit</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="A"></main>'))
    axe_check(page)
    page.goto(html('<main><h1>Exhibit</h1><img src="data:image/gif;base64,R0lGODlhAQABAAAAACw="></main>'))
    with pytest.raises(pytest.fail.Exception, match=r"image-alt \(critical\)"):
        axe_check(page)


def test_horizontal_scroll_is_caught_on_a_desktop_and_on_a_phone(open_page):
    viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    desktop = open_page()
    desktop.goto(html("<main><p>fits</p></main>", head=viewport))
    assert_no_horizontal_scroll(desktop)
    desktop.goto(html('<main><table id="wide" style="width:1600px"><tr><td>x</td></tr></table></main>', head=viewport))
    with pytest.raises(AssertionError, match="scrolls sideways.*table#wide"):
        assert_no_horizontal_scroll(desktop)

    phone = open_page("phone")
    phone.goto(html("<main><p>fits</p></main>", head=viewport))
    assert_no_horizontal_scroll(phone)
    phone.goto(html("<main><p>no viewport</p></main>"))
    with pytest.raises(AssertionError, match="lays out 980 px wide on a 390 px screen"):
        assert_no_horizontal_scroll(phone)
