"""Login throttling, counted from the audit trail: the failed logins it already records are the only state.

Two sliding windows (settings: login_window_minutes): failures for one email since its last successful login,
and failures from one client address for any email. Past either limit, an attempt is refused with 429 before
the password is looked at, whether or not the email exists, and the refusal is itself audited.

Concurrent attempts are each checked against the failures already committed, so a burst can overshoot a limit
by at most the number of attempts in flight at once.
"""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlmodel import Session, col

from api.config import get_settings
from api.errors import TooManyRequests
from api.services import audit
from models.audit import AuditEvent
from models.common import utcnow

UNLOCK = "login.unlock"


@dataclass(frozen=True)
class Throttle:
    scope: str  # "account" or "address"
    failures: int
    retry_after: int  # seconds until the oldest counted failure leaves the window

    @property
    def message(self) -> str:
        who = "for this account" if self.scope == "account" else "from this address"
        return f"too many failed logins {who}: try again in {self.retry_after} seconds"


def login_key(email: str) -> str:
    """How a login attempt's email is recorded and counted: trimmed, lower-cased, control characters (which no
    account's email has, and PostgreSQL cannot store NUL) written as %XX."""
    return "".join(f"%{ord(c):02X}" if ord(c) < 32 or ord(c) == 127 else c for c in email.strip().lower())[:320]


def has_control_characters(text: str) -> bool:
    return any(ord(c) < 32 or ord(c) == 127 for c in text)


def _recent_failures(session: Session, column, value: str, since: datetime, limit: int) -> list[datetime]:
    """When the newest `limit` failures after `since` happened, newest first (an index walk on (column, at))."""
    stmt = (
        select(col(AuditEvent.at))
        .where(column == value, col(AuditEvent.action) == "login_failed", col(AuditEvent.at) > since)
        .order_by(col(AuditEvent.at).desc())
        .limit(limit)
    )
    return list(session.execute(stmt).scalars())


def _counting_since(session: Session, key: str, now: datetime, window: timedelta) -> datetime:
    """Where the account's count of failures starts: the window's start, or its last successful login or
    unlock within the window, whichever is latest."""
    start = now - window
    success = select(func.max(AuditEvent.at)).where(
        col(AuditEvent.actor_email) == key, col(AuditEvent.action) == "login", col(AuditEvent.at) > start
    )
    unlock = select(func.max(AuditEvent.at)).where(
        col(AuditEvent.object_id) == key, col(AuditEvent.action) == UNLOCK, col(AuditEvent.at) > start
    )
    resets = (session.execute(success).scalar_one(), session.execute(unlock).scalar_one())
    return max([start, *(at for at in resets if at)])


def unlock(session: Session, email: str, *, actor=None) -> int:
    """Let an account log in again at once: its failed logins stop counting. Returns how many did.

    The per-address limit is not touched: it is about the caller, not the account. Recorded as `login.unlock`
    with the login name as its object, which is what the account limit counts by.
    """
    settings = get_settings()
    now = utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    key = login_key(email)
    since = _counting_since(session, key, now, window)
    cleared = session.execute(
        select(func.count()).where(
            col(AuditEvent.actor_email) == key, col(AuditEvent.action) == "login_failed", col(AuditEvent.at) > since
        )
    ).scalar_one()
    audit.record(
        session,
        UNLOCK,
        actor=actor,
        actor_email=None if actor else "command line",
        object_type="login",
        object_id=key,
        details={"failures_cleared": cleared},
    )
    return cleared


def _verdict(scope: str, failures: list[datetime], limit: int, window: timedelta, now: datetime) -> Throttle | None:
    if len(failures) < limit:
        return None
    # Once the limit-th newest failure is older than the window, fewer than `limit` remain in it.
    wait = (failures[limit - 1] + window - now).total_seconds()
    return Throttle(scope, len(failures), max(1, math.ceil(wait)))


def login_throttle(session: Session, email: str, ip: str | None, *, now: datetime | None = None) -> Throttle | None:
    """The limit this attempt is over, if any."""
    settings = get_settings()
    now = now or utcnow()
    window = timedelta(minutes=settings.login_window_minutes)
    key = login_key(email)
    since = _counting_since(session, key, now, window)
    limit = settings.login_max_failures_per_account
    found = _verdict(
        "account", _recent_failures(session, AuditEvent.actor_email, key, since, limit), limit, window, now
    )
    if found is None and ip:
        limit = settings.login_max_failures_per_ip
        failures = _recent_failures(session, AuditEvent.ip, ip, now - window, limit)
        found = _verdict("address", failures, limit, window, now)
    return found


def check_login(session: Session, email: str) -> None:
    """Refuse (429, audited even though the request fails) an attempt over a limit; otherwise do nothing."""
    throttle = login_throttle(session, email, audit.ORIGIN.get().ip)
    if throttle is None:
        return
    audit.record(
        session,
        "login_throttled",
        actor_email=login_key(email),
        object_type="user",
        details={"limit": throttle.scope, "failures": throttle.failures, "retry_after": throttle.retry_after},
        durable=True,
    )
    raise TooManyRequests(throttle.message, retry_after=throttle.retry_after)
