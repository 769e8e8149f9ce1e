"""The production setup on loopback, started by the load test itself: a fresh PostgreSQL database on the machine's
server (dropped afterwards), SeaweedFS (as tests/s3_server.py starts it), `casebinder migrate`, two `casebinder
serve` nodes and two `casebinder worker` processes, each process with its own empty data dir and a session of its
own (a SIGKILL takes whatever it started with it). Also what the faults need: kill and restart a node, stop and
restart SeaweedFS on its ports, end every PostgreSQL connection, and the RSS of each process from /proc."""

import os
import signal
import subprocess
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import psycopg

from tests.s3_server import S3Server, start_weed, stop_weed
from tests.server_process import BIN, ROOT, free_port

PAGE = os.sysconf("SC_PAGE_SIZE")
POOL_SIZE, POOL_OVERFLOW = "5", "5"


@dataclass
class Proc:
    """One casebinder (or weed) process: how to start it again, and the running one."""

    name: str
    command: list[str]
    env: dict[str, str]
    log: Path
    cwd: Path = ROOT
    popen: subprocess.Popen | None = None
    port: int = 0

    def start(self) -> None:
        out = self.log.open("ab")
        self.popen = subprocess.Popen(
            self.command, cwd=self.cwd, env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )

    def signal_group(self, sig: int) -> None:
        if self.popen is not None:
            try:
                os.killpg(self.popen.pid, sig)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        """SIGKILL the process and everything it started: no shutdown code runs."""
        self.signal_group(signal.SIGKILL)
        if self.popen is not None:
            self.popen.wait(timeout=30)

    def stop(self, seconds: float = 20) -> None:
        self.signal_group(signal.SIGTERM)
        if self.popen is not None:
            try:
                self.popen.wait(timeout=seconds)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Cluster:
    root: Path
    postgres_url: str
    database_url: str = ""
    s3: S3Server | None = None
    weed: Proc | None = None
    nodes: list[Proc] = field(default_factory=list)
    workers: list[Proc] = field(default_factory=list)
    _drop_database: object = None
    _conn: psycopg.Connection | None = None
    _sql_lock: threading.Lock = field(default_factory=threading.Lock)

    # -- start and stop -------------------------------------------------------------------------------------------

    def start(self) -> None:
        from tests.conftest import _fresh_postgres

        self.database_url, self._drop_database = _fresh_postgres(self.postgres_url)
        weed_root = self.root / "seaweedfs"
        weed_root.mkdir()
        popen, self.s3 = start_weed(weed_root)
        self.weed = Proc("seaweedfs", list(popen.args), dict(os.environ), weed_root / "weed.log", cwd=weed_root)
        self.weed.env |= {"GOMEMLIMIT": "96MiB", "GOGC": "50"}
        self.weed.popen = popen
        self.weed.port = int(self.s3.endpoint.rsplit(":", 1)[1])
        migrated = subprocess.run(
            [str(BIN), "migrate"], cwd=ROOT, env=self.env("migrate"), capture_output=True, text=True, timeout=300
        )
        if migrated.returncode != 0:
            raise RuntimeError(f"casebinder migrate failed: {migrated.stderr}")
        for number in (1, 2):
            port = free_port()
            node = Proc(
                f"api-{number}",
                [str(BIN), "serve", "--host", "127.0.0.1", "--port", str(port)],
                self.env(f"api-{number}"),
                self.root / f"api-{number}.log",
                port=port,
            )
            self.nodes.append(node)
            node.start()
            worker = Proc(
                f"worker-{number}",
                [str(BIN), "worker", "--name", f"worker-{number}"],
                self.env(f"worker-{number}"),
                self.root / f"worker-{number}.log",
            )
            self.workers.append(worker)
            worker.start()
        for node in self.nodes:
            self.wait_healthy(node)

    def env(self, name: str) -> dict[str, str]:
        data_dir = self.root / "data" / name  # every process its own empty data dir
        data_dir.mkdir(parents=True, exist_ok=True)
        return (
            dict(os.environ)
            | self.s3.env()
            | {
                "CASEBINDER_DATABASE_URL": self.database_url,
                "CASEBINDER_DATA_DIR": str(data_dir),
                "CASEBINDER_JOB_QUEUE": "procrastinate",
                # The machine's PostgreSQL (max_connections 100) is shared with others' test suites: each node
                # keeps a small pool, which also shows that uploads do not hold connections while bodies arrive.
                "CASEBINDER_DATABASE_POOL_SIZE": POOL_SIZE,
                "CASEBINDER_DATABASE_MAX_OVERFLOW": POOL_OVERFLOW,
            }
        )

    def wait_healthy(self, node: Proc, seconds: float = 60) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if node.popen.poll() is not None:
                raise RuntimeError(f"{node.name} exited: {node.log.read_text(errors='replace')[-1500:]}")
            try:
                if httpx.get(f"{node.base_url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{node.name} did not answer within {seconds} s: see {node.log}")

    def close(self) -> None:
        for proc in [*self.nodes, *self.workers]:
            proc.kill()
        if self._conn is not None:
            self._conn.close()
        if self.weed is not None and self.weed.popen is not None:
            stop_weed(self.weed.popen)
        if self._drop_database is not None:
            self._drop_database()

    # -- faults ---------------------------------------------------------------------------------------------------

    def stop_weed(self) -> None:
        stop_weed(self.weed.popen)

    def restart_weed(self, seconds: float = 60) -> None:
        """SeaweedFS again on the same ports, data dir and credentials; back when its S3 port lists the bucket."""
        self.weed.start()
        client = self.s3.client()
        deadline = time.monotonic() + seconds
        while True:
            try:
                client.head_bucket(Bucket=self.s3.bucket)
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    def cli(self, *args: str, timeout: float = 1800) -> subprocess.CompletedProcess:
        return subprocess.run(
            [str(BIN), *args], cwd=ROOT, env=self.env("cli"), capture_output=True, text=True, timeout=timeout
        )

    def sql(self, query: str, *params) -> list[tuple]:
        """On one connection of the load test's own (the server's connections are shared with others on the
        machine), made again if the fault ended it."""
        with self._sql_lock:
            for attempt in (1, 2):
                try:
                    if self._conn is None or self._conn.closed:
                        url = self.database_url.replace("postgresql+psycopg://", "postgresql://")
                        self._conn = psycopg.connect(url, autocommit=True)
                    cur = self._conn.execute(query, params)
                    return cur.fetchall() if cur.description else []
                except psycopg.OperationalError:
                    self._conn = None
                    if attempt == 2:
                        raise
            return []

    def terminate_connections(self) -> int:
        """End every other connection to the database, as a PostgreSQL restart or failover would."""
        name = self.database_url.rsplit("/", 1)[1]
        found = self.sql(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
            name,
        )
        return len(found)

    def add_users(self, count: int) -> list[tuple[str, str]]:
        """`count` accounts with an API token each, written straight into the database: (email, token)."""
        from sqlmodel import Session

        from api.db import make_engine
        from api.services import users as user_service
        from models.user import UserCreate

        engine = make_engine(self.database_url)
        made = []
        try:
            with Session(engine) as session:
                for number in range(count):
                    email = f"lawyer-{number}-{uuid.uuid4().hex[:6]}@firm.example"
                    data = UserCreate(
                        email=email, password=f"passphrase {uuid.uuid4().hex}", full_name=f"Lawyer {number}"
                    )
                    user = user_service.create_user(session, data)
                    token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=6))
                    made.append((email, token))
                session.commit()
        finally:
            engine.dispose()
        return made

    # -- memory ---------------------------------------------------------------------------------------------------

    def rss_mb(self) -> dict[str, float]:
        """Resident memory of each process with everything in its session (a worker's build process), in MB."""
        procs = [p for p in (*self.nodes, *self.workers, self.weed) if p and p.popen and p.popen.poll() is None]
        by_group = {p.popen.pid: p.name for p in procs}
        totals = dict.fromkeys(by_group.values(), 0.0)
        totals["load generator"] = 0.0
        me = os.getpid()
        for entry in os.scandir("/proc"):
            if not entry.name.isdigit():
                continue
            try:
                stat = Path(entry.path, "stat").read_text()
                statm = Path(entry.path, "statm").read_text()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            session_id = int(fields[3])  # field 6: the session id
            rss = int(statm.split()[1]) * PAGE / 1e6
            if session_id in by_group:
                totals[by_group[session_id]] += rss
            elif int(entry.name) == me:
                totals["load generator"] += rss
        return totals
