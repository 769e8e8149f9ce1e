"""Administration: for accounts with is_admin only."""

from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import CurrentUser
from api.errors import Forbidden
from models.user import User

router = APIRouter(prefix="/admin", tags=["admin"])


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator account")
    return user


AdminUser = Annotated[User, Depends(require_admin)]
