"""Request dependencies: the session, the caller, and case access checked once for every route."""

import uuid
from dataclasses import dataclass
from functools import lru_cache
from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from api.config import get_settings
from api.db import get_session
from api.errors import Forbidden, NotFound, Unauthorized
from api.services import cases as case_service
from api.services import users as user_service
from api.storage import BlobStore, LocalBlobStore
from models.case import Case, Role
from models.user import ApiToken, User

# scope="function": commit before the response is sent, so a 201 always means the row is durable.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]

_bearer = HTTPBearer(auto_error=False, description="An API token from POST /api/v1/auth/token.")


@lru_cache
def _local_store() -> LocalBlobStore:
    return LocalBlobStore(get_settings().data_dir)


def get_blob_store() -> BlobStore:
    return _local_store()


BlobStoreDep = Annotated[BlobStore, Depends(get_blob_store)]


@dataclass
class Caller:
    user: User
    token: ApiToken


def get_caller(
    session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("missing bearer token")
    user, token = user_service.user_for_token(session, credentials.credentials)
    return Caller(user, token)


CallerDep = Annotated[Caller, Depends(get_caller)]


def current_user(caller: CallerDep) -> User:
    return caller.user


CurrentUser = Annotated[User, Depends(current_user)]


@dataclass
class CaseAccess:
    case: Case
    role: Role
    user: User


def case_for(role: Role = Role.viewer):
    """Dependency factory: the case in the path, if the caller holds at least `role` in it.

    A non-member gets the same 404 as for a missing case, so existence never leaks.
    """

    def dependency(case_id: uuid.UUID, session: SessionDep, user: CurrentUser) -> CaseAccess:
        case, held = case_service.get_with_role(session, case_id, user)
        if case is None or held is None:
            raise NotFound("case not found")
        if held.rank < role.rank:
            raise Forbidden(f"this needs the {role.value} role in the case; you are {held.value}")
        return CaseAccess(case, held, user)

    return dependency


CaseViewer = Annotated[CaseAccess, Depends(case_for(Role.viewer))]
CaseEditor = Annotated[CaseAccess, Depends(case_for(Role.editor))]
CaseOwner = Annotated[CaseAccess, Depends(case_for(Role.owner))]
