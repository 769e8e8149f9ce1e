"""What the pages of a browser context did wrong while a test drove them: console errors, Content Security Policy
violations, uncaught exceptions. A browser test fails on any of them, so a broken script, or a policy that blocks
the app's own assets, cannot hide behind a page that still looks right. Dialogs are recorded and accepted, so none
blocks a test. Watching the context, not one page, covers the windows a page opens too."""

from dataclasses import dataclass, field
from urllib.parse import urlsplit
from weakref import WeakKeyDictionary

from playwright.sync_api import BrowserContext, ConsoleMessage, Dialog, Error, Page, Response, WebError

# A securitypolicyviolation event reaches Python through a binding: it survives navigations, and neither the
# binding nor the script that listens is subject to the page's own policy.
REPORTER = "__casebinderPolicyViolation"
LISTEN_FOR_VIOLATIONS = f"""
document.addEventListener("securitypolicyviolation", (e) => window.{REPORTER}({{
  directive: e.effectiveDirective || e.violatedDirective,
  blocked: e.blockedURI,
  disposition: e.disposition,
  where: e.sourceFile ? `${{e.sourceFile}}:${{e.lineNumber}}` : document.location.href,
}}));
"""


@dataclass
class PageWatch:
    """Everything the pages of one context reported; `problems()` is what fails a test."""

    console_errors: list[tuple[str, str]] = field(default_factory=list)  # (text, the URL it names)
    # Pages the server answered with an error page on purpose (a 404 page, a refused form's 422): Chromium logs
    # "Failed to load resource" for each, which is the answer the test asserts, not a fault of the page.
    error_documents: set[str] = field(default_factory=set)
    # Paths a test expects a request to be refused at (an upload of an empty file): refused on purpose, and asserted.
    refusals_expected: set[str] = field(default_factory=set)
    csp_violations: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    dialogs: list[tuple[str, str]] = field(default_factory=list)  # (type, message), in the order they opened

    def _expected(self, url: str) -> bool:
        return url in self.error_documents or urlsplit(url).path in self.refusals_expected

    def problems(self) -> list[str]:
        return (
            [
                f"console error: {text}" + (f" ({where[:200]})" if where else "")
                for text, where in self.console_errors
                if not (text.startswith("Failed to load resource") and self._expected(where))
            ]
            + [f"CSP violation: {text}" for text in self.csp_violations]
            + [f"uncaught exception: {text}" for text in self.page_errors]
        )


_watches: WeakKeyDictionary[BrowserContext, PageWatch] = WeakKeyDictionary()


def watch(context: BrowserContext) -> PageWatch:
    """Start recording what the context's pages report; call before they navigate."""
    seen = PageWatch()

    def on_console(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            seen.csp_violations.append(message.text)  # Chromium's own account of a violation, at any level
        elif message.type == "error":
            where = message.location.get("url") or ""
            # Chromium asks for /favicon.ico on its own, after the page has loaded, and logs a 404 for it as an error:
            # reported or not depending on timing, and not the page's doing.
            if urlsplit(where).path != "/favicon.ico":
                seen.console_errors.append((message.text, where))

    def on_response(response: Response) -> None:
        if response.request.resource_type == "document" and response.status >= 400:
            seen.error_documents.add(response.url)

    def on_violation(_source: dict, report: dict) -> None:
        what = f"{report['directive']} blocked {report['blocked'] or 'something'}"
        seen.csp_violations.append(f"{what} ({report['disposition']}, {report['where']})")

    def on_web_error(error: WebError) -> None:
        seen.page_errors.append(error.error.stack or f"{error.error.name}: {error.error.message}")

    def on_dialog(dialog: Dialog) -> None:
        seen.dialogs.append((dialog.type, dialog.message))
        dialog.accept()

    context.on("console", on_console)
    context.on("response", on_response)
    context.on("weberror", on_web_error)
    context.on("dialog", on_dialog)
    context.expose_binding(REPORTER, on_violation)
    context.add_init_script(LISTEN_FOR_VIOLATIONS)
    _watches[context] = seen
    return seen


def watch_of(where: Page | BrowserContext) -> PageWatch:
    """The watch over a page's context: its dialogs, say, for a test that expects a confirm()."""
    return _watches[where.context if isinstance(where, Page) else where]


def settle(context: BrowserContext) -> None:
    """One round trip to each open page, so that what they reported before has reached the watch."""
    for page in context.pages:
        try:
            page.evaluate("0")
        except Error:
            pass  # navigating, or closing: nothing more comes from that document
