"""Administration, for administrators only: the accounts (create one, stop or allow its sign-in, clear its failed
sign-ins), through the same services as /api/v1/users and /api/v1/admin/users.

What the page offers maps onto what the service layer knows of an account:
- "Disable sign-in" / "Enable sign-in": `is_active` (users.set_active, as POST /api/v1/admin/users/{id}/disable
  and /enable); disabling ends the person's browser sessions and revokes their API tokens at once.
- "Clear failed sign-ins": ratelimit.unlock (as POST /api/v1/admin/users/{id}/unlock), for an account locked by
  too many failed sign-ins; the lock is shown from ratelimit.login_throttle.
"""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.errors import DomainError, Forbidden, NotFound
from api.services import ratelimit
from api.services import users as user_service
from api.web.forms import parse
from api.web.render import is_htmx, page, sentence
from api.web.session import PageRoute, Viewer, ViewerDep
from models.user import User, UserCreate

router = APIRouter(route_class=PageRoute, include_in_schema=False)

USERS_PER_PAGE = 50
USER_FIELDS = ("email", "full_name", "password")
DONE = {
    "created": "Account created. Tell the person their email and password: they can sign in now.",
    "disabled": "Sign-in disabled: the person was signed out everywhere.",
    "enabled": "Sign-in enabled.",
    "unlocked": "Failed sign-ins cleared: the person can sign in again now.",
}


def administrator(viewer: ViewerDep) -> Viewer:
    """The signed-in person, if an administrator: the API's rule (require_admin), as a page's refusal."""
    if not viewer.user.is_admin:
        raise Forbidden("this needs an administrator account")
    return viewer


AdminPage = Annotated[Viewer, Depends(administrator)]


def _users_page(
    request: Request,
    session,
    admin: Viewer,
    *,
    status: int = 200,
    search: str = "",
    cursor: str | None = None,
    **context,
) -> Response:
    users, next_cursor = user_service.list_users(session, limit=USERS_PER_PAGE, cursor=cursor, search=search or None)
    locks = {user.id: ratelimit.login_throttle(session, user.email, None) for user in users}
    context = {"form": {}, "errors": {}, "notice": None, "problem": None} | context
    return page(
        request,
        "web/admin_users.html",
        admin,
        status=status,
        block="users" if is_htmx(request) else None,
        section="users",
        users=users,
        locks=locks,
        next_cursor=next_cursor,
        search=search,
        paged=cursor is not None,
        htmx=is_htmx(request),
        **context,
    )


def _done(request: Request, session, admin: Viewer, key: str) -> Response:
    if is_htmx(request):
        return _users_page(request, session, admin, notice=DONE[key])
    return RedirectResponse(f"/admin?done={key}", status_code=303)


@router.get("/admin")
def users_page(
    request: Request,
    session: SessionDep,
    admin: AdminPage,
    search: Annotated[str, Query(max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    done: str = "",
) -> Response:
    return _users_page(request, session, admin, search=search.strip(), cursor=cursor, notice=DONE.get(done))


@router.post("/admin/users")
async def create_user(request: Request, session: SessionDep, admin: AdminPage) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in USER_FIELDS}
    data, errors = parse(UserCreate, values | {"is_admin": form.get("is_admin") == "yes"})
    if data is not None:
        try:
            user_service.create_user(session, data, actor=admin.user)
        except DomainError as exc:  # the email is taken, or is not an address
            errors = {"email": sentence(str(exc.message))}
    if errors:
        shown = {"email": values["email"], "full_name": values["full_name"], "is_admin": form.get("is_admin") == "yes"}
        return _users_page(request, session, admin, status=422, form=shown, errors=errors)
    return _done(request, session, admin, "created")


def _account(session, user_id: str) -> User:
    try:
        wanted = uuid.UUID(user_id)
    except ValueError:
        raise NotFound("user not found") from None
    return user_service.get(session, wanted)


@router.post("/admin/users/{user_id}/disable")
@router.post("/admin/users/{user_id}/enable")
def set_sign_in(request: Request, session: SessionDep, admin: AdminPage, user_id: str) -> Response:
    enable = request.url.path.endswith("/enable")
    try:
        user_service.set_active(session, _account(session, user_id), enable, actor=admin.user)
    except user_service.OwnAccount as exc:
        return _users_page(request, session, admin, status=exc.status_code, problem=sentence(str(exc.message)))
    return _done(request, session, admin, "enabled" if enable else "disabled")


@router.post("/admin/users/{user_id}/unlock")
def clear_failed_sign_ins(request: Request, session: SessionDep, admin: AdminPage, user_id: str) -> Response:
    ratelimit.unlock(session, _account(session, user_id).email, actor=admin.user)
    return _done(request, session, admin, "unlocked")
