"""Administration: for accounts with is_admin only."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends

from api.deps import BlobStoreDep, CurrentUser, SessionDep
from api.errors import Forbidden, NotFound, error_responses
from api.services import audit, ratelimit
from api.services import purge as purge_service
from api.services import verify as verify_service
from models.purge import PurgeReport
from models.user import LoginUnlock, User
from models.verify import AuditAnchor, VerifyFinding, VerifyRequest, VerifyResult

router = APIRouter(prefix="/admin", tags=["admin"])


def require_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator account")
    return user


AdminUser = Annotated[User, Depends(require_admin)]


@router.post("/verify", response_model=VerifyResult, responses=error_responses(401, 403))
def verify(
    session: SessionDep, admin: AdminUser, store: BlobStoreDep, data: VerifyRequest | None = None
) -> VerifyResult:
    """Re-hash every original and bundle volume, compare the store with the rows, walk the audit chain and
    compare it with the anchors given.

    Findings are data, not errors: the answer is 200 with `ok: false`. Runs while you wait (it reads every
    stored byte); the run is recorded in the audit trail. `casebinder verify` does the same from a shell.
    """
    anchors = [audit.Anchor(a.seq, a.hash) for a in data.anchors] if data else []
    report = verify_service.run(session, store, actor=admin, anchors=anchors)
    findings = [
        VerifyFinding(
            problem=f.problem, refs=f.refs, sha256=f.sha256, detail=f.detail, path=str(f.path) if f.path else None
        )
        for f in report.findings
    ]
    counts = {name: getattr(report, name) for name in VerifyResult.model_fields if hasattr(report, name)}
    anchor = AuditAnchor(seq=report.head.seq, hash=report.head.hash) if report.head else None
    return VerifyResult(**(counts | {"ok": report.ok, "findings": findings, "anchor": anchor}))


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
