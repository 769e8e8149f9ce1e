import uuid

from fastapi import APIRouter, Response

from api.deps import BlobStoreDep, CaseEditor, CaseOwner, CaseViewer, CurrentUser, SessionDep
from api.errors import BundleNotDone, error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import cases as case_service
from api.services import filed_bundle, holds
from models.case import (
    CaseCreate,
    CasePublic,
    CaseUpdate,
    FiledBundleRequest,
    LegalHoldRequest,
    LegalHoldState,
    MemberCreate,
    MemberPublic,
    Role,
)
from models.inputs import Cursor

router = APIRouter(tags=["cases"], route_class=CheckedJSONRoute)


def _public(case, role: Role | None) -> CasePublic:
    return CasePublic.model_validate(case, update={"role": role, "legal_hold": holds.public(case)})


@router.post("/cases", response_model=CasePublic, status_code=201, responses=error_responses(401, 422))
def create_case(session: SessionDep, user: CurrentUser, data: CaseCreate) -> CasePublic:
    """Open a case; you become its owner."""
    return _public(case_service.create_case(session, actor=user, data=data), Role.owner)


@router.get("/cases", response_model=Page[CasePublic], responses=error_responses(401, 400))
def list_cases(session: SessionDep, user: CurrentUser, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    """Cases you are a member of."""
    rows, next_cursor = case_service.list_cases(session, user=user, limit=limit, cursor=cursor)
    return Page(items=[_public(case, Role(role)) for case, role in rows], next_cursor=next_cursor)


@router.get("/cases/{case_id}", response_model=CasePublic, responses=error_responses(401, 404))
def get_case(access: CaseViewer) -> CasePublic:
    return _public(access.case, access.role)


@router.patch("/cases/{case_id}", response_model=CasePublic, responses=error_responses(401, 403, 404, 422))
def update_case(session: SessionDep, access: CaseEditor, data: CaseUpdate) -> CasePublic:
    """Change case details. Labels already issued keep their text if the label template changes."""
    return _public(case_service.update_case(session, access.case, data, actor=access.user), access.role)


@router.put(
    "/cases/{case_id}/filed-bundle",
    response_model=CasePublic,
    responses=error_responses(401, 403, 404, BundleNotDone, 422),
)
def mark_filed_bundle(session: SessionDep, access: CaseEditor, data: FiledBundleRequest) -> CasePublic:
    """Mark a done bundle of the case as the one filed (editors): the chronology (page, CSV, PDF, summary) cites
    its Bates numbers unless asked for another, and a rebuild of it is made beside it. 404 for a bundle of
    another case, 409 for one that is not done."""
    return _public(filed_bundle.mark(session, access.case, data.bundle_id, actor=access.user), access.role)


@router.delete(
    "/cases/{case_id}/filed-bundle",
    response_model=CasePublic,
    responses=error_responses(401, 403, 404, filed_bundle.NoFiledBundle),
)
def clear_filed_bundle(session: SessionDep, access: CaseEditor) -> CasePublic:
    """Clear the mark (editors); 409 when no bundle is marked. The chronology then cites the newest done bundle."""
    return _public(filed_bundle.clear(session, access.case, actor=access.user), access.role)


def _member(member, user) -> MemberPublic:
    return MemberPublic(
        user_id=user.id, email=user.email, full_name=user.full_name, role=member.role, added_at=member.added_at
    )


@router.get("/cases/{case_id}/members", response_model=Page[MemberPublic], responses=error_responses(401, 404))
def list_members(session: SessionDep, access: CaseViewer):
    """Everyone with access to the case and their role."""
    return Page(items=[_member(m, u) for m, u in case_service.list_members(session, access.case)])


@router.post(
    "/cases/{case_id}/members",
    response_model=MemberPublic,
    status_code=201,
    responses=error_responses(401, 403, 404, case_service.LastOwner, 422)
    | {200: {"description": "Role of an existing member changed"}},
)
def add_member(session: SessionDep, access: CaseOwner, data: MemberCreate, response: Response) -> MemberPublic:
    """Give a user a role in the case (owners only). Posting an existing member changes their role (200)."""
    member, user, created = case_service.add_member(session, access.case, data, actor=access.user)
    if not created:
        response.status_code = 200
    return _member(member, user)


@router.delete(
    "/cases/{case_id}/members/{user_id}",
    status_code=204,
    responses=error_responses(401, 403, 404, case_service.LastOwner),
)
def remove_member(session: SessionDep, access: CaseViewer, user_id: uuid.UUID) -> None:
    """Remove a member (owners), or leave the case yourself. The last owner cannot be removed."""
    case_service.remove_member(session, access.case, actor=access.user, actor_role=access.role, user_id=user_id)


@router.post(
    "/cases/{case_id}/legal-hold",
    response_model=LegalHoldState,
    responses=error_responses(401, 403, 404, holds.CaseAlreadyOnHold, 422),
)
def set_legal_hold(
    session: SessionDep, store: BlobStoreDep, access: CaseOwner, data: LegalHoldRequest
) -> LegalHoldState:
    """Put the case on legal hold (owners only). While held, nothing in it, and no evidence linked into it, can
    be deleted, unlinked or purged, by anyone; each attempt answers 409 and is recorded. Metadata edits and
    relabels stay allowed. Setting a hold on a held case is a 409: release it first to change the reason."""
    return holds.state(holds.set_hold(session, store, access.case, data.reason, actor=access.user))


@router.delete(
    "/cases/{case_id}/legal-hold",
    response_model=LegalHoldState,
    responses=error_responses(401, 403, 404, holds.CaseNotOnHold),
)
def release_legal_hold(session: SessionDep, store: BlobStoreDep, access: CaseOwner) -> LegalHoldState:
    """Release the hold (owners only); 409 when the case is not on hold."""
    return holds.state(holds.release_hold(session, store, access.case, actor=access.user))
