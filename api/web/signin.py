"""Signing in and out of the web app.

Sign-in checks the password with the same service as the API's token route, so the failed-login limits and the
account lock apply alike. The sign-in form is protected before any session exists by a token kept in a cookie and
echoed by the form, and by refusing forms posted from another site. Each sign-in starts a new session (the one the
browser held before, if any, ends), and sign-out ends it on the server.
"""

import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.errors import TooManyRequests, Unauthorized
from api.services import users as user_service
from api.services import web_sessions
from api.web.render import page
from api.web.security import cross_site
from api.web.session import COOKIE, CsrfRefused, PageRoute, ViewerDep

router = APIRouter(route_class=PageRoute, include_in_schema=False)

LOGIN_COOKIE = "casebinder_login"


def _safe_next(target: str | None) -> str:
    """Only a path of this site: never another host, never a scheme-relative `//host`."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else "/"


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _login_form(request: Request, *, next: str, email: str = "", problem: str | None = None, status: int = 200):
    token = secrets.token_urlsafe(24)
    response = page(
        request, "web/login.html", None, status=status, login_token=token, next=next, email=email, problem=problem
    )
    response.set_cookie(
        LOGIN_COOKIE, token, httponly=True, samesite="strict", secure=_secure(request), path="/login", max_age=3600
    )
    return response


@router.get("/login")
def login_page(request: Request, next: str = "/") -> Response:
    return _login_form(request, next=_safe_next(next))


@router.post("/login")
def login(
    request: Request,
    session: SessionDep,
    email: Annotated[str, Form(max_length=500)] = "",
    password: Annotated[str, Form(max_length=1000)] = "",
    login_token: Annotated[str, Form(max_length=100)] = "",
    next: Annotated[str, Form(max_length=2000)] = "/",
) -> Response:
    target = _safe_next(next)
    expected = request.cookies.get(LOGIN_COOKIE)
    if (
        cross_site(request.headers, request.url.scheme)
        or not expected
        or not secrets.compare_digest(expected, login_token)
    ):
        raise CsrfRefused("this sign-in form has expired or did not come from casebinder: reload the page")
    try:
        user = user_service.authenticate(session, email, password)
    except TooManyRequests as exc:
        session.commit()  # the failed attempt is on record whatever the answer
        return _login_form(request, next=target, email=email, problem=str(exc.message), status=429)
    except Unauthorized:
        session.commit()
        return _login_form(request, next=target, email=email, problem="Incorrect email or password.", status=401)
    web_sessions.end_by_id(session, request.cookies.get(COOKIE))
    session_id = web_sessions.start(session, user, user_agent=request.headers.get("user-agent"))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, session_id, httponly=True, samesite="lax", secure=_secure(request), path="/")
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


@router.post("/logout")
def logout(session: SessionDep, viewer: ViewerDep) -> Response:
    web_sessions.end(session, viewer.active)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response
