"""Production mode for the suite: with CASEBINDER_TEST_JOB_QUEUE=procrastinate (on PostgreSQL, with
CASEBINDER_TEST_BLOB_BACKEND=s3 beside it in `make test`), the suite's app only queues jobs on the PostgreSQL queue,
and two `casebinder worker` processes started here for the session run them, against the same database and bucket
with the same settings, as a deployment's workers would.

Tests inherently about the in-process runners (they reach into runner threads, or change settings in this process
that the workers cannot see) are marked `embedded`: skipped here, with the reason, and run on the SQLite leg.
Server processes the tests start (tests/server_process.py) run their jobs in-process unless a test gives them the
queue itself (tests/test_job_queue.py): each has a database of its own, which no session worker watches.
"""

import os
import signal
import subprocess
from pathlib import Path

import pytest

ON_QUEUE = os.environ.get("CASEBINDER_TEST_JOB_QUEUE") == "procrastinate"
# Workers beat every second and are taken for dead after five silent seconds, swept for every two seconds (which
# also hands the queue again a job a test held off, see tests/helpers.py `worker_held_off`).
QUEUE_SETTINGS = {
    "CASEBINDER_JOB_QUEUE": "procrastinate",
    "CASEBINDER_QUEUE_HEARTBEAT_SECONDS": "1",
    "CASEBINDER_QUEUE_STALLED_SECONDS": "5",
    "CASEBINDER_QUEUE_SWEEP_SECONDS": "2",
}
WORKERS = ("one", "two")
# A test about the in-process runners is marked `@pytest.mark.embedded(reason=...)` (registered in pyproject.toml).
_logs: list[Path] = []


@pytest.hookimpl(trylast=True)  # after the deselection by marks: only what runs is ordered
def pytest_collection_modifyitems(config, items) -> None:
    if not ON_QUEUE:
        return
    for item in items:
        marker = item.get_closest_marker("embedded")
        if marker is not None:
            why = marker.kwargs.get("reason") or (marker.args[0] if marker.args else "about the in-process runners")
            item.add_marker(pytest.mark.skip(reason=f"embedded mode only: {why}"))
    items[:] = ocr_modules_together(items)


def ocr_modules_together(items: list) -> list:
    """The tests that read text by OCR (`ocr_on`) brought together, each module kept whole: the modules holding them
    follow the first of them, that one with its OCR tests last, the ones holding nothing else next, then the others
    with their OCR tests first. The workers restart with OCR on once for the run of them and back to the defaults
    once after it, rather than around each module (a restart costs the workers' stop and start-up, some seconds)."""
    modules: dict[str, list] = {}
    for item in items:
        modules.setdefault(item.nodeid.split("::")[0], []).append(item)
    reading = [name for name, tests in modules.items() if any("ocr_on" in t.fixturenames for t in tests)]
    if not reading:
        return items
    ocr = {name: [t for t in modules[name] if "ocr_on" in t.fixturenames] for name in reading}
    rest = {name: [t for t in modules[name] if "ocr_on" not in t.fixturenames] for name in reading}
    mixed = [name for name in reading if rest[name]]
    cluster = [*rest[mixed[0]], *ocr[mixed[0]]] if mixed else []
    cluster += [t for name in reading if not rest[name] for t in ocr[name]]
    cluster += [t for name in mixed[1:] for t in (*ocr[name], *rest[name])]
    ordered: list = []
    for name, tests in modules.items():
        if name == reading[0]:
            ordered.extend(cluster)
        elif name not in reading:
            ordered.extend(tests)
    return ordered


class Workers:
    """The session's `casebinder worker` processes, restartable with more settings for one test."""

    def __init__(self, root: Path, database_url: str):
        self.root, self.database_url = root, database_url
        self.procs: list[subprocess.Popen] = []
        self.settings: dict[str, str] = {}

    def start(self) -> None:
        self.procs = [self._start(name) for name in WORKERS]

    def restart(self, settings: dict[str, str]) -> None:
        """Stop the workers (a job going on goes back to the queue) and start them again with `settings`; queued
        jobs wait for them."""
        self.stop()
        self.settings = settings
        self.start()

    def stop(self) -> None:
        """SIGTERM to all at once, as a service manager would (each gives its job back first), then wait for all:
        a worker takes some seconds to end, and the workers are stopped at every restart."""
        for proc in self.procs:
            _signal(proc, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                _signal(proc, signal.SIGKILL)
                proc.wait()
        self.procs = []

    def _start(self, name: str) -> subprocess.Popen:
        from tests.s3_server import ON_S3
        from tests.server_process import BIN, ROOT

        env = dict(os.environ, CASEBINDER_DATABASE_URL=self.database_url) | self.settings
        if ON_S3:  # every process has a local data dir of its own: nothing on it is needed by another
            env["CASEBINDER_DATA_DIR"] = str(self.root / f"data-{name}")
        log = self.root / f"worker-{name}.log"
        if log not in _logs:
            _logs.append(log)
        return subprocess.Popen(
            [str(BIN), "worker", "--name", f"suite-{name}"],
            cwd=ROOT,
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


_workers: Workers | None = None


@pytest.fixture(scope="session", autouse=True)
def queue_workers(request, tmp_path_factory):
    """In production mode: the queue's tables in the session's database, the app on the queue, two workers."""
    global _workers
    if not ON_QUEUE:
        yield None
        return
    from api.config import get_settings

    request.getfixturevalue("blobs_in_s3")  # the workers inherit the bucket's settings
    os.environ.update(QUEUE_SETTINGS)
    url = request.getfixturevalue("database_url")  # migrated; it clears the settings' cache
    get_settings.cache_clear()
    from api.db import get_engine
    from api.jobqueue import schema as queue_schema

    queue_schema.apply(get_engine())
    _workers = Workers(tmp_path_factory.mktemp("workers"), url)
    _workers.start()
    yield _workers
    _workers.stop()
    _workers = None


@pytest.fixture
def workers_with():
    """`workers_with(CASEBINDER_X="...")`: settings the jobs of this test run with, beside the test's own change
    to this process's settings. In production mode the session's workers restart with them, unless they run with
    them already (the test before asked for the same); they get the defaults back before the next test that does
    not ask for settings (`workers_as_set`). Embedded, the jobs run in this process and see the test's change:
    nothing to do."""
    changed: dict[str, str] = {}

    def apply(**settings: str) -> None:
        if _workers is not None:
            changed.update(settings)
            if _workers.settings != changed:
                _workers.restart(dict(changed))

    return apply


@pytest.fixture(autouse=True)
def workers_as_set(request):
    """The session's workers on the default settings for a test that asks for none, restarted with them if the
    test before gave them its own (a restart costs each worker its start-up: a run of tests asking for the same
    settings shares one)."""
    if _workers is not None and _workers.settings and "workers_with" not in request.fixturenames:
        _workers.restart({})


def _signal(proc: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A failing test shows the end of each worker's log (what ran its jobs)."""
    outcome = yield
    report = outcome.get_result()
    if report.failed and _logs:
        for log in _logs:
            tail = log.read_text(errors="replace")[-3000:] if log.exists() else "(no log)"
            report.sections.append((f"worker log {log.name}", tail))
