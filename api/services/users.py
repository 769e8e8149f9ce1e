"""Users, passwords (argon2) and opaque API tokens (stored only as SHA-256)."""

import hashlib
import secrets
from datetime import timedelta
from functools import lru_cache
from typing import NoReturn

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api.config import get_settings
from api.db import rowcount
from api.errors import BadRequest, Conflict, NotFound, Unauthorized, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import audit, ratelimit, web_sessions
from models.common import utcnow
from models.inputs import text_problem
from models.user import ApiToken, User, UserCreate


class EmailTaken(Conflict):
    """An account with this email already exists."""

    code = "email_taken"


class OwnAccount(Conflict):
    """An administrator cannot disable their own account: another administrator must."""

    code = "own_account"


TOKEN_PREFIX = "cb_"
_PROFILES = {
    "rfc9106_low_memory": profiles.RFC_9106_LOW_MEMORY,
    "rfc9106_high_memory": profiles.RFC_9106_HIGH_MEMORY,
    "cheapest": profiles.CHEAPEST,
}


@lru_cache
def password_hasher(profile: str) -> PasswordHasher:
    return PasswordHasher.from_parameters(_PROFILES[profile])


def _hasher() -> PasswordHasher:
    return password_hasher(get_settings().password_hash_profile)


@lru_cache
def _dummy_hash(profile: str) -> str:
    """Verifying against this keeps the timing of "no such user" close to "wrong password"."""
    return password_hasher(profile).hash("not-a-real-password")


def normalize_email(email: str) -> str:
    """Lower-case and trim; refuse anything that is not one local@domain address."""
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    unprintable = any(c.isspace() or not c.isprintable() for c in email)  # NUL included
    if not at or not local or "." not in domain or "@" in domain or unprintable:
        raise UnprocessableEntity(f"not a valid email address: {email!r}")
    return email


def get_by_email(session: Session, email: str) -> User | None:
    if text_problem(email):  # no account's email has a NUL, and PostgreSQL could not even compare one
        return None
    return session.exec(select(User).where(User.email == email.strip().lower())).first()


def create_user(session: Session, data: UserCreate, *, actor: User | None = None) -> User:
    """Create a user with an argon2-hashed password (actor: the admin who asked; None from the command line)."""
    email = normalize_email(data.email)
    if get_by_email(session, email):
        raise EmailTaken(f"a user with email {email} already exists")
    user = User(
        email=email, full_name=data.full_name, is_admin=data.is_admin, password_hash=_hasher().hash(data.password)
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.create",
        actor=actor,
        object_type="user",
        object_id=user.id,
        details={"email": email, "is_admin": user.is_admin},
    )
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """Check a password; the same error for an unknown email and a wrong password.

    An attempt over the failed-login limits is refused (429) before any lookup or hash: see ratelimit."""
    ratelimit.check_login(session, email)
    # No account's email has control characters (normalize_email refuses them), so such a name is unknown.
    user = None if ratelimit.has_control_characters(email) else get_by_email(session, email)
    try:
        _hasher().verify(user.password_hash if user else _dummy_hash(get_settings().password_hash_profile), password)
    except (VerificationError, InvalidHashError):
        _refuse_login(session, email, user, "wrong password" if user else "unknown email")
    if user is None or not user.is_active:
        _refuse_login(session, email, user, "account disabled")
    if _hasher().check_needs_rehash(user.password_hash):
        user.password_hash = _hasher().hash(password)
    audit.record(session, "login", actor=user, object_type="user", object_id=user.id)
    return user


def _refuse_login(session: Session, email: str, user: User | None, why: str) -> NoReturn:
    audit.record(
        session,
        "login_failed",
        actor_email=ratelimit.login_key(email),
        object_type="user",
        object_id=user.id if user else None,
        details={"reason": why},
        durable=True,
    )
    raise Unauthorized("incorrect email or password")


def token_digest(token: str) -> str:
    """What is stored of a token: its SHA-256; api.services.access looks tokens up by it."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: Session, user: User, *, ttl: timedelta, name: str = "login") -> tuple[str, ApiToken]:
    """Make a new random token; only its hash is stored, the token itself is returned once."""
    if ttl <= timedelta(0):
        raise BadRequest("token lifetime must be positive")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=token_digest(token), name=name, expires_at=utcnow() + ttl)
    session.add(row)
    session.flush()
    return token, row


def revoke_token(session: Session, token: ApiToken) -> None:
    """Revoke a token; it stops working at once."""
    token.revoked_at = utcnow()
    session.add(token)
    session.flush()
    audit.record(
        session, "logout", actor_email=None, object_type="token", object_id=token.id, details={"user_id": token.user_id}
    )


def get(session: Session, user_id) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user not found")
    return user


def list_users(session: Session, *, limit: int, cursor: str | None, search: str | None = None):
    """Every account, newest first; `search` keeps those whose email or name contains it (any case)."""
    stmt = select(User)
    if search and not text_problem(search):
        needle = search.strip().lower()
        stmt = stmt.where(
            col(User.email).contains(needle, autoescape=True)
            | func.lower(col(User.full_name)).contains(needle, autoescape=True)
        )
    return keyset_page(
        session,
        stmt,
        kind="users",
        columns=[User.created_at, User.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda user: (user.created_at, user.id),
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def set_active(session: Session, user: User, active: bool, *, actor: User) -> User:
    """Let an account sign in, or stop it. Disabling also ends its browser sessions and revokes its API tokens
    at once, so enabling it later does not bring an old sign-in back to life. Recorded as `user.disable` or
    `user.enable`; asking for the state it is already in changes and records nothing."""
    if not active and user.id == actor.id:
        raise OwnAccount("you cannot disable your own account: another administrator must")
    if user.is_active == active:
        return user
    user.is_active = active
    session.add(user)
    session.flush()
    details: dict = {"email": user.email}
    if not active:
        details["sessions_ended"] = web_sessions.end_all(session, user)
        details["tokens_revoked"] = rowcount(
            session.execute(
                update(ApiToken)
                .where(col(ApiToken.user_id) == user.id, col(ApiToken.revoked_at).is_(None))
                .values(revoked_at=utcnow())
            )
        )
    action = "user.enable" if active else "user.disable"
    audit.record(session, action, actor=actor, object_type="user", object_id=user.id, details=details)
    return user
