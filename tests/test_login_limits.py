"""Failed logins are slowed per account and per client address, counted from the audit trail, and audited.

Each test logs in from its own client address (the TestClient's `client`), so the per-address counts of one
test never reach another. Timing: an unknown email verifies the dummy argon2 hash just as a known one verifies
its own (api/services/users.authenticate); without wall-clock assertions the tests check what is observable,
identical status and body.
"""

import itertools
import re
import uuid
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.db import session_scope
from api.services import ratelimit
from models.audit import AuditEvent
from tests.conftest import PASSWORD
from tests.helpers import run_cli

_hosts = itertools.count(1)


@pytest.fixture
def from_address(app):
    """A factory of TestClients, each calling from an address of its own (IPv6 documentation range)."""
    opened = []

    def factory() -> tuple[TestClient, str]:
        ip = f"2001:db8::{next(_hosts):x}"
        client = TestClient(app, client=(ip, 40000))
        opened.append(client)
        return client, ip

    yield factory
    for client in opened:
        client.close()


def login(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def events(**where) -> list[AuditEvent]:
    with session_scope() as session:
        stmt = select(AuditEvent).filter_by(**where).order_by(AuditEvent.seq)
        return list(session.execute(stmt).scalars())


def test_ten_wrong_passwords_then_even_the_right_one_gets_429(alice, from_address, settings):
    client, ip = from_address()
    assert (settings.login_max_failures_per_account, settings.login_window_minutes) == (10, 15)  # the defaults
    for _ in range(10):
        r = login(client, alice.email, "guess")
        assert r.status_code == 401 and r.json() == {"detail": "incorrect email or password"}
    r = login(client, alice.email)  # the right password, but too late
    assert r.status_code == 429
    assert r.json()["detail"].startswith("too many failed logins for this account: try again in ")
    retry_after = int(r.headers["retry-after"])
    assert 0 < retry_after <= 15 * 60
    assert r.json()["detail"].endswith(f"in {retry_after} seconds")

    failed = events(action="login_failed", actor_email=alice.email)
    assert len(failed) == 10 and {e.ip for e in failed} == {ip}
    assert all(e.details == {"reason": "wrong password"} for e in failed)
    [throttled] = events(action="login_throttled", actor_email=alice.email)
    assert throttled.ip == ip and throttled.details == {"limit": "account", "failures": 10, "retry_after": retry_after}
    assert not events(action="login", actor_email=alice.email)  # the password was never checked


def test_the_account_limit_holds_from_any_address_and_lifts_as_the_window_slides(
    alice, from_address, settings, monkeypatch
):
    monkeypatch.setattr(settings, "login_max_failures_per_account", 3)
    first, ip = from_address()
    for _ in range(3):
        assert login(first, alice.email.upper(), "guess").status_code == 401  # the email is counted normalised
    elsewhere, _ = from_address()
    r = login(elsewhere, alice.email)
    assert r.status_code == 429
    assert alice.get("/api/v1/auth/me").status_code == 200  # tokens already issued keep working

    # The same recorded trail, read as of later moments: the limit lifts when the oldest failure is 15 min old.
    oldest = events(action="login_failed", actor_email=alice.email)[0].at
    with session_scope() as session:
        later = ratelimit.login_throttle(session, alice.email, ip, now=oldest + timedelta(minutes=14))
        assert later is not None and later.scope == "account" and later.retry_after == 60
        assert ratelimit.login_throttle(session, alice.email, ip, now=oldest + timedelta(minutes=15)) is None


def test_a_successful_login_starts_the_account_count_afresh(alice, from_address, settings, monkeypatch):
    monkeypatch.setattr(settings, "login_max_failures_per_account", 3)
    client, _ = from_address()
    for _ in range(2):
        assert login(client, alice.email, "guess").status_code == 401
    assert login(client, alice.email).status_code == 200
    for _ in range(2):
        assert login(client, alice.email, "guess").status_code == 401
    assert login(client, alice.email).status_code == 200  # 4 failures in the window, but 2 since the success


def test_the_address_limit_spans_emails_and_spares_other_addresses(alice, bob, from_address, settings, monkeypatch):
    monkeypatch.setattr(settings, "login_max_failures_per_ip", 4)
    spraying, ip = from_address()
    for n in range(4):  # one guess each at four accounts, two of them unknown: no account limit is near
        email = (alice.email, bob.email)[n] if n < 2 else f"nobody-{uuid.uuid4().hex[:8]}@firm.example"
        assert login(spraying, email, "Winter2021!").status_code == 401
    r = login(spraying, bob.email)  # bob's right password, from the spraying address
    assert r.status_code == 429 and r.json()["detail"].startswith("too many failed logins from this address")
    assert int(r.headers["retry-after"]) > 0
    assert len(events(action="login_failed", ip=ip)) == 4
    [throttled] = events(action="login_throttled", ip=ip)
    assert throttled.actor_email == bob.email and throttled.details["limit"] == "address"

    elsewhere, _ = from_address()
    assert login(elsewhere, bob.email).status_code == 200  # bob himself, from his own address


def test_unknown_and_known_emails_are_refused_and_throttled_alike(alice, from_address, settings, monkeypatch):
    monkeypatch.setattr(settings, "login_max_failures_per_account", 2)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@firm.example"
    replies = {}
    for email in (alice.email, unknown):
        client, _ = from_address()
        replies[email] = [login(client, email, "guess") for _ in range(3)]
    known_replies, unknown_replies = replies[alice.email], replies[unknown]
    for known, other in zip(known_replies, unknown_replies, strict=True):
        assert known.status_code == other.status_code
        assert re.sub(r"\d+", "N", known.text) == re.sub(r"\d+", "N", other.text)  # Retry-After may differ by 1
        assert set(known.headers) == set(other.headers)
    assert [r.status_code for r in known_replies] == [401, 401, 429]
    assert events(action="login_failed", actor_email=unknown)[-1].details == {"reason": "unknown email"}


def test_a_nul_in_the_email_is_an_unknown_account_not_a_server_error(from_address, make_user):
    """PostgreSQL cannot compare or store NUL: the attempt is refused and audited like any unknown email."""
    client, ip = from_address()
    r = login(client, "eve\x00@firm.example", "guess")
    assert r.status_code == 401 and r.json() == {"detail": "incorrect email or password"}
    [failed] = events(action="login_failed", ip=ip)
    assert failed.actor_email == "eve%00@firm.example" and failed.details == {"reason": "unknown email"}
    admin = make_user(admin=True)
    r = admin.post("/api/v1/users", json={"email": "eve\x00@firm.example", "password": "long enough password"})
    assert r.status_code == 422 and "NUL character" in str(r.json()["detail"])


def test_an_admin_or_the_command_line_unlocks_an_account_at_once(alice, make_user, from_address):
    """Anyone can lock an account by guessing; an administrator (or a shell, when the admin is the one locked
    out) lets it in again without waiting, and the unlock is on the trail. The address limit stays."""
    client, _ = from_address()
    alice_id = alice.get("/api/v1/auth/me").json()["id"]

    def lock() -> None:
        for _ in range(10):
            assert login(client, alice.email, "guess").status_code == 401
        assert login(client, alice.email).status_code == 429

    lock()
    admin = make_user(admin=True)
    assert alice.post(f"/api/v1/admin/users/{alice_id}/unlock").status_code == 403
    assert admin.post(f"/api/v1/admin/users/{uuid.uuid4()}/unlock").status_code == 404
    r = admin.post(f"/api/v1/admin/users/{alice_id}/unlock")
    assert (r.status_code, r.json()) == (200, {"email": alice.email, "failures_cleared": 10})
    assert login(client, alice.email).status_code == 200
    [event] = events(action="login.unlock", object_id=ratelimit.login_key(alice.email))
    assert (event.actor_email, event.object_type, event.details) == (admin.email, "login", {"failures_cleared": 10})

    lock()  # the count starts again from the unlock
    done = run_cli("user", "unlock", alice.email.upper())
    assert done.returncode == 0 and "unlocked" in done.stderr and "10 failed login(s)" in done.stderr, done.stderr
    assert login(client, alice.email).status_code == 200
    assert events(action="login.unlock")[-1].actor_email == "command line"
    missing = run_cli("user", "unlock", "nobody@firm.example")
    assert missing.returncode == 1 and "no user" in missing.stderr
