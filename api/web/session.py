"""Who is signed in, for the web app's pages: the session cookie, the CSRF check, and the route class that turns a
missing sign-in into a redirect to the sign-in page and a refusal into a page a person can read."""

import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse
from fastapi.routing import APIRoute

from api.deps import SessionDep
from api.errors import DomainError, Forbidden, NotFound
from api.services import access as access_service
from api.services import cases as case_service
from api.services import web_sessions
from api.web.security import cross_site
from models.case import Case, Role
from models.user import User

COOKIE = "casebinder_session"
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}


class SignInNeeded(Exception):
    """No live session: the page asks the person to sign in (and comes back here afterwards)."""


class CsrfRefused(Forbidden):
    code = "csrf_refused"


@dataclass
class Viewer:
    """The signed-in person and what their forms must carry."""

    user: User
    active: web_sessions.Active

    @property
    def csrf_token(self) -> str:
        return web_sessions.csrf_token(self.active)


async def _form_token(request: Request) -> str | None:
    if token := request.headers.get("x-csrf-token"):
        return token
    if request.headers.get("content-type", "").startswith(("application/x-www-form-urlencoded", "multipart/")):
        value = (await request.form()).get("csrf_token")
        return value if isinstance(value, str) else None
    return None


async def _streamed_token(request: Request) -> str | None:
    """For a route that streams its body (an upload): the header, or the form's action URL (`?csrf_token=`), never
    the body. Reading the body's form for a token would make Starlette spool the whole file first, with none of
    the upload's limits, and leave nothing for the route to stream."""
    return request.headers.get("x-csrf-token") or request.query_params.get("csrf_token")


async def _check(request: Request, session: SessionDep, token: Callable[[Request], Awaitable[str | None]]) -> Viewer:
    active = web_sessions.find(session, request.cookies.get(COOKIE))
    if active is None:
        session.commit()  # a timed-out session is marked ended even though this request goes no further
        raise SignInNeeded
    if request.method in UNSAFE:
        if cross_site(request.headers, request.url.scheme):
            raise CsrfRefused("this form came from another site and was refused")
        if not web_sessions.csrf_ok(active, await token(request)):
            raise CsrfRefused("this form has expired or did not come from casebinder: reload the page and try again")
    return Viewer(active.user, active)


async def signed_in(request: Request, session: SessionDep) -> Viewer:
    return await _check(request, session, _form_token)


async def signed_in_streaming(request: Request, session: SessionDep) -> Viewer:
    """`signed_in` for a route that reads its own body as it arrives: the CSRF token is not looked for in it."""
    return await _check(request, session, _streamed_token)


ViewerDep = Annotated[Viewer, Depends(signed_in)]


@dataclass
class CasePage:
    case: Case
    role: Role
    viewer: Viewer

    @property
    def can_edit(self) -> bool:
        return self.role.rank >= Role.editor.rank

    @property
    def is_owner(self) -> bool:
        return self.role is Role.owner


def case_page(role: Role = Role.viewer, *, streaming: bool = False):
    """The case in the path if the signed-in person holds `role` in it: the same rule as the API's case_for, so a
    non-member sees the 404 page and a lesser role the 403 page. `streaming`: the route reads its own body as it
    arrives (see `signed_in_streaming`)."""
    who = signed_in_streaming if streaming else signed_in

    def dependency(case_id: str, viewer: Annotated[Viewer, Depends(who)], session: SessionDep) -> CasePage:
        try:
            wanted = uuid.UUID(case_id)
        except ValueError:
            raise NotFound("case not found") from None
        case, held = access_service.require_role(*case_service.get_with_role(session, wanted, viewer.user), role)
        return CasePage(case, held, viewer)

    return dependency


CaseViewerPage = Annotated[CasePage, Depends(case_page(Role.viewer))]
CaseEditorPage = Annotated[CasePage, Depends(case_page(Role.editor))]
CaseOwnerPage = Annotated[CasePage, Depends(case_page(Role.owner))]


def sign_in_redirect(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login" if target == "/" else f"/login?next={quote(target, safe='/')}"
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


class PageRoute(APIRoute):
    """A web page's route: no sign-in sends the person to sign in; a refusal (404, 403, a 4xx of a service) becomes
    an error page, or for htmx a fragment naming the problem, never JSON. A route class for a page's script may
    answer both its own way (`signed_out`, `refused`)."""

    def signed_out(self, request: Request) -> Response:
        return sign_in_redirect(request)

    def refused(self, request: Request, error: DomainError) -> Response:
        from api.web.render import error_page

        return error_page(request, error.status_code, error.message)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            from api.web.render import error_page

            try:
                return await handler(request)
            except SignInNeeded:
                return self.signed_out(request)
            except DomainError as exc:
                return self.refused(request, exc)
            except RequestValidationError:
                return error_page(request, 404, "page not found")

        return route
