"""Browser tests: the real server, started as `casebinder serve`, driven by the system's Chromium through
Playwright. Loaded by tests/conftest.py as a plugin. A journey reads:

    def test_a_member_signs_in_and_sees_her_cases(web_server, account, page):
        email, password = account()
        sign_in(page, web_server.base_url, email, password)
        axe_check(page)

A test that uses `browser`, `page` or `open_page` is marked `browser`, and `slow` too. It fails on any console
error, Content Security Policy violation or uncaught exception in its pages (tests/browser_watch.py), and when it
fails each of its pages is kept as a full-page screenshot in var/test-screenshots/."""

import os
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, ViewportSize, expect, sync_playwright

from tests.browser_watch import settle, watch, watch_of
from tests.server_process import ROOT, Account, Instance, add_account, fresh_database

CHROMIUM = Path("/usr/bin/chromium")  # Debian's (scripts/system-deps.sh); no test downloads a browser
# Headless, as root in a container, and quiet: without the networking flags Chromium calls home at every start.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# A laptop, and a phone held upright: a phone is a mobile, touch browser, so a missing meta viewport shows.
VIEWPORTS: dict[str, dict] = {
    "desktop": {"viewport": {"width": 1280, "height": 800}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
SCREENSHOTS = ROOT / "var" / "test-screenshots"
BROWSER_FIXTURES = {"browser", "page", "open_page"}
SERVER_FIXTURES = {"web_server", "account"}
SERIOUS = ("serious", "critical")
# What a busy shared machine may need for a page to show what a test expects: a wait, not a performance limit.
EXPECT_SECONDS = 20
_contexts = pytest.StashKey[list[BrowserContext]]()


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark browser tests before `-m "not slow"` chooses: they start a browser, and tests on `web_server` a server."""
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if item.get_closest_marker("browser") or BROWSER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.browser)
        if item.get_closest_marker("browser") or SERVER_FIXTURES & fixtures:
            item.add_marker(pytest.mark.slow)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item):
    """Fail a test whose pages reported a problem, even when every assertion of its own passed."""
    try:
        result = yield
    except BaseException as exc:
        if problems := _problems(item):
            exc.add_note("the pages also reported:\n" + "\n".join(problems))
        raise
    if problems := _problems(item):
        pytest.fail("the pages reported:\n" + "\n".join(problems), pytrace=False)
    return result


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    """On a failure, keep a screenshot of each open page and show the end of the server's log."""
    report = yield
    if report.failed and report.when in ("setup", "call"):
        saved = _screenshots(item)
        if saved:
            report.sections.append(("browser", "screenshots: " + ", ".join(str(p) for p in saved)))
        server = item.funcargs.get("web_server") if hasattr(item, "funcargs") else None
        if isinstance(server, Instance) and (tail := server.log_tail()):
            report.sections.append(("server log (end)", tail))
    return report


def _problems(item: pytest.Item) -> list[str]:
    problems = []
    for context in item.stash.get(_contexts, []):
        settle(context)
        problems += watch_of(context).problems()
    return problems


def _screenshots(item: pytest.Item) -> list[Path]:
    pages = [page for context in item.stash.get(_contexts, []) for page in context.pages if not page.is_closed()]
    name = re.sub(r"[^\w.-]+", "_", item.name).strip("_")
    saved = []
    for n, page in enumerate(pages, start=1):
        path = SCREENSHOTS / (f"{name}.png" if n == 1 else f"{name}-{n}.png")
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            page.screenshot(path=path, full_page=True)
        except Exception as exc:  # a crashed page must not hide the test's own failure
            path.with_suffix(".txt").write_text(f"no screenshot: {exc}\n")
            continue
        saved.append(path)
    return saved


@pytest.fixture(scope="module")
def web_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    """`casebinder serve` on a free port, on a new database of the leg under test; one per module."""
    root = tmp_path_factory.mktemp("web")
    url, drop = fresh_database(root)
    server = Instance(url, root / "blobs", settings={"CASEBINDER_PASSWORD_HASH_PROFILE": "cheapest"})
    server.start(cli=True)
    try:
        yield server
    finally:
        server.stop()
        drop()


@pytest.fixture
def account(web_server: Instance) -> Callable[..., Account]:
    """Factory: `account(admin=False, full_name=None)` -> (email, password) of a new account on the server."""

    def make(*, admin: bool = False, full_name: str | None = None) -> Account:
        return add_account(web_server.database_url, admin=admin, full_name=full_name)

    return make


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Headless Chromium, one for the session; each test gets its own context from `open_page`."""
    if not CHROMIUM.exists():
        reason = f"{CHROMIUM} is missing: `make system-deps` installs Debian's chromium"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    expect.set_options(timeout=EXPECT_SECONDS * 1000)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def open_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """Factory: `open_page(viewport="desktop" | "phone" | {"width": w, "height": h}, base_url=...)` -> a page in a
    context of its own (no cookies shared), watched for problems. base_url defaults to the test's `web_server`,
    when it has one, so `page.goto("/login")` works."""
    contexts = request.node.stash.setdefault(_contexts, [])
    default_base = request.getfixturevalue("web_server").base_url if "web_server" in request.fixturenames else None

    def open_(viewport: str | ViewportSize = "desktop", *, base_url: str | None = default_base) -> Page:
        shape = VIEWPORTS[viewport] if isinstance(viewport, str) else {"viewport": viewport}
        context = browser.new_context(
            base_url=base_url, locale="en-US", timezone_id="UTC", reduced_motion="reduce", **shape
        )
        watch(context)
        contexts.append(context)
        return context.new_page()

    yield open_
    for context in contexts:
        context.close()


@pytest.fixture
def page(open_page: Callable[..., Page]) -> Page:
    """A desktop-sized page (1280x800); `open_page("phone")` for a phone's."""
    return open_page()


def sign_in(page: Page, base_url: str, email: str, password: str) -> None:
    """Sign in through the form at /login, as a person would, and land on "My cases"."""
    base_url = base_url.rstrip("/")
    page.goto(f"{base_url}/login")
    email_field = page.get_by_label("Email", exact=True)
    password_field = page.get_by_label("Password", exact=True)
    expect(email_field).to_have_attribute("name", "email")
    expect(password_field).to_have_attribute("name", "password")
    email_field.fill(email)
    password_field.fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base_url}/")
    expect(page.get_by_role("heading", level=1)).to_have_text("My cases")


def axe_check(page: Page, *, context: str | None = None) -> None:
    """Run axe-core over the page (or the part `context` selects); fail listing every serious or critical violation."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page, context=context).response["violations"]
    serious = [v for v in violations if v.get("impact") in SERIOUS]
    if serious:
        lines = []
        for v in serious:
            targets = "; ".join(", ".join(node["target"]) for node in v["nodes"][:5])
            lines.append(f"{v['id']} ({v['impact']}): {v['help']} [{len(v['nodes'])} element(s): {targets}]")
        pytest.fail(f"axe-core found serious problems on {page.url}:\n" + "\n".join(lines), pytrace=False)


def assert_no_horizontal_scroll(page: Page) -> None:
    """The page fits the width of its viewport: nothing to scroll sideways to, no layout wider than the screen."""
    widths = page.evaluate(
        """() => {
          const root = document.scrollingElement;
          const wide = [...document.querySelectorAll("body *")]
            .filter((el) => el.getBoundingClientRect().right > root.clientWidth + 0.5)
            .slice(0, 5)
            .map((el) => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
                         (el.classList.length ? "." + [...el.classList].join(".") : ""));
          return {scroll: root.scrollWidth, client: root.clientWidth, wide};
        }"""
    )
    screen = page.viewport_size["width"] if page.viewport_size else widths["client"]
    assert widths["client"] <= screen, (
        f"{page.url} lays out {widths['client']} px wide on a {screen} px screen: has it no "
        '<meta name="viewport" content="width=device-width, initial-scale=1">?'
    )
    assert widths["scroll"] <= widths["client"], (
        f"{page.url} scrolls sideways: {widths['scroll']} px of content in a {widths['client']} px view; "
        f"wider than the view: {', '.join(widths['wide']) or '(nothing in the body)'}"
    )
