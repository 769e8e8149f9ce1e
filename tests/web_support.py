"""Signing in to the web app as a test's actor: a browser-like client of its own (its own cookie jar), with the
session's CSRF token at hand, talking real HTTP to the app."""

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from fastapi.testclient import TestClient

from tests.conftest import PASSWORD

BASE_URL = "http://127.0.0.1:8000"
_LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def login_token(html: str) -> str:
    match = _LOGIN_TOKEN.search(html)
    assert match, "no sign-in token on the page"
    return match.group(1)


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


@dataclass
class Browser:
    """A signed-in web client: `get` pages; `post` forms with the CSRF token added."""

    client: TestClient
    email: str
    csrf: str

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, *, csrf: bool = True, **kw):
        body = dict(data or {})
        if csrf:
            body.setdefault("csrf_token", self.csrf)
        return self.client.post(path, data=body, follow_redirects=False, **kw)

    def htmx(self, method: str, path: str, **kw):
        headers = {"HX-Request": "true", "X-CSRF-Token": self.csrf} | kw.pop("headers", {})
        return self.client.request(method, path, headers=headers, **kw)

    def close(self) -> None:
        self.client.close()


@contextmanager
def page_client(app, base_url: str = BASE_URL) -> Iterator[TestClient]:
    """A browser-like client of its own. Not `with TestClient(...)`: that would run the app's start-up and shut-down
    around it, and the shut-down stops the background runners every later test needs."""
    client = TestClient(app, base_url=base_url)
    try:
        yield client
    finally:
        client.close()


def sign_in(app, email: str, password: str = PASSWORD, *, next: str = "/") -> Browser:
    """A new client that signs in through the form, as a person would."""
    client = TestClient(app, base_url=BASE_URL)
    form = client.get("/login")
    response = client.post(
        "/login",
        data={"email": email, "password": password, "login_token": login_token(form.text), "next": next},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    home = client.get("/")
    assert home.status_code == 200, home.text
    return Browser(client, email, csrf_of(home.text))
