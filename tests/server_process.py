"""The real server as a separate process, on its own fresh database and data dir, for crash, CLI and browser tests."""

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import NamedTuple

import httpx
from sqlmodel import Session

from api import migrate
from api.db import make_engine
from api.services import users as user_service
from models.user import UserCreate

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent / "casebinder"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fresh_database(tmp_path: Path) -> tuple[str, callable]:
    """A new empty database of the suite's backend (PostgreSQL when the suite runs on it), migrated."""
    wanted = os.environ.get("CASEBINDER_TEST_DATABASE_URL", "")
    if wanted.startswith("postgresql"):
        from tests.conftest import _fresh_postgres

        url, drop = _fresh_postgres(wanted)
    else:
        url, drop = f"sqlite:///{tmp_path / 'server.db'}", (lambda: None)
    migrate.upgrade(url)
    return url, drop


class Account(NamedTuple):
    """An account's sign-in details; unpacks as (email, password)."""

    email: str
    password: str


def add_account(database_url: str, *, admin: bool = False, full_name: str | None = None) -> Account:
    """A new account written straight into the database at `database_url`, as `casebinder user create` would."""
    email = f"user-{uuid.uuid4().hex[:12]}@firm.example"
    password = f"passphrase {uuid.uuid4().hex[:16]}"
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            data = UserCreate(email=email, password=password, full_name=full_name, is_admin=admin)
            user_service.create_user(session, data)
            session.commit()
    finally:
        engine.dispose()
    return Account(email, password)


@dataclass
class Instance:
    """A database and data dir, and the server processes started on them (one at a time)."""

    database_url: str
    data_dir: Path
    token: str = ""
    port: int = 0
    proc: subprocess.Popen | None = None
    logs: list[Path] = field(default_factory=list)
    settings: dict[str, str] = field(default_factory=dict)  # more CASEBINDER_* variables for its processes

    @property
    def env(self) -> dict:
        from tests.s3_server import instance_env  # it imports this module

        own = {"CASEBINDER_DATABASE_URL": self.database_url, "CASEBINDER_DATA_DIR": str(self.data_dir)}
        # Its jobs run in the server itself unless its settings give it the queue (and a test its workers): no
        # worker of the session (tests/production.py) watches its database.
        own["CASEBINDER_JOB_QUEUE"] = "inprocess"
        return os.environ | own | instance_env(self.data_dir) | self.settings

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url, headers={"Authorization": f"Bearer {self.token}"}, timeout=60, verify=False
        )

    def add_user(self, *, admin: bool = False) -> str:
        """A user with an API token, written straight into this instance's database."""
        engine = make_engine(self.database_url)
        try:
            with Session(engine) as session:
                email = f"crash-{uuid.uuid4().hex[:10]}@firm.example"
                data = UserCreate(email=email, password="a long password", is_admin=admin)
                user = user_service.create_user(session, data)
                token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=1))
                session.commit()
        finally:
            engine.dispose()
        self.token = token
        return token

    def start(self, *, seconds: float = 45, cli: bool = False) -> None:
        """Serve on a free port and wait for /healthz. `cli`: through `casebinder serve`, as an operator would,
        rather than uvicorn itself."""
        self.port = free_port()
        log = self.data_dir.parent / f"server-{len(self.logs)}.log"
        self.logs.append(log)
        where = ["--host", "127.0.0.1", "--port", str(self.port)]
        cmd = [str(BIN), "serve", *where] if cli else [sys.executable, "-m", "uvicorn", "api.app:app", *where]
        # A session of its own, so a kill takes the bundle worker process with it, as a crash of the host would.
        self.proc = subprocess.Popen(
            cmd, cwd=ROOT, env=self.env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}: {log.read_text()[-2000:]}")
            try:
                if loopback_get(f"{self.base_url}/healthz").status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"the server did not answer within {seconds} s: {log.read_text()[-2000:]}")

    def stop(self, *, seconds: float = 30) -> None:
        """SIGTERM the server and everything it started, as a service manager would; SIGKILL if it lingers."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            pass
        self.kill()  # whatever is left of its process group

    def log_tail(self, chars: int = 4000) -> str:
        """The end of the newest server log: what a failing test shows of the server's side."""
        return self.logs[-1].read_text(errors="replace")[-chars:] if self.logs and self.logs[-1].exists() else ""

    def kill(self) -> None:
        """SIGKILL the server and everything it started; no shutdown code runs."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)
        self.proc = None

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), *args], cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )


def case_with_an_exhibit(
    http: httpx.Client,
    content: bytes = b"a note\n",
    *,
    case_title: str = "Acme v. Seller",
    filename: str = "note.txt",
    kind: str = "other",
    title: str = "A note",
) -> tuple[dict, dict]:
    """A new case with one exhibit uploaded over HTTP to a server instance: (the case, the evidence item)."""
    case = http.post("/api/v1/cases", json={"title": case_title, "case_type": "lanham_act"}).json()
    r = http.post(
        f"/api/v1/cases/{case['id']}/evidence", files={"file": (filename, content)}, data={"kind": kind, "title": title}
    )
    assert r.status_code == 201, r.text
    return case, r.json()


def loopback_get(url: str, timeout: float = 2) -> httpx.Response:
    """GET a plain-HTTP URL on loopback. Without verify=False, each client loads the CA bundle for TLS it never
    uses: some 25 ms of CPU, and polling loops make hundreds of them."""
    with httpx.Client(verify=False, timeout=timeout) as client:
        return client.get(url)


def wait_for(predicate, *, seconds: float, what: str, interval: float = 0.05):
    """Poll until predicate() is truthy; fail with `what` after `seconds`."""
    deadline = time.monotonic() + seconds
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {seconds} s waiting for {what}")
        time.sleep(interval)


@contextmanager
def serving(tmp_path: Path) -> Iterator[Instance]:
    """A server process on a new database and data dir under `tmp_path`, with a user and token; killed after."""
    url, drop = fresh_database(tmp_path)
    server = Instance(url, tmp_path / "blobs")
    server.add_user()
    server.start()
    try:
        yield server
    finally:
        server.kill()
        drop()


def finished_bundle(http: httpx.Client, bundle_id: str, *, seconds: float = 180) -> dict:
    """The bundle once its build has ended, done or failed."""
    return wait_for(
        lambda: (b := http.get(f"/api/v1/bundles/{bundle_id}").json())["status"] in ("done", "failed") and b,
        seconds=seconds,
        what=f"bundle {bundle_id} to finish building",
        interval=0.1,
    )
