"""Pages and their fragments from templates/web: one template serves a whole page and, for htmx, a block of it."""

from datetime import datetime
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse

from api.templating import environment
from api.web.session import Viewer

ERROR_TITLES = {
    400: "That request could not be used",
    403: "You do not have access to this",
    404: "Page not found",
    409: "That could not be done now",
    410: "This evidence was deleted",
    413: "That file is too large",
    422: "Some details need correcting",
    429: "Too many attempts",
}


def is_htmx(request: Request) -> bool:
    return request.headers.get("hx-request") == "true"


def wants_json(request: Request) -> bool:
    """A page's own script asking (Accept: application/json) for an answer it reads, not a page to show."""
    return not is_htmx(request) and "application/json" in request.headers.get("accept", "")


def render(name: str, *, block: str | None = None, **context) -> str:
    """The template, or one block of it. A block rendered alone does not run the template's top-level imports, so
    the shared macros (templates/web/macros.html) are handed to it directly."""
    template = environment().get_template(name)
    if block is None:
        return template.render(**context)
    macros = environment().get_template("web/macros.html").module
    shared = {name: getattr(macros, name) for name in dir(macros) if not name.startswith("_")}
    return "".join(template.blocks[block](template.new_context(shared | context)))


def local_time(value: datetime | None, timezone: str) -> str:
    """An instant as the case reads it: its own time zone, with the zone's abbreviation."""
    if value is None:
        return "—"
    return value.astimezone(ZoneInfo(timezone)).strftime("%Y-%m-%d %H:%M %Z")


def page(
    request: Request,
    name: str,
    viewer: Viewer | None,
    *,
    status: int = 200,
    block: str | None = None,
    headers: dict | None = None,
    **context,
) -> HTMLResponse:
    """The template `name` (or just its `block`) with what every page needs: who is signed in, their CSRF token."""
    html = render(
        name,
        block=block,
        request=request,
        viewer=viewer,
        csrf=viewer.csrf_token if viewer else "",
        local_time=local_time,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers=headers)


def sentence(text: str) -> str:
    """A service's message ("case not found") as a sentence on a page ("Case not found.")."""
    text = text.strip()
    if not text:
        return text
    return text[0].upper() + text[1:] + ("" if text.endswith((".", "!", "?")) else ".")


def error_page(
    request: Request, status: int, message: str | list | dict, *, back: tuple[str, str] | None = None
) -> HTMLResponse:
    """A refusal in words: the whole error page, or for htmx a notice in the page's alert area. `back`: the
    (address, words) of the page to go back to, when there is a better one than my cases."""
    text = sentence(message if isinstance(message, str) else "some details need correcting")
    title = ERROR_TITLES.get(status, "Something went wrong")
    if is_htmx(request):
        html = render("web/error.html", block="notice", title=title, message=text)
        return HTMLResponse(html, status_code=status, headers={"HX-Retarget": "#alerts", "HX-Reswap": "innerHTML"})
    return page(request, "web/error.html", None, status=status, title=title, message=text, back=back)
