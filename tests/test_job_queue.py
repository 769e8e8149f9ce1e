"""The PostgreSQL job queue: `casebinder serve` only queues, `casebinder worker` processes run the jobs, and a job
whose worker was killed is retried by another worker and ends as it would have.

Real processes on a real PostgreSQL database; the queue needs PostgreSQL, so these run on the PostgreSQL leg.
"""

import hashlib
import os
import signal
import subprocess
import time
import uuid

import pytest
from sqlalchemy import text
from sqlmodel import Session

from api.db import make_engine
from api.jobqueue import handoff
from api.jobqueue import schema as queue_schema
from api.locks import PgLease, lock_key
from tests.helpers import rows
from tests.server_process import BIN, ROOT, Instance, case_with_an_exhibit, finished_bundle, fresh_database, wait_for
from tests.test_crash import assert_store_consistent, start_build

ON_POSTGRES = os.environ.get("CASEBINDER_TEST_DATABASE_URL", "").startswith("postgresql")
pytestmark = pytest.mark.slow
needs_postgres = pytest.mark.skipif(
    not ON_POSTGRES, reason="the job queue lives in PostgreSQL: runs on the PostgreSQL leg"
)
# Workers beat every second and are taken for dead after five silent seconds, found by a sweep every two: the
# defaults (10, 30 and 15 s) retry a dead worker's job within 45 s; these keep the tests short.
SWEEP_SECONDS = 2
QUEUE = {
    "CASEBINDER_JOB_QUEUE": "procrastinate",
    "CASEBINDER_QUEUE_HEARTBEAT_SECONDS": "1",
    "CASEBINDER_QUEUE_STALLED_SECONDS": "5",
    "CASEBINDER_QUEUE_SWEEP_SECONDS": str(SWEEP_SECONDS),
}


class Workers:
    """`casebinder worker` processes on an instance's database, each in a session of its own."""

    def __init__(self, instance: Instance):
        self.instance = instance
        self.procs: dict[str, subprocess.Popen] = {}

    def start(self, name: str) -> subprocess.Popen:
        log = self.instance.data_dir.parent / f"worker-{name}.log"
        proc = subprocess.Popen(
            [str(BIN), "worker", "--name", name],
            cwd=ROOT,
            env=self.instance.env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[name] = proc
        return proc

    def log(self, name: str) -> str:
        return (self.instance.data_dir.parent / f"worker-{name}.log").read_text(errors="replace")

    def kill(self, name: str) -> None:
        """SIGKILL the worker and everything it started (its build process): no shutdown code runs."""
        proc = self.procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def stop_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


@pytest.fixture
def queued(tmp_path):
    """A database migrated for the queue, a server on it, and a place for workers. The queue's tables are made by
    the code `casebinder migrate` runs for them (its own test runs the command), without a command's start-up."""
    url, drop = fresh_database(tmp_path)
    instance = Instance(url, tmp_path / "blobs", settings=dict(QUEUE))
    instance.data_dir.mkdir(parents=True)  # as the command would
    engine = make_engine(url)
    try:
        queue_schema.apply(engine)
    finally:
        engine.dispose()
    instance.add_user()
    workers = Workers(instance)
    try:
        yield instance, workers
    finally:
        workers.stop_all()
        instance.kill()
        drop()


def queue_jobs(instance: Instance) -> list[tuple]:
    return rows(instance, "SELECT queue_name, status::text, args->>'job_id' FROM procrastinate_jobs ORDER BY id")


def lease_holder_pid(instance: Instance, name: str) -> int | None:
    """The pid of the process holding the lease `name`, from its connection's application_name."""
    found = rows(
        instance,
        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
        "WHERE l.locktype = 'advisory' AND l.granted "
        f"AND ((l.classid::bigint << 32) | l.objid::bigint) = {lock_key(name)}",
    )
    return int(found[0][0].rsplit(":", 1)[1]) if found else None


def queue_a_bundle(http) -> dict:
    """A case with one exhibit, and its bundle, queued over HTTP."""
    case, _ = case_with_an_exhibit(
        http, b"five stars, written by the owner", case_title="Acme v. Queue", filename="review.txt", title="A review"
    )
    r = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"title": "Trial Exhibits"})
    assert r.status_code == 202, r.text
    return r.json()


@needs_postgres
def test_migrate_creates_the_queue_tables_once_and_again_changes_nothing(tmp_path):
    url, drop = fresh_database(tmp_path)
    instance = Instance(url, tmp_path / "blobs", settings=dict(QUEUE))
    try:
        first = instance.cli("migrate")
        assert first.returncode == 0, first.stderr
        assert "job queue: applied schema.sql" in first.stderr
        [(recorded,)] = rows(instance, "SELECT count(*) FROM casebinder_queue_migrations")
        again = instance.cli("migrate")
        assert again.returncode == 0, again.stderr
        assert "job queue: applied" not in again.stderr
        assert rows(instance, "SELECT count(*) FROM casebinder_queue_migrations") == [(recorded,)]
        assert recorded > 0
        assert rows(instance, "SELECT to_regclass('procrastinate_jobs') IS NOT NULL") == [(True,)]
    finally:
        drop()


def test_the_queue_on_sqlite_is_refused_in_words(tmp_path):
    instance = Instance(f"sqlite:///{tmp_path / 'q.db'}", tmp_path / "blobs", settings=dict(QUEUE))
    for command in (["migrate"], ["worker"]):
        done = instance.cli(*command)
        assert done.returncode == 2, done.stderr
        assert "needs a PostgreSQL database" in done.stderr


@needs_postgres
def test_serve_only_queues_and_a_worker_builds_the_bundle(queued, tmp_path):
    instance, workers = queued
    instance.start(cli=True)
    with instance.client() as http:
        bundle = queue_a_bundle(http)
        # The queue holds the job; the server, whose runners never started, leaves it there.
        wait_for(lambda: ("bundle", "todo", bundle["id"]) in queue_jobs(instance), seconds=10, what="the queued job")
        time.sleep(3)
        assert http.get(f"/api/v1/bundles/{bundle['id']}").json()["status"] == "queued"
        assert http.get("/healthz").json() == {"status": "ok"}

        workers.start("first")
        done = finished_bundle(http, bundle["id"], seconds=120)
        assert done["status"] == "done", f"{done} {workers.log('first')}"
        pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf")
        assert hashlib.sha256(pdf.content).hexdigest() == done["sha256"]
    assert "first" in workers.log("first")
    assert ("bundle", "todo", bundle["id"]) not in queue_jobs(instance)


@needs_postgres
def test_a_build_whose_worker_is_killed_is_retried_by_the_other_with_the_same_sha256(queued, build_corpus):
    instance, workers = queued
    instance.start(cli=True)
    workers.start("one")
    workers.start("two")
    bundle = start_build(instance, build_corpus)  # 18 exhibits: still running when the kill lands
    holder = wait_for(
        lambda: lease_holder_pid(instance, f"bundle-{bundle['id']}"), seconds=30, what="the build's lease"
    )
    [victim] = [name for name, proc in workers.procs.items() if proc.pid == holder]
    [survivor] = [name for name in workers.procs if name != victim]
    workers.kill(victim)
    killed_at = time.monotonic()

    with instance.client() as http:
        # Within two minutes: the heartbeat goes stale, a sweep retries the job, the other worker builds it.
        done = finished_bundle(http, bundle["id"], seconds=120 + SWEEP_SECONDS)
        assert done["status"] == "done", done
        print(f"killed mid-build: built by the other worker {time.monotonic() - killed_at:.1f} s after the kill")
        assert "queued again" in workers.log(survivor) or "queued again" in workers.log(victim)
        first_sha = done["sha256"]
        pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf")
        assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == first_sha

        # The same build again, start to end on one worker, gives the same bytes.
        assert http.post(f"/api/v1/bundles/{bundle['id']}/rebuild").status_code == 202
        again = finished_bundle(http, bundle["id"], seconds=120)
        assert again["status"] == "done" and again["sha256"] == first_sha
    [(failures,)] = rows(instance, "SELECT count(*) FROM audit_events WHERE action = 'bundle.failed'")
    assert failures == 0
    workers.stop_all()
    instance.stop()
    assert_store_consistent(instance)


@needs_postgres
def test_a_worker_stopped_mid_build_hands_it_back_and_the_other_builds_it(queued, build_corpus):
    instance, workers = queued
    instance.start(cli=True)
    workers.start("one")
    workers.start("two")
    bundle = start_build(instance, build_corpus)
    holder = wait_for(
        lambda: lease_holder_pid(instance, f"bundle-{bundle['id']}"), seconds=30, what="the build's lease"
    )
    [stopping] = [name for name, proc in workers.procs.items() if proc.pid == holder]
    proc = workers.procs.pop(stopping)
    os.killpg(proc.pid, signal.SIGTERM)  # as a service manager stops it
    assert proc.wait(timeout=60) == 0
    assert "queued again for another worker" in workers.log(stopping)
    with instance.client() as http:
        done = finished_bundle(http, bundle["id"], seconds=120)
        assert done["status"] == "done", done
        pdf = http.get(f"/api/v1/bundles/{bundle['id']}/pdf")
        assert hashlib.sha256(pdf.content).hexdigest() == done["sha256"]


@needs_postgres
def test_an_advisory_lease_is_seen_held_elsewhere_and_lapses_when_its_process_dies(queued):
    instance, _ = queued
    script = "\n".join(
        [
            "from api.locks import lease",
            "held = lease('bundle-test')",
            "assert held.acquire()",
            "print('held', flush=True)",
            "input()",
        ]
    )
    holder = subprocess.Popen(
        [str(BIN.parent / "python"), "-c", script],
        cwd=ROOT,
        env=instance.env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    engine = make_engine(instance.database_url)
    try:
        assert holder.stdout.readline().strip() == "held"
        lease = PgLease(engine, "bundle-test")
        assert lease.held_elsewhere()
        assert not lease.acquire()
        assert lease_holder_pid(instance, "bundle-test") == holder.pid
        holder.kill()
        holder.wait(timeout=30)
        # The server ends the dead process's session, and the lock with it.
        wait_for(lambda: not lease.held_elsewhere(), seconds=30, what="the lease to lapse", interval=0.1)
        assert lease.acquire()
        assert PgLease(engine, "bundle-test").held_elsewhere()  # another connection of this process: held
        lease.release()
        assert not PgLease(engine, "bundle-test").held_elsewhere()
    finally:
        holder.kill()
        holder.wait(timeout=30)
        engine.dispose()


@needs_postgres
def test_two_workers_build_a_cases_bundles_one_at_a_time_and_a_job_handed_twice_once(queued):
    instance, workers = queued
    instance.start(cli=True)
    with instance.client() as http:
        first = queue_a_bundle(http)
        second = http.post(f"/api/v1/cases/{first['case_id']}/bundles", json={"title": "Second set"}).json()
        # The same job handed to the queue once more, as a retry racing the first could (with the lock every hand-over
        # of a case's bundle gets): it is built once. Under another lock it could run beside the case's second bundle.
        engine = make_engine(instance.database_url)
        try:
            with Session(engine) as session:
                handoff.defer(session, "bundle", uuid.UUID(first["id"]), f"bundle-{first['case_id']}")
                session.commit()
        finally:
            engine.dispose()
        workers.start("one")
        workers.start("two")
        built = [finished_bundle(http, b["id"], seconds=120) for b in (first, second)]
    assert [b["status"] for b in built] == ["done", "done"]
    spans = sorted(
        rows(
            instance,
            f"SELECT started_at, finished_at FROM bundles WHERE id IN ('{first['id']}', '{second['id']}')",
        )
    )
    assert spans[0][1] <= spans[1][0], spans  # one after the other: the case's lock
    done = rows(
        instance, f"SELECT count(*) FROM audit_events WHERE action = 'bundle.done' AND object_id = '{first['id']}'"
    )
    assert done == [(1,)]


@needs_postgres
def test_rows_the_queue_does_not_hold_are_handed_to_it(queued):
    """A bundle queued with no job of the queue (queued while the server ran its own runners, say) is built."""
    instance, workers = queued
    instance.start(cli=True)
    with instance.client() as http:
        bundle = queue_a_bundle(http)
        engine = make_engine(instance.database_url)
        try:
            with engine.begin() as conn:
                assert conn.execute(text("DELETE FROM procrastinate_jobs")).rowcount >= 1
        finally:
            engine.dispose()
        workers.start("late")
        done = finished_bundle(http, bundle["id"], seconds=60 + SWEEP_SECONDS)
    assert done["status"] == "done", done
    assert "did not hold" in workers.log("late")
