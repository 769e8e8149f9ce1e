from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.security import OAuth2PasswordRequestForm

from api.config import get_settings
from api.deps import CallerDep, CurrentUser, SessionDep
from api.errors import Forbidden, error_responses
from api.json_body import CheckedJSONRoute
from api.services import users as user_service
from models.user import TokenResponse, UserCreate, UserPublic

router = APIRouter(tags=["auth"], route_class=CheckedJSONRoute)


@router.post("/auth/token", response_model=TokenResponse, responses=error_responses(401, 422, 429))
def login(session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenResponse:
    """Exchange email (as `username`) and password for an opaque bearer token.

    Repeated failures are slowed: after 10 for one email (since its last successful login) or 50 from one
    address within 15 minutes (configurable), attempts get 429 with Retry-After, even with the right password.
    """
    user = user_service.authenticate(session, form.username, form.password)
    token, row = user_service.issue_token(session, user, ttl=timedelta(hours=get_settings().token_ttl_hours))
    return TokenResponse(access_token=token, expires_at=row.expires_at)


@router.delete("/auth/token", status_code=204, responses=error_responses(401))
def logout(session: SessionDep, caller: CallerDep) -> None:
    """Revoke the token this request was made with."""
    user_service.revoke_token(session, caller.token)


@router.get("/auth/me", response_model=UserPublic, responses=error_responses(401))
def me(user: CurrentUser) -> UserPublic:
    """The account the token belongs to."""
    return UserPublic.model_validate(user)


@router.post(
    "/users",
    response_model=UserPublic,
    status_code=201,
    responses=error_responses(401, 403, user_service.EmailTaken, 422),
)
def create_user(session: SessionDep, user: CurrentUser, data: UserCreate) -> UserPublic:
    """Create an account (administrators only)."""
    if not user.is_admin:
        raise Forbidden("only administrators can create accounts")
    return UserPublic.model_validate(user_service.create_user(session, data, actor=user))
