"""The Members tab: who has access to the case and in what role; owners add people by email, change roles and
remove members, through the same membership service (and its last-owner rule) as the API."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from api.deps import SessionDep
from api.errors import DomainError, NotFound
from api.services import cases as case_service
from api.web.case_page import case_context
from api.web.forms import parse
from api.web.render import is_htmx, page, sentence
from api.web.session import CaseOwnerPage, CasePage, CaseViewerPage, PageRoute
from models.case import MemberCreate, Role

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ROLES = {
    Role.viewer: "Viewer: reads the case and downloads its evidence and bundles",
    Role.editor: "Editor: also uploads evidence, edits exhibits and the timeline, builds bundles",
    Role.owner: "Owner: also manages members, legal holds and the audit trail",
}
# After a plain form's redirect, the page says what happened; only these fixed sentences, never text from the URL.
DONE = {"added": "Member added.", "role": "Role changed.", "removed": "Member removed."}


def _page(request: Request, session, access: CasePage, *, status: int = 200, **context) -> Response:
    """The tab, or for htmx just its members block (with a status line for screen readers)."""
    context = {"form": {}, "errors": {}, "problem": None, "notice": None, "confirming": None} | context
    return page(
        request,
        "web/case_members.html",
        access.viewer,
        status=status,
        block="members" if is_htmx(request) else None,
        **case_context(access),
        tab="members",
        members=case_service.list_members(session, access.case),
        roles=ROLES,
        htmx=is_htmx(request),
        **context,
    )


def _done(request: Request, session, access: CasePage, key: str, message: str) -> Response:
    if is_htmx(request):
        return _page(request, session, access, notice=message)
    return RedirectResponse(f"/cases/{access.case.id}/members?done={key}", status_code=303)


def _member_id(user_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(user_id)
    except ValueError:
        raise NotFound("that user is not a member of this case") from None


def _reload(request: Request, location: str) -> Response:
    """Send the browser to `location` as a whole page: what the viewer may do there has changed."""
    if is_htmx(request):
        return Response(status_code=204, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


@router.get("/cases/{case_id}/members")
def members_tab(request: Request, session: SessionDep, access: CaseViewerPage, done: str = "") -> Response:
    return _page(request, session, access, notice=DONE.get(done))


@router.post("/cases/{case_id}/members")
async def add_member(request: Request, session: SessionDep, access: CaseOwnerPage) -> Response:
    form = await request.form()
    values = {name: str(form.get(name, "")) for name in ("email", "role")}
    data, errors = parse(MemberCreate, values)
    if data is None:
        return _page(request, session, access, status=422, form=values, errors=errors)
    try:
        _, user, _ = case_service.add_member(session, access.case, data, actor=access.viewer.user, new_only=True)
    except (NotFound, case_service.AlreadyMember) as exc:
        status = exc.status_code if isinstance(exc, case_service.AlreadyMember) else 422
        return _page(request, session, access, status=status, form=values, errors={"email": sentence(str(exc.message))})
    return _done(request, session, access, "added", f"Added {user.email} as {data.role}.")


@router.post("/cases/{case_id}/members/{user_id}/role")
def change_role(
    request: Request,
    session: SessionDep,
    access: CaseOwnerPage,
    user_id: str,
    role: Annotated[str, Form(max_length=20)] = "",
) -> Response:
    member_id = _member_id(user_id)
    if role not in Role.__members__:
        return _page(request, session, access, status=422, problem="Choose a role: viewer, editor or owner.")
    try:
        case_service.change_role(session, access.case, member_id, Role(role), actor=access.viewer.user)
    except DomainError as exc:
        return _page(request, session, access, status=exc.status_code, problem=sentence(str(exc.message)))
    if member_id == access.viewer.user.id:
        return _reload(request, f"/cases/{access.case.id}/members?done=role")
    return _done(request, session, access, "role", f"Role changed to {role}.")


@router.post("/cases/{case_id}/members/{user_id}/remove")
def remove_member(
    request: Request,
    session: SessionDep,
    access: CaseOwnerPage,
    user_id: str,
    confirmed: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Without `confirmed` (a form sent without JavaScript's confirm dialog), the page asks first."""
    member_id = _member_id(user_id)
    if confirmed != "yes":
        members = {user.id: user for _, user in case_service.list_members(session, access.case)}
        if member_id not in members:
            raise NotFound("that user is not a member of this case")
        return _page(request, session, access, confirming=members[member_id])
    try:
        case_service.remove_member(
            session, access.case, actor=access.viewer.user, actor_role=access.role, user_id=member_id
        )
    except DomainError as exc:
        return _page(request, session, access, status=exc.status_code, problem=sentence(str(exc.message)))
    if member_id == access.viewer.user.id:
        return _reload(request, "/")
    return _done(request, session, access, "removed", "Member removed.")
