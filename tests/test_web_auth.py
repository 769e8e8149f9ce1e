"""Signing in to the web app: sessions on the server, CSRF on every form, the API's login limits, and the headers
every page is served with."""

import re
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from api.db import session_scope
from api.services import web_sessions
from api.web.security import CSP
from models.user import User
from models.web_session import WebSession
from tests.conftest import PASSWORD
from tests.web_support import csrf_of, login_token, page_client, sign_in


def _post_login(client: TestClient, email: str, password: str, **extra):
    token = login_token(client.get("/login").text)
    data = {"email": email, "password": password, "login_token": token, "next": "/"} | extra
    return client.post("/login", data=data, follow_redirects=False)


def _session_rows(email: str) -> list[WebSession]:
    from sqlmodel import col, select

    with session_scope() as session:
        user = session.exec(select(User).where(User.email == email)).one()
        return list(session.exec(select(WebSession).where(col(WebSession.user_id) == user.id)).all())


def test_pages_ask_to_sign_in_and_come_back_after(app, alice):
    with page_client(app) as client:
        response = client.get("/cases/new", follow_redirects=False)
        assert response.status_code == 303
        assert response.headers["location"] == "/login?next=/cases/new"
        form = client.get(response.headers["location"])
        assert 'name="next" value="/cases/new"' in form.text
        signed = client.post(
            "/login",
            data={
                "email": alice.email,
                "password": PASSWORD,
                "login_token": login_token(form.text),
                "next": "/cases/new",
            },
            follow_redirects=False,
        )
        assert signed.status_code == 303 and signed.headers["location"] == "/cases/new"


@pytest.mark.parametrize(
    "target", ["https://evil.example/", "//evil.example/x", "/\\evil.example", "javascript:alert(1)"]
)
def test_sign_in_never_sends_a_person_to_another_site(app, alice, target):
    with page_client(app) as client:
        response = _post_login(client, alice.email, PASSWORD, next=target)
        assert response.status_code == 303
        assert response.headers["location"] == "/"


def test_the_session_cookie_is_opaque_http_only_and_lax_and_only_its_digest_is_stored(app, alice):
    with page_client(app) as client:
        response = _post_login(client, alice.email, PASSWORD)
        cookie = response.headers["set-cookie"]
        assert cookie.startswith("casebinder_session=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
        assert "Secure" not in cookie  # served over plain HTTP here
        session_id = client.cookies["casebinder_session"]
    rows = _session_rows(alice.email)
    assert [row.id_hash for row in rows] == [web_sessions.digest(session_id)]
    assert session_id not in {row.id_hash for row in rows}


def test_over_https_the_cookie_is_secure(app, alice):
    with page_client(app, "https://casebinder.example") as client:
        response = _post_login(client, alice.email, PASSWORD)
        assert "Secure" in response.headers["set-cookie"]


def test_a_wrong_password_says_so_and_starts_no_session(app, alice):
    with page_client(app) as client:
        response = _post_login(client, alice.email, "not the password")
        assert response.status_code == 401
        assert "Incorrect email or password." in response.text
        assert "casebinder_session" not in client.cookies
    assert _session_rows(alice.email) == []


def test_the_api_login_limits_apply_to_the_form(app, make_user, monkeypatch, settings):
    actor = make_user()
    monkeypatch.setattr(settings, "login_max_failures_per_account", 3)
    with page_client(app) as client:
        for _ in range(3):
            assert _post_login(client, actor.email, "wrong").status_code == 401
        locked = _post_login(client, actor.email, PASSWORD)  # even the right password, while locked
        assert locked.status_code == 429
        assert "try again" in locked.text.lower()
        assert "casebinder_session" not in client.cookies


def test_a_sign_in_form_from_another_site_is_refused(app, alice):
    with page_client(app) as client:
        token = login_token(client.get("/login").text)
        data = {"email": alice.email, "password": PASSWORD, "login_token": token}
        forged = client.post("/login", data=data, headers={"Origin": "https://evil.example"}, follow_redirects=False)
        assert forged.status_code == 403
        no_token = client.post("/login", data=data | {"login_token": "guess"}, follow_redirects=False)
        assert no_token.status_code == 403
        assert "casebinder_session" not in client.cookies


def test_each_sign_in_makes_a_new_session_and_ends_the_old_one(app, alice):
    with page_client(app) as client:
        _post_login(client, alice.email, PASSWORD)
        first = client.cookies["casebinder_session"]
        _post_login(client, alice.email, PASSWORD)
        second = client.cookies["casebinder_session"]
    assert first != second
    rows = {row.id_hash: row for row in _session_rows(alice.email)}
    assert rows[web_sessions.digest(first)].ended_at is not None
    assert rows[web_sessions.digest(second)].ended_at is None


def test_a_session_id_planted_before_sign_in_is_not_used(app, alice):
    with page_client(app) as client:
        client.cookies.set("casebinder_session", "planted-by-an-attacker")
        response = _post_login(client, alice.email, PASSWORD)
        issued = response.headers["set-cookie"].split(";")[0].split("=", 1)[1]
        assert issued != "planted-by-an-attacker"
    with page_client(app) as attacker:
        attacker.cookies.set("casebinder_session", "planted-by-an-attacker")
        assert attacker.get("/", follow_redirects=False).status_code == 303


def test_sign_out_ends_the_session_on_the_server(app, alice):
    browser = sign_in(app, alice.email)
    stolen = browser.client.cookies["casebinder_session"]
    out = browser.post("/logout")
    assert out.status_code == 303 and out.headers["location"] == "/login"
    with page_client(app) as replay:
        replay.cookies.set("casebinder_session", stolen)
        assert replay.get("/", follow_redirects=False).status_code == 303
    browser.close()


def test_an_idle_or_old_session_ends(app, alice):
    browser = sign_in(app, alice.email)
    digest = web_sessions.digest(browser.client.cookies["casebinder_session"])
    with session_scope() as session:
        row = session.exec(__import__("sqlmodel").select(WebSession).where(WebSession.id_hash == digest)).one()
        session.execute(
            update(WebSession)
            .where(WebSession.id == row.id)  # type: ignore[arg-type]
            .values(last_seen_at=row.last_seen_at - timedelta(minutes=31))
        )
    assert browser.get("/", follow_redirects=False).status_code == 303
    browser.close()

    browser = sign_in(app, alice.email)
    digest = web_sessions.digest(browser.client.cookies["casebinder_session"])
    with session_scope() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.id_hash == digest)  # type: ignore[arg-type]
            .values(expires_at=web_sessions.utcnow() - timedelta(seconds=1))
        )
    assert browser.get("/", follow_redirects=False).status_code == 303
    browser.close()


def test_a_form_without_the_csrf_token_or_from_another_site_is_refused(app, alice):
    browser = sign_in(app, alice.email)
    body = {"title": "Acme v. Mpow", "case_type": "lanham_act"}
    assert browser.post("/cases/new", body, csrf=False).status_code == 403
    assert browser.post("/cases/new", body | {"csrf_token": "0" * 64}, csrf=False).status_code == 403
    cross = browser.post("/cases/new", body, headers={"Origin": "https://evil.example"})
    assert cross.status_code == 403
    assert "another site" in cross.text
    fetched = browser.post("/cases/new", body, headers={"Sec-Fetch-Site": "cross-site"})
    assert fetched.status_code == 403
    assert "Acme v. Mpow" not in browser.get("/").text
    # Another person's token does not work in this session either.
    other = sign_in(app, alice.email)
    assert browser.post("/cases/new", body | {"csrf_token": other.csrf}, csrf=False).status_code == 403
    ok = browser.post("/cases/new", body)
    assert ok.status_code == 303
    browser.close()
    other.close()


def test_every_page_has_a_strict_csp_and_no_inline_script_or_style(app, alice):
    browser = sign_in(app, alice.email)
    case = alice.make_case()
    for path in ("/login", "/", "/cases/new", f"/cases/{case['id']}", "/no-such-page"):
        response = browser.get(path)
        assert response.headers["content-security-policy"] == CSP
        assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["cache-control"] == "no-store"
        html = response.text
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), f"inline script on {path}"
        assert not re.search(r"\sstyle=", html), f"inline style on {path}"
        assert not re.search(r"\son[a-z]+=", html), f"inline handler on {path}"
        assert "<style" not in html
    # The API keeps its own: JSON, and the docs page its scripts.
    assert "content-security-policy" not in browser.get("/healthz").headers
    browser.close()


def test_the_api_keeps_bearer_tokens_and_a_session_cookie_is_no_token(app, alice):
    browser = sign_in(app, alice.email)
    response = browser.get("/api/v1/auth/me")
    assert response.status_code == 401
    assert alice.get("/api/v1/auth/me").status_code == 200
    browser.close()


def test_csrf_token_is_on_every_signed_in_page(app, alice):
    browser = sign_in(app, alice.email)
    home = browser.get("/").text
    assert csrf_of(home) == browser.csrf
    assert f'"X-CSRF-Token": "{browser.csrf}"' in home.replace("&#34;", '"')
    browser.close()


def test_sessions_ended_over_a_day_ago_go_at_the_next_sign_in(app, alice):
    first = sign_in(app, alice.email)
    first.post("/logout")
    second = sign_in(app, alice.email)
    assert len(_session_rows(alice.email)) == 2  # the ended one is kept for a day
    with session_scope() as session:
        session.execute(
            update(WebSession)
            .where(WebSession.ended_at.is_not(None))  # type: ignore[union-attr]
            .values(ended_at=web_sessions.utcnow() - timedelta(days=2))
        )
    third = sign_in(app, alice.email)
    rows = _session_rows(alice.email)
    assert len(rows) == 2 and all(row.ended_at is None for row in rows)
    for browser in (first, second, third):
        browser.close()
