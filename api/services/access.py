"""Who is calling, and their role in the case a route names: one query per request.

Every request resolves its bearer token, and a case's routes also the caller's membership of the case. A
query for each (token, user, case and role) cost most of a small request's time, so the token, its user and
the membership are joined and come back in one row.
"""

import uuid
from dataclasses import dataclass
from typing import Protocol, TypeVar

from sqlalchemy import and_, bindparam, select
from sqlmodel import Session, col

from api.errors import Forbidden, NotFound, Unauthorized
from api.services.users import token_digest
from models.case import Case, CaseMember, Role
from models.common import utcnow
from models.user import ApiToken, User

INVALID_TOKEN = "invalid, expired or revoked token"

_BY_HASH = col(ApiToken.token_hash) == bindparam("token_hash")
_CALLER = select(ApiToken, User).join(User, col(User.id) == ApiToken.user_id).where(_BY_HASH)
# Outer joins: a row for every known token, with the case and role only when the user is a member of it.
_MEMBER = (
    select(col(ApiToken.expires_at), col(ApiToken.revoked_at), User, Case, col(CaseMember.role))
    .join(User, col(User.id) == ApiToken.user_id)
    .outerjoin(CaseMember, and_(col(CaseMember.user_id) == User.id, col(CaseMember.case_id) == bindparam("case_id")))
    .outerjoin(Case, col(Case.id) == CaseMember.case_id)
    .where(_BY_HASH)
)


@dataclass
class Membership:
    user: User
    case: Case | None  # None when the case is missing or the user is not a member
    role: Role | None


def _check(expires_at, revoked_at, user: User | None) -> None:
    if revoked_at is not None or expires_at <= utcnow() or user is None or not user.is_active:
        raise Unauthorized(INVALID_TOKEN)


def caller(session: Session, token: str) -> tuple[User, ApiToken]:
    """The token's user and the token row; 401 for an unknown, expired or revoked token or an inactive user."""
    row = session.execute(_CALLER, {"token_hash": token_digest(token)}).first()
    if row is None:
        raise Unauthorized(INVALID_TOKEN)
    _check(row[0].expires_at, row[0].revoked_at, row[1])
    return row[1], row[0]


def membership(session: Session, token: str, case_id: str | uuid.UUID | None) -> Membership:
    """The token's user and their role in the case (as caller() refuses tokens), in one query.

    `case_id` may be the path's text: one that is not a UUID matches no case.
    """
    if not isinstance(case_id, uuid.UUID):
        try:
            case_id = uuid.UUID(case_id)
        except (TypeError, ValueError, AttributeError):
            case_id = None
    row = session.execute(_MEMBER, {"token_hash": token_digest(token), "case_id": case_id}).first()
    if row is None:
        raise Unauthorized(INVALID_TOKEN)
    expires_at, revoked_at, user, case, role = row
    _check(expires_at, revoked_at, user)
    if case is None or role is None:
        return Membership(user, None, None)
    return Membership(user, case, Role(role))


def require_role(case: Case | None, held: Role | None, role: Role) -> tuple[Case, Role]:
    """The case and the role held in it, if that is at least `role`: 404 for a missing case and a non-member alike
    (existence never leaks), 403 naming both roles for a lesser one. The API's routes and the web app's pages ask
    it the same way."""
    if case is None or held is None:
        raise NotFound("case not found")
    if held.rank < role.rank:
        raise Forbidden(f"this needs the {role.value} role in the case; you are {held.value}")
    return case, held


class _CaseScoped(Protocol):
    id: uuid.UUID
    case_id: uuid.UUID


_Row = TypeVar("_Row", bound=_CaseScoped)


def case_object(
    session: Session, model: type[_Row], object_id: uuid.UUID, user: User, what: str, role: Role = Role.viewer
) -> _Row:
    """A row of a case-scoped table (one with case_id) if the user is a member of its case holding at least `role`
    (403 for a lesser role); 404 saying `what` was not found for anyone else, exactly as for a missing one, so ids
    of other cases' objects give nothing away."""
    found = session.execute(
        select(model, col(CaseMember.role))
        .join(CaseMember, col(CaseMember.case_id) == model.case_id)
        .where(col(model.id) == object_id, col(CaseMember.user_id) == user.id)
    ).first()
    if found is None:
        raise NotFound(f"{what} not found")
    row, held = found
    if Role(held).rank < role.rank:
        raise Forbidden(f"this needs the {role.value} role in the case")
    return row
