"""Administration: for accounts with is_admin only."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api.deps import BlobStoreDep, CurrentUser, SessionDep
from api.errors import Forbidden, NotFound, error_responses
from api.json_body import CheckedJSONRoute
from api.pagination import DEFAULT_LIMIT, Page
from api.services import audit, ratelimit
from api.services import purge as purge_service
from api.services import users as user_service
from api.services import verify as verify_service
from api.services import verify_runs as verify_run_service
from models.inputs import Cursor, SearchText
from models.purge import PurgeReport
from models.user import LoginUnlock, User, UserAccount
from models.verify import VerifyRequest, VerifyResult, VerifyRun, VerifyRunPublic

router = APIRouter(prefix="/admin", tags=["admin"], route_class=CheckedJSONRoute)


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator account")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


def _anchors(data: VerifyRequest | None) -> list[audit.Anchor]:
    return [audit.Anchor(a.seq, a.hash) for a in data.anchors] if data else []


@router.post("/verify", response_model=VerifyResult, responses=error_responses(401, 403))
def verify(
    session: SessionDep, admin: AdminUser, store: BlobStoreDep, data: VerifyRequest | None = None
) -> VerifyResult:
    """Re-hash every original and bundle volume, compare the store with the rows, walk the audit chain and
    compare it with the anchors given.

    Findings are data, not errors: the answer is 200 with `ok: false`. Runs while you wait (it reads every
    stored byte); the run is recorded in the audit trail. `casebinder verify` does the same from a shell, and
    POST /admin/verify-runs in the background, for stores too big to check within one request.
    """
    report = verify_service.run(session, store, actor=admin, anchors=_anchors(data))
    return verify_service.as_result(report)


def _run_public(run: VerifyRun, requested_by_email: str | None) -> VerifyRunPublic:
    return VerifyRunPublic.model_validate(run, update={"requested_by_email": requested_by_email})


@router.post("/verify-runs", response_model=VerifyRunPublic, status_code=202, responses=error_responses(401, 403))
def queue_verify_run(session: SessionDep, admin: AdminUser, data: VerifyRequest | None = None) -> VerifyRunPublic:
    """Queue the check POST /admin/verify makes, to run in the background; poll GET /admin/verify-runs/{id}.

    The server runs one at a time, oldest first. Once `done`, `result` is what POST /admin/verify would have
    answered, and the run is in the audit trail as a `verify` event with you as its actor. A run the server was
    stopped during is `failed`, with the reason in `error`: queue a new one.
    """
    run = verify_run_service.create_run(session, actor=admin, anchors=_anchors(data))
    return _run_public(run, admin.email)


@router.get("/verify-runs", response_model=Page[VerifyRunPublic], responses=error_responses(400, 401, 403))
def list_verify_runs(session: SessionDep, admin: AdminUser, limit: int = DEFAULT_LIMIT, cursor: Cursor | None = None):
    """Every verify run, newest first."""
    rows, next_cursor = verify_run_service.list_runs(session, limit=limit, cursor=cursor)
    return {"items": [_run_public(run, email) for run, email in rows], "next_cursor": next_cursor}


@router.get("/verify-runs/{run_id}", response_model=VerifyRunPublic, responses=error_responses(401, 403, 404))
def get_verify_run(session: SessionDep, admin: AdminUser, run_id: uuid.UUID) -> VerifyRunPublic:
    return _run_public(*verify_run_service.get_run(session, run_id))


@router.get("/users", response_model=Page[UserAccount], responses=error_responses(400, 401, 403))
def list_users(
    session: SessionDep,
    admin: AdminUser,
    search: SearchText | None = Query(None, description="Keep accounts whose email or name contains this."),
    limit: int = DEFAULT_LIMIT,
    cursor: Cursor | None = None,
):
    """Every account, newest first, with whether it may sign in."""
    rows, next_cursor = user_service.list_users(session, limit=limit, cursor=cursor, search=search)
    return {"items": rows, "next_cursor": next_cursor}


@router.post(
    "/users/{user_id}/disable",
    response_model=UserAccount,
    responses=error_responses(401, 403, 404, user_service.OwnAccount),
)
def disable_user(session: SessionDep, admin: AdminUser, user_id: uuid.UUID) -> UserAccount:
    """Stop an account from signing in. Its browser sessions end and its API tokens are revoked at once;
    enabling it again does not revive them. You cannot disable your own account (409). Recorded as
    `user.disable`."""
    user = user_service.set_active(session, user_service.get(session, user_id), False, actor=admin)
    return UserAccount.model_validate(user)


@router.post("/users/{user_id}/enable", response_model=UserAccount, responses=error_responses(401, 403, 404))
def enable_user(session: SessionDep, admin: AdminUser, user_id: uuid.UUID) -> UserAccount:
    """Let a disabled account sign in again (with its password; old sessions and tokens stay ended).
    Recorded as `user.enable`."""
    return UserAccount.model_validate(
        user_service.set_active(session, user_service.get(session, user_id), True, actor=admin)
    )


@router.post("/users/{user_id}/unlock", response_model=LoginUnlock, responses=error_responses(401, 403, 404, 422))
def unlock_login(session: SessionDep, admin: AdminUser, user_id: uuid.UUID) -> LoginUnlock:
    """Let an account that failed too many logins log in again at once (its own limit, not an address's).

    Recorded as a `login.unlock` event. `casebinder user unlock EMAIL` does the same from a shell, for when
    the administrator is the one locked out.
    """
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return LoginUnlock(email=user.email, failures_cleared=ratelimit.unlock(session, user.email, actor=admin))


@router.post("/purge", response_model=PurgeReport, responses=error_responses(401, 403))
def purge(session: SessionDep, admin: AdminUser, store: BlobStoreDep, dry_run: bool = False) -> PurgeReport:
    """Remove the originals of soft-deleted evidence that no live item or bundle volume still uses.

    Items under legal hold (their own case's, or that of any case they are linked into) are skipped, each
    with a delete.refused event; each purged item gets purged_at and an evidence.purge event. Safe to run
    again. `dry_run=true` reports what would go and changes nothing. `casebinder purge` does the same.
    """
    return purge_service.purge(session, store, actor=admin, dry_run=dry_run)
