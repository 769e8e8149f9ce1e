"""Browser sessions: start one at sign-in, find it from its cookie, end it at sign-out or when it times out.

A session ends after `web_session_idle_minutes` without a request and `web_session_max_hours` after sign-in,
whichever comes first. Its last use is written at most once a minute, so browsing is not a write per page.
Sign-in always makes a new id (no session fixation); the CSRF secret is the session's own.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, or_, update
from sqlmodel import Session, col, select

from api.config import get_settings
from api.db import rowcount
from api.services import audit
from models.common import utcnow
from models.user import User
from models.web_session import WebSession

SESSION_ID_BYTES = 32
TOUCH_EVERY = timedelta(minutes=1)
# An ended or expired session is kept this long (it can be looked at beside the audit trail's login and logout),
# then dropped at its person's next sign-in, so the table holds live sessions and a day of history.
KEEP_ENDED = timedelta(days=1)


@dataclass
class Active:
    user: User
    session: WebSession


def digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def start(session: Session, user: User, *, user_agent: str | None = None) -> str:
    """A new session for `user`; returns the cookie's id (only its digest is stored)."""
    settings = get_settings()
    session_id = secrets.token_urlsafe(SESSION_ID_BYTES)
    now = utcnow()
    session.execute(
        delete(WebSession).where(
            col(WebSession.user_id) == user.id,
            or_(col(WebSession.ended_at) < now - KEEP_ENDED, col(WebSession.expires_at) < now - KEEP_ENDED),
        )
    )
    row = WebSession(
        user_id=user.id,
        id_hash=digest(session_id),
        csrf_secret=secrets.token_hex(32),
        last_seen_at=now,
        expires_at=now + timedelta(hours=settings.web_session_max_hours),
        user_agent=(user_agent or "")[:300] or None,
    )
    session.add(row)
    session.flush()
    return session_id


def find(session: Session, session_id: str | None) -> Active | None:
    """The live session the cookie names and its user, or None (unknown, ended, timed out, account disabled)."""
    if not session_id or len(session_id) > 200:
        return None
    found = session.exec(
        select(WebSession, User)
        .join(User, col(User.id) == WebSession.user_id)
        .where(WebSession.id_hash == digest(session_id))
    ).first()
    if found is None:
        return None
    row, user = found
    now = utcnow()
    idle = timedelta(minutes=get_settings().web_session_idle_minutes)
    if row.ended_at is not None or not user.is_active or now >= row.expires_at or now - row.last_seen_at >= idle:
        if row.ended_at is None:
            row.ended_at = now
            session.add(row)
        return None
    if now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
        session.add(row)
    return Active(user, row)


def end(session: Session, active: Active) -> None:
    """Sign out: the session is over on the server, whatever the browser keeps."""
    session.execute(
        update(WebSession)
        .where(col(WebSession.id) == active.session.id, col(WebSession.ended_at).is_(None))
        .values(ended_at=utcnow())
    )
    audit.record(session, "logout", actor=active.user, object_type="user", object_id=active.user.id)


def end_by_id(session: Session, session_id: str | None) -> None:
    """End the session a cookie names, if any (at sign-in, the one it replaces)."""
    if session_id and len(session_id) <= 200:
        session.execute(
            update(WebSession)
            .where(col(WebSession.id_hash) == digest(session_id), col(WebSession.ended_at).is_(None))
            .values(ended_at=utcnow())
        )


def end_all(session: Session, user: User) -> int:
    """End every live session of `user` (their account was disabled); returns how many were live."""
    return rowcount(
        session.execute(
            update(WebSession)
            .where(col(WebSession.user_id) == user.id, col(WebSession.ended_at).is_(None))
            .values(ended_at=utcnow())
        )
    )


def csrf_token(active: Active) -> str:
    """The token this session's forms carry: an HMAC of the session's own secret, so it is useless elsewhere."""
    return hmac.new(active.session.csrf_secret.encode(), b"casebinder-csrf", hashlib.sha256).hexdigest()


def csrf_ok(active: Active, token: str | None) -> bool:
    return bool(token) and hmac.compare_digest(csrf_token(active), token or "")
