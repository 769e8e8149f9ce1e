"""What every page of the web app is served with, and what every form sent to it must show.

Headers: a strict Content-Security-Policy (scripts and styles from /static only: no inline script, style or
handler, nothing evaluated), no sniffing, no framing, no referrer to other sites, and no caching of pages (after
sign-out, the back button must show nothing private). The API, its docs and the health checks keep their own.

Forms: a state-changing request must come from our own pages. The browser says where a request comes from
(`Sec-Fetch-Site`, `Origin`): another site's is refused; and it must carry the session's CSRF token (the form's
`csrf_token` field, or the `X-CSRF-Token` header htmx and our scripts send).
"""

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
)
PAGE_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Paths that are not the web app's pages: the JSON API, its interactive docs (which load their own scripts) and
# the health checks.
NOT_PAGES = ("/api/", "/docs", "/redoc", "/openapi.json", "/healthz", "/readyz")


def is_page(path: str) -> bool:
    return not path.startswith(NOT_PAGES)


class PageHeaders:
    """Adds PAGE_HEADERS (and no-store, except for /static) to every response of the web app."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_page(scope["path"]):
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in PAGE_HEADERS.items():
                    headers.setdefault(name, value)
                if static:
                    headers.setdefault("Cache-Control", "public, max-age=3600")
                else:
                    headers["Cache-Control"] = "no-store"
            await send(message)

        await self.app(scope, receive, with_headers)


def own_origin(scheme: str, host: str | None) -> str:
    return f"{scheme}://{host}" if host else ""


def cross_site(headers, scheme: str) -> bool:
    """True when the browser says this request comes from another site's page."""
    if headers.get("sec-fetch-site") == "cross-site":
        return True
    origin = headers.get("origin")
    return origin is not None and origin != own_origin(scheme, headers.get("host"))
