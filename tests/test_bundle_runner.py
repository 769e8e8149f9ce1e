"""Builds that must be stopped: cancelled while queued or running, or past the wall-clock limit. A stopped build
leaves no process and no scratch files, can be rebuilt, and the runner goes on with the next queued bundle.

A build that never ends is made for real: one exhibit's stored original is replaced by a named pipe nobody writes
to, so reading it blocks as on a hung network mount. That runs in a server process of its own (its own database
and data dir), started with a short build limit.
"""

import hashlib
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from api.services import bundles as bundle_service
from tests.helpers import TunedInstance, build, tuned_server
from tests.server_process import wait_for

pytestmark = pytest.mark.slow

LIMIT_SECONDS = 10


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    # On the local disk whatever the suite's backend: an original that never finishes reading is a FIFO in its place.
    tuned = {"CASEBINDER_BUNDLE_BUILD_TIMEOUT_SECONDS": str(LIMIT_SECONDS), "CASEBINDER_BLOB_BACKEND": "local"}
    yield from tuned_server(tmp_path_factory, "runner", tuned)


def _hung_and_plain(server: TunedInstance, http) -> tuple[dict, dict, dict]:
    """A case with an exhibit whose original never finishes reading, and an ordinary one."""
    case = http.post("/api/v1/cases", json={"title": "Acme v. Hung", "case_type": "lanham_act"}).json()
    hung, plain = (
        http.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": (f"{name}.txt", f"{name} {uuid.uuid4()}\n".encode())},
            data={"kind": "other", "title": name},
        ).json()
        for name in ("hung", "plain")
    )
    blob = server.data_dir / "sha256" / hung["sha256"][:2] / hung["sha256"][2:4] / hung["sha256"]
    blob.unlink()
    os.mkfifo(blob)
    return case, hung, plain


def _bundle(http, case: dict, item: dict, **options) -> dict:
    r = http.post(f"/api/v1/cases/{case['id']}/bundles", json={"exhibit_ids": [item["exhibit"]["id"]]} | options)
    assert r.status_code == 202, r.text
    return r.json()


def _status(http, bundle: dict, wanted: tuple[str, ...], seconds: float = 120) -> dict:
    return wait_for(
        lambda: (b := http.get(f"/api/v1/bundles/{bundle['id']}").json())["status"] in wanted and b,
        seconds=seconds,
        what=f"bundle {bundle['id']} to be {' or '.join(wanted)}",
        interval=0.05,
    )


def _build_processes(server: TunedInstance) -> set[int]:
    """Live build processes of this server (and what they started), found by their data dir. Outside a build there
    is at most the next build's process, waiting for its bundle."""
    found = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
            state = (proc / "stat").read_text().rsplit(")", 1)[1].split()[0]
            name = (proc / "comm").read_text().strip()
        except OSError:
            continue
        mine = f"CASEBINDER_DATA_DIR={server.data_dir}".encode() in environ
        # The text reader is a spawned child too, with work of its own: not a build's.
        if mine and b"spawn_main" in cmdline and state != "Z" and name != "cb-text":
            found.add(int(proc.name))
    return found


def _scratch(server: TunedInstance) -> list[Path]:
    return sorted((server.data_dir / "tmp").glob("bundle-*"))


def _actions(http, case: dict, bundle: dict) -> list[str]:
    events = http.get(f"/api/v1/cases/{case['id']}/audit", params={"limit": 1000}).json()["items"]
    return [e["action"] for e in events if e.get("object_id") == bundle["id"]]


def test_a_queued_and_a_running_build_are_cancelled_and_the_runner_goes_on(server):
    with server.client() as http:
        case, hung, plain = _hung_and_plain(server, http)
        running = _bundle(http, case, hung)
        _status(http, running, ("running",))
        queued = _bundle(http, case, plain)
        assert http.get(f"/api/v1/bundles/{queued['id']}").json()["status"] == "queued"  # behind the hung one

        r = http.post(f"/api/v1/bundles/{queued['id']}/cancel")
        assert r.status_code == 200, r.text
        cancelled = r.json()
        assert cancelled["status"] == "failed" and cancelled["finished_at"]
        email = http.get("/api/v1/auth/me").json()["email"]
        assert cancelled["error"].startswith(f"cancelled by {email} at ") and "rebuild" in cancelled["error"]
        hung_build = _build_processes(server)
        assert hung_build  # still going

        r = http.post(f"/api/v1/bundles/{running['id']}/cancel")
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "failed" and r.json()["error"].startswith(f"cancelled by {email} at ")
        wait_for(lambda: not hung_build & _build_processes(server), seconds=30, what="the build to be stopped")
        wait_for(lambda: not _scratch(server), seconds=30, what="the scratch directory to go")

        again = http.post(f"/api/v1/bundles/{queued['id']}/rebuild")  # the runner is free again
        assert again.status_code == 202, again.text
        done = _status(http, queued, ("done", "failed"))
        assert done["status"] == "done", done
        final = http.get(f"/api/v1/bundles/{running['id']}").json()
        assert final["status"] == "failed" and final["error"].startswith("cancelled by")  # kept, not overwritten

        for bundle, finished in ((running, "failed"), (queued, "done")):
            r = http.post(f"/api/v1/bundles/{bundle['id']}/cancel")
            assert r.status_code == 409, r.text
            assert f"the bundle is {finished}" in r.json()["detail"] and "nothing to cancel" in r.json()["detail"]
        # Each cancel is audited once; the stopped build recorded nothing after it.
        assert sorted(_actions(http, case, running)) == ["bundle.build", "bundle.cancel"]
        assert sorted(_actions(http, case, queued)) == [
            "bundle.build",
            "bundle.cancel",
            "bundle.done",
            "bundle.rebuild",
        ]
    wait_for(lambda: not _scratch(server), seconds=30, what="the rebuild's scratch directory to go")


def test_a_cancelled_rebuild_keeps_the_bundles_last_build(server):
    """Cancelling a rebuild takes nothing away: the bundle goes back to its last build, saying so."""
    with server.client() as http:
        case, hung, plain = _hung_and_plain(server, http)
        built = _status(http, _bundle(http, case, plain, cover=False, index=False, certificate=False), ("done",))
        stuck = _bundle(http, case, hung)
        _status(http, stuck, ("running",))
        r = http.post(f"/api/v1/bundles/{built['id']}/rebuild")  # queued behind the hung build
        assert r.status_code == 202 and r.json()["status"] == "queued", r.text

        r = http.post(f"/api/v1/bundles/{built['id']}/cancel")
        assert r.status_code == 200, r.text
        kept = r.json()
        assert kept["status"] == "done" and kept["sha256"] == built["sha256"]
        assert kept["error"].startswith(
            "the rebuild was cancelled, so the bundle keeps its previous build: cancelled by"
        )
        pdf = http.get(f"/api/v1/bundles/{built['id']}/pdf")
        assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == built["sha256"]
        assert sorted(_actions(http, case, built)) == [
            "bundle.build",
            "bundle.cancel",
            "bundle.done",
            "bundle.download",
            "bundle.rebuild",
        ]

        assert http.post(f"/api/v1/bundles/{stuck['id']}/cancel").status_code == 200
    wait_for(lambda: not _scratch(server), seconds=30, what="the scratch directories to go")


def test_a_build_past_its_time_limit_fails_with_the_reason_and_the_next_one_builds(server):
    with server.client() as http:
        case, hung, plain = _hung_and_plain(server, http)
        stuck = _bundle(http, case, hung)
        _status(http, stuck, ("running",))
        hung_build = _build_processes(server)
        # Quick to build (no cover, index or certificate), well within the limit it is built under too.
        waiting = _bundle(http, case, plain, cover=False, index=False, certificate=False)

        failed = _status(http, stuck, ("done", "failed"), seconds=LIMIT_SECONDS + 120)
        assert failed["status"] == "failed"
        assert failed["error"] == bundle_service.timed_out(LIMIT_SECONDS)
        assert failed["error"].startswith("the build took longer than the 10-second limit and was stopped")
        assert "bundle.failed" in _actions(http, case, stuck)

        done = _status(http, waiting, ("done", "failed"))
        assert done["status"] == "done", done
        assert hung_build and not hung_build & _build_processes(server)
    wait_for(lambda: not _scratch(server), seconds=30, what="the scratch directories to go")


def test_cancel_needs_an_editor_and_a_build_still_going(alice, bob):
    case = alice.make_case(bates_prefix="CAN")
    alice.upload(case["id"], b"one\n", filename="one.txt", title="One")
    done = build(alice, case["id"])
    r = alice.post(f"/api/v1/bundles/{done['id']}/cancel")
    assert r.status_code == 409 and r.json()["detail"] == (
        "the bundle is done: it has been built, so there is nothing to cancel"
    )
    assert bob.post(f"/api/v1/bundles/{done['id']}/cancel").status_code == 404  # not a member: as if missing
    alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    r = bob.post(f"/api/v1/bundles/{done['id']}/cancel")
    assert r.status_code == 403 and "editor" in r.json()["detail"]
    assert alice.post(f"/api/v1/bundles/{uuid.uuid4()}/cancel").status_code == 404


@pytest.mark.engine
def test_every_build_process_embeds_the_same_stamp_font():
    """Each build runs in a fresh process; a rebuild is byte-identical only if the font subset is too."""
    code = "import hashlib; from api.bundle import stamp; print(hashlib.sha256(stamp.stamp_font().data).hexdigest())"
    digests = set()
    for _ in range(2):
        digests.add(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout)
        time.sleep(1.1)  # a second apart, as two builds are: the subset must not carry the time it was made
    assert len(digests) == 1, digests
    assert hashlib.sha256(b"").hexdigest() not in digests
