"""Administration in the web app, as an administrator uses it: accounts (create one, disable and enable its sign-in,
clear its failed sign-ins) and integrity checks (start one, follow it to its end, read its findings); and the
same account actions over the API, which share their service."""

import os
import re
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

from fastapi.testclient import TestClient

from api.config import get_settings
from api.deps import get_blob_store
from api.storage import LocalBlobStore
from tests.conftest import PASSWORD
from tests.web_support import BASE_URL, login_token

HOSTILE = '<script>alert("x")</script> <img src=x onerror=alert(1)> מרים 山田 محمد'


def account(admin_actor, email: str) -> dict:
    """The account as GET /api/v1/admin/users shows it."""
    r = admin_actor.get("/api/v1/admin/users", params={"search": email})
    assert r.status_code == 200, r.text
    [found] = [u for u in r.json()["items"] if u["email"] == email]
    return found


def account_row(html: str, email: str) -> str:
    match = re.search(rf'<tr id="account-[^"]+" data-account="{re.escape(email)}">(.*?)</tr>', html, re.S)
    assert match, f"no row for {email}"
    return match.group(1)


def failed_sign_in(client, email: str) -> int:
    form = client.get("/login")
    r = client.post(
        "/login", data={"email": email, "password": "wrong password", "login_token": login_token(form.text)}
    )
    return r.status_code


def test_an_administrator_creates_an_account_that_can_then_sign_in(make_user, browsers):
    admin = make_user(admin=True)
    page = browsers(admin)
    email = f"new-{uuid.uuid4().hex[:10]}@firm.example"
    form = {"email": email.upper(), "full_name": HOSTILE, "password": "a long enough password"}

    r = page.post("/admin/users", form)
    assert r.status_code == 303 and r.headers["location"] == "/admin?done=created"
    listed = page.get("/admin", params={"search": email})
    assert "Account created." in page.get(r.headers["location"]).text
    row = account_row(listed.text, email)
    assert "Can sign in" in row and "Member" in row and "Administrator" not in row
    assert "<script>alert" not in listed.text and "&lt;script&gt;alert" in listed.text
    assert account(admin, email)["full_name"] == HOSTILE and account(admin, email)["is_admin"] is False

    newcomer = browsers(email, "a long enough password")
    assert newcomer.get("/").status_code == 200
    assert 'href="/admin"' not in newcomer.get("/").text  # no Administration link for a member


def test_creating_an_account_says_what_is_wrong(make_user, browsers):
    admin = make_user(admin=True)
    page = browsers(admin)
    taken = page.post("/admin/users", {"email": admin.email, "password": "a long enough password"})
    assert taken.status_code == 422 and f"A user with email {admin.email} already exists." in taken.text
    short = page.post("/admin/users", {"email": "short@firm.example", "password": "abc", "is_admin": "yes"})
    assert short.status_code == 422 and "String should have at least 8 characters" in short.text
    assert 'id="new-admin" name="is_admin" type="checkbox" value="yes" checked' in short.text  # kept for a retry
    assert "abc" not in re.findall(r'name="password"[^>]*>', short.text)[0]  # a password is never sent back
    bad = page.post("/admin/users", {"email": "not an address", "password": "a long enough password"})
    assert bad.status_code == 422 and "Not a valid email address" in bad.text


def test_administration_is_for_administrators_only(alice, bob, make_user, browsers):
    member = browsers(alice)
    bob_id = account(make_user(admin=True), bob.email)["id"]
    assert member.get("/admin").status_code == 403
    assert "This needs an administrator account." in member.get("/admin").text
    assert member.get("/admin/verify-runs").status_code == 403
    email = f"sneaky-{uuid.uuid4().hex[:8]}@firm.example"
    forced = [
        member.post("/admin/users", {"email": email, "password": "a long enough password", "is_admin": "yes"}),
        member.post(f"/admin/users/{bob_id}/disable"),
        member.post(f"/admin/users/{bob_id}/unlock"),
        member.post("/admin/verify-runs"),
    ]
    assert [r.status_code for r in forced] == [403, 403, 403, 403]
    admin = make_user(admin=True)
    assert admin.get("/api/v1/admin/users", params={"search": email}).json()["items"] == []
    assert account(admin, bob.email)["is_active"] is True


def test_a_form_without_its_csrf_token_is_refused(make_user, bob, browsers):
    admin = make_user(admin=True)
    bob_id = account(admin, bob.email)["id"]
    r = browsers(admin).post(f"/admin/users/{bob_id}/disable", csrf=False)
    assert r.status_code == 403 and account(admin, bob.email)["is_active"] is True


def test_disabling_sign_in_ends_the_persons_sessions_at_once(make_user, bob, browsers):
    admin = make_user(admin=True)
    page, signed_in = browsers(admin), browsers(bob)
    bob_id = account(admin, bob.email)["id"]
    assert signed_in.get("/").status_code == 200

    r = page.post(f"/admin/users/{bob_id}/disable")
    assert r.status_code == 303 and "Sign-in disabled" in page.get(r.headers["location"]).text
    assert "Sign-in disabled" in account_row(page.get("/admin", params={"search": bob.email}).text, bob.email)
    refused = signed_in.get("/", follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login"
    assert bob.get("/api/v1/auth/me").status_code == 401  # the API token is revoked too
    form = signed_in.client.get("/login")
    again = signed_in.client.post(
        "/login", data={"email": bob.email, "password": PASSWORD, "login_token": login_token(form.text)}
    )
    assert again.status_code == 401 and "Incorrect email or password." in again.text

    r = page.htmx("POST", f"/admin/users/{bob_id}/enable")
    assert r.status_code == 200 and "<html" not in r.text and "Can sign in" in account_row(r.text, bob.email)
    assert signed_in.get("/", follow_redirects=False).status_code == 303  # the old session stays ended
    assert browsers(bob).get("/").status_code == 200  # a new sign-in works


def test_an_administrator_cannot_disable_their_own_sign_in(make_user, browsers):
    admin = make_user(admin=True)
    page = browsers(admin)
    me = account(admin, admin.email)
    assert "Disable sign-in" not in account_row(page.get("/admin", params={"search": admin.email}).text, admin.email)
    r = page.post(f"/admin/users/{me['id']}/disable")
    assert r.status_code == 409 and "You cannot disable your own account: another administrator must." in r.text
    assert page.get("/").status_code == 200
    api = admin.post(f"/api/v1/admin/users/{me['id']}/disable")
    assert api.status_code == 409 and api.json()["code"] == "own_account"


def test_clearing_failed_sign_ins_lets_a_locked_person_in(app, make_user, bob, browsers):
    admin = make_user(admin=True)
    page = browsers(admin)
    bob_id = account(admin, bob.email)["id"]
    attempts = TestClient(app, base_url=BASE_URL)  # not entered: the app's runners keep running
    try:
        codes = [failed_sign_in(attempts, bob.email) for _ in range(get_settings().login_max_failures_per_account)]
        assert set(codes) == {401} and failed_sign_in(attempts, bob.email) == 429
    finally:
        attempts.close()
    row = account_row(page.get("/admin", params={"search": bob.email}).text, bob.email)
    assert "Locked: 10 failed sign-ins" in row and "Clear failed sign-ins" in row

    r = page.post(f"/admin/users/{bob_id}/unlock")
    assert r.status_code == 303 and "Failed sign-ins cleared" in page.get(r.headers["location"]).text
    row = account_row(page.get("/admin", params={"search": bob.email}).text, bob.email)
    assert "Locked" not in row and "Clear failed sign-ins" not in row
    assert browsers(bob).get("/").status_code == 200


def test_the_account_api_lists_disables_and_enables(make_user, bob):
    admin = make_user(admin=True)
    bob_id = account(admin, bob.email)["id"]
    assert bob.get("/api/v1/admin/users").status_code == 403
    r = admin.post(f"/api/v1/admin/users/{bob_id}/disable")
    assert r.status_code == 200 and r.json()["is_active"] is False and "password_hash" not in r.json()
    assert bob.get("/api/v1/auth/me").status_code == 401
    assert admin.post(f"/api/v1/admin/users/{uuid.uuid4()}/enable").status_code == 404
    r = admin.post(f"/api/v1/admin/users/{bob_id}/enable")
    assert r.status_code == 200 and r.json()["is_active"] is True
    assert bob.get("/api/v1/auth/me").status_code == 401  # the token revoked by the disable stays revoked
    page_one = admin.get("/api/v1/admin/users", params={"limit": 1})
    assert page_one.status_code == 200 and len(page_one.json()["items"]) == 1 and page_one.json()["next_cursor"]


# Integrity checks


def progress(browser, run_url: str) -> str:
    """Poll the run's progress fragment, as its page does, until the run has finished; then return it."""
    while True:
        r = browser.htmx("GET", run_url, headers={"HX-Target": "run-progress"})
        assert r.status_code == 200 and "<html" not in r.text
        if 'hx-trigger="every' not in r.text:
            return r.text
        time.sleep(0.1)


@contextmanager
def one_byte_flipped(sha256: str):
    """The stored original damaged for the block's duration: its file on the local store, its object in S3."""
    store = get_blob_store()
    if isinstance(store, LocalBlobStore):
        path = Path(store.location(sha256))
        original = path.read_bytes()
        os.chmod(path, 0o640)  # originals are stored read-only
        try:
            path.write_bytes(bytes([original[0] ^ 1]) + original[1:])
            yield
        finally:
            path.write_bytes(original)
            os.chmod(path, 0o440)
        return
    key = store.key_for(sha256)
    original = store.client.get_object(Bucket=store.bucket, Key=key)["Body"].read()
    store.client.put_object(Bucket=store.bucket, Key=key, Body=bytes([original[0] ^ 1]) + original[1:])
    try:
        yield
    finally:
        store.client.put_object(Bucket=store.bucket, Key=key, Body=original)


def test_an_integrity_check_started_from_the_page_runs_to_its_end_and_says_what_it_found(alice, make_user, browsers):
    admin = make_user(admin=True)
    case = alice.make_case()
    item = alice.upload(case["id"], b"an original, then one flipped byte " + uuid.uuid4().bytes).json()
    page = browsers(admin)
    with one_byte_flipped(item["sha256"]):
        started = page.post("/admin/verify-runs")
        assert started.status_code == 303
        run_url = started.headers["location"]
        assert re.fullmatch(r"/admin/verify-runs/[0-9a-f-]{36}", run_url)
        first = page.get(run_url)
        assert first.status_code == 200 and admin.email in first.text
        assert (
            re.search(r'hx-get="/admin/verify-runs/[^"]+" hx-trigger="every 2s"', first.text)
            or "Finished" in first.text
        )
        done = progress(page, run_url)
    assert "Finished: problems found" in done and '<div id="status" hx-swap-oob="innerHTML">' in done
    damaged = re.search(r'<tr data-problem="corrupt">(.*?)</tr>', done, re.S)
    assert damaged and "Stored file damaged" in damaged.group(1) and f"evidence {item['id']}" in damaged.group(1)
    run_id = run_url.rsplit("/", 1)[1]
    api = admin.get(f"/api/v1/admin/verify-runs/{run_id}").json()
    assert api["status"] == "done" and any(f["problem"] == "corrupt" for f in api["result"]["findings"])
    listed = page.get("/admin/verify-runs")
    row = re.search(rf'<tr id="run-{run_id}" data-status="done">(.*?)</tr>', listed.text, re.S)
    assert row and "problems found" in row.group(1) and f">{len(api['result']['findings'])}<" in row.group(1)


def test_a_run_that_does_not_exist_is_the_not_found_page(make_user, browsers):
    page = browsers(make_user(admin=True))
    assert page.get(f"/admin/verify-runs/{uuid.uuid4()}").status_code == 404
    assert page.get("/admin/verify-runs/not-a-run").status_code == 404
