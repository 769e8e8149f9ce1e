"""Request dependencies: the session, the caller, and access to a case and to the objects in it, each checked
once here, so no route handler repeats "404 unless a member, 403 unless the role"."""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlmodel import Session

from api.config import get_settings
from api.db import get_session
from api.errors import Unauthorized
from api.request_body import receiving_body
from api.services import access as access_service
from api.services import bundles as bundle_service
from api.services import evidence as evidence_service
from api.services import exhibits as exhibit_service
from api.services.timeline import events as timeline_service
from api.storage import BlobStore, open_store
from models.bundle import Bundle
from models.case import Case, Role
from models.evidence import EvidenceItem
from models.exhibit import Exhibit
from models.timeline import TimelineEvent
from models.user import ApiToken, User

# scope="function": commit before the response is sent, so a 201 always means the row is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API token from POST /api/v1/auth/token.")
BearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


@lru_cache
def _local_store() -> BlobStore:
    return open_store(get_settings().data_dir)


def get_blob_store() -> BlobStore:
    return _local_store()


BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]


@dataclass
class Caller:
    user: User
    token: ApiToken


def _token(credentials: HTTPAuthorizationCredentials | None) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    return credentials.credentials


def get_caller(session: SessionDep, credentials: BearerDep) -> Caller:
    user, token = access_service.caller(session, _token(credentials))
    return Caller(user, token)


CallerDep = Annotated[Caller, Depends(get_caller)]


async def current_user(caller: CallerDep) -> User:  # async: no I/O, so no hop to the thread pool
    return caller.user


CurrentUser = Annotated[User, Depends(current_user)]


@dataclass
class CaseAccess:
    case: Case
    role: Role
    user: User


def _membership(request: Request, session: SessionDep, credentials: BearerDep) -> access_service.Membership:
    """The caller and their role in the path's case, in one query.

    Reads case_id as the path's text: the token is checked before FastAPI validates the id, so a bad token
    still answers 401 ahead of a 422 for a malformed id.
    """
    return access_service.membership(session, _token(credentials), request.path_params.get("case_id"))


MembershipDep = Annotated[access_service.Membership, Depends(_membership)]


@lru_cache
def case_for(role: Role = Role.viewer):
    """Dependency factory: the case in the path, if the caller holds at least `role` in it.

    A non-member gets the same 404 as for a missing case, so existence never leaks. One dependency per role, so
    a route that also asks for an object of the case (`exhibit_for`, `event_for`) checks the case once.
    """

    async def dependency(case_id: uuid.UUID, member: MembershipDep) -> CaseAccess:  # async: already read
        named = member.case if member.case is not None and member.case.id == case_id else None
        case, held = access_service.require_role(named, member.role, role)
        return CaseAccess(case, held, member.user)

    return dependency


CaseViewer = Annotated[CaseAccess, Depends(case_for(Role.viewer))]
CaseEditor = Annotated[CaseAccess, Depends(case_for(Role.editor))]
CaseOwner = Annotated[CaseAccess, Depends(case_for(Role.owner))]


def case_for_upload(role: Role = Role.editor):
    """Dependency factory for routes that read a long body (uploads, imports): `case_for(role)`, and then the
    access check's connection goes back to the pool before the first byte of the body is read, and the caller
    holds one of their upload slots (429 when none is free) until the route returns.

    The route's session checks a connection out again only when it next queries, to record what arrived.
    """

    def dependency(access: Annotated[CaseAccess, Depends(case_for(role))], session: SessionDep) -> Iterator[CaseAccess]:
        with receiving_body(session, access.user.id):
            yield access

    return dependency


CaseUploader = Annotated[CaseAccess, Depends(case_for_upload(Role.editor), scope="function")]


def exhibit_for(role: Role = Role.viewer):
    """Dependency factory: the exhibit in the path, in the path's case, for a caller with `role` there."""

    def dependency(
        exhibit_id: uuid.UUID, access: Annotated[CaseAccess, Depends(case_for(role))], session: SessionDep
    ) -> Exhibit:
        return exhibit_service.get(session, access.case, exhibit_id)

    return dependency


CaseExhibit = Annotated[Exhibit, Depends(exhibit_for(Role.viewer))]
EditableExhibit = Annotated[Exhibit, Depends(exhibit_for(Role.editor))]


def event_for(role: Role = Role.viewer):
    """Dependency factory: the timeline event in the path, in the path's case, for a caller with `role` there."""

    def dependency(
        event_id: uuid.UUID, access: Annotated[CaseAccess, Depends(case_for(role))], session: SessionDep
    ) -> TimelineEvent:
        return timeline_service.get_event(session, access.case, event_id)

    return dependency


CaseEvent = Annotated[TimelineEvent, Depends(event_for(Role.viewer))]
EditableEvent = Annotated[TimelineEvent, Depends(event_for(Role.editor))]


def bundle_for(role: Role = Role.viewer):
    """Dependency factory: the bundle in the path, if the caller holds at least `role` in its case (404 for a
    non-member, as for a missing bundle)."""

    def dependency(bundle_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> Bundle:
        return bundle_service.get_visible(session, bundle_id, user, role=role)

    return dependency


VisibleBundle = Annotated[Bundle, Depends(bundle_for(Role.viewer))]
EditableBundle = Annotated[Bundle, Depends(bundle_for(Role.editor))]


def evidence_for(role: Role = Role.viewer, *, body: type[BaseModel] | None = None):
    """Dependency factory: the evidence item in the path, if the caller may read it and holds `role` for it (see
    `evidence.get_visible`); a deleted item answers 410.

    `body`: the route's body model, declared here as well so that FastAPI validates the body before this check
    runs: a malformed edit is a 422 whoever sends it, and only a well-formed one is checked for access.
    """
    if body is None:

        def dependency(evidence_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> EvidenceItem:
            return evidence_service.get_live(session, evidence_id, user, role=role)

        return dependency

    # The body model is chosen at run time, for FastAPI to validate the body with: no static type can name it.
    def after_body(
        evidence_id: uuid.UUID,
        session: SessionDep,
        user: CurrentUser,
        data: body,  # type: ignore[valid-type]
    ) -> EvidenceItem:
        return evidence_service.get_live(session, evidence_id, user, role=role)

    return after_body


VisibleEvidence = Annotated[EvidenceItem, Depends(evidence_for(Role.viewer))]
EditorEvidence = Annotated[EvidenceItem, Depends(evidence_for(Role.editor))]
