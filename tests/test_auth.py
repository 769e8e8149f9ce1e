"""Login, bearer tokens (opaque, hashed, expiring, revocable) and argon2 passwords."""

import re
from datetime import timedelta

from sqlalchemy import select, text, update

from api.config import Settings
from api.db import session_scope
from api.services import users as user_service
from models.common import utcnow
from models.user import ApiToken, User
from tests.conftest import PASSWORD


def login(client, email, password=PASSWORD):
    return client.post("/api/v1/auth/token", data={"username": email, "password": password})


def test_login_returns_a_working_opaque_bearer_token(client, alice):
    r = login(client, alice.email.upper())  # emails are case-insensitive
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "bearer" and len(body["access_token"]) >= 40
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 200 and me.json()["email"] == alice.email


def test_wrong_password_and_unknown_user_get_the_same_401(client, alice):
    wrong = login(client, alice.email, "not the password")
    unknown = login(client, "nobody@firm.example")
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json() == {"detail": "incorrect email or password"}


def test_tokens_and_passwords_are_stored_only_as_hashes(client, alice):
    token = login(client, alice.email).json()["access_token"]
    with session_scope() as session:
        hashes = session.execute(text("SELECT token_hash FROM api_tokens")).scalars().all()
        password_hash = session.execute(
            text("SELECT password_hash FROM users WHERE email = :e"), {"e": alice.email}
        ).scalar_one()
    assert token not in hashes and all(len(h) == 64 for h in hashes)
    assert password_hash.startswith("$argon2id$") and PASSWORD not in password_hash


def test_a_real_server_hashes_passwords_with_rfc_9106_parameters():
    """The suite runs with the cheapest profile; a server that is not told otherwise uses RFC 9106's."""
    assert Settings.model_fields["password_hash_profile"].default == "rfc9106_low_memory"
    made = user_service.password_hasher("rfc9106_low_memory").hash(PASSWORD)
    assert made.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert user_service.password_hasher("cheapest").check_needs_rehash(made)  # and the other way round at login


def test_a_hash_made_with_the_suites_profile_verifies_under_rfc_9106_and_is_made_again(
    client, alice, settings, monkeypatch
):
    """The cheapest profile makes ordinary argon2id hashes: a server with the real parameters accepts the password
    and re-makes the hash with its own parameters at that login."""

    def stored() -> str:
        with session_scope() as session:
            return session.execute(select(User.password_hash).where(User.email == alice.email)).scalar_one()

    cheap = stored()
    assert cheap.startswith("$argon2id$") and not cheap.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    monkeypatch.setattr(settings, "password_hash_profile", "rfc9106_low_memory")
    assert login(client, alice.email).status_code == 200
    assert stored().startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert login(client, alice.email).status_code == 200


def test_every_route_but_health_and_login_needs_a_token(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code == 200
    some_id = "00000000-0000-0000-0000-000000000000"
    checked = 0
    for path, operations in client.get("/openapi.json").json()["paths"].items():
        if path in ("/healthz", "/readyz", "/api/v1/auth/token"):
            continue
        for method in operations:
            r = client.request(method, re.sub(r"\{[a-z_]+\}", some_id, path))
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.headers["www-authenticate"] == "Bearer"
            checked += 1
    assert checked >= 15


def test_garbage_token_is_refused(client):
    r = client.get("/api/v1/cases", headers={"Authorization": "Bearer cb_not-a-real-token"})
    assert r.status_code == 401 and "token" in r.json()["detail"]


def test_revoked_token_stops_working_at_once(client, alice):
    assert alice.get("/api/v1/cases").status_code == 200
    assert alice.delete("/api/v1/auth/token").status_code == 204
    assert alice.get("/api/v1/cases").status_code == 401


def test_expired_token_is_refused(client, alice):
    with session_scope() as session:
        user_id = select(User.id).where(User.email == alice.email).scalar_subquery()
        session.execute(
            update(ApiToken).where(ApiToken.user_id == user_id).values(expires_at=utcnow() - timedelta(seconds=1))
        )
    assert alice.get("/api/v1/cases").status_code == 401


def test_only_admins_create_accounts(make_user):
    admin, plain = make_user(admin=True), make_user()
    body = {"email": "new.paralegal@firm.example", "password": "long enough password"}
    assert plain.post("/api/v1/users", json=body).status_code == 403
    r = admin.post("/api/v1/users", json=body)
    assert r.status_code == 201 and r.json()["email"] == "new.paralegal@firm.example"
    assert admin.post("/api/v1/users", json=body).status_code == 409
    assert admin.post("/api/v1/users", json=body | {"email": "no-at-sign"}).status_code == 422


def test_the_sign_in_page_links_the_api_docs(client):
    r = client.get("/login")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'href="/docs"' in r.text
