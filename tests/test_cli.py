"""The `casebinder` command line, run as a real process against the test database."""

import uuid

import pytest

from tests.conftest import Actor
from tests.helpers import run_cli, wait_done

pytestmark = pytest.mark.slow


def test_user_and_token_commands(client):
    email = f"cli-{uuid.uuid4().hex[:8]}@firm.example"
    made = run_cli("user", "create", email, "--password", "a long password", "--name", "Pat Paralegal")
    assert made.returncode == 0, made.stderr
    assert run_cli("user", "create", email, "--password", "a long password").returncode == 1

    issued = run_cli("token", "create", email)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert issued.stdout == token + "\n" and token.startswith("cb_")  # the token and nothing else
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["full_name"] == "Pat Paralegal"

    missing = run_cli("token", "create", "nobody@firm.example")
    assert missing.returncode == 1 and missing.stdout == "" and "no user" in missing.stderr


def test_demo_seeds_a_case_once_and_prints_a_working_login(client):
    # The test's own database and blob store: the in-process server's runner builds the demo's queued bundle.
    first = run_cli("demo")
    assert first.returncode == 0, first.stderr
    lines = dict(line.strip().split(":", 1) for line in first.stdout.splitlines() if ":" in line)
    token = lines["token"].strip()
    headers = {"Authorization": f"Bearer {token}"}
    cases = client.get("/api/v1/cases", headers=headers).json()["items"]
    demo = next(c for c in cases if c["title"].startswith("Acme Audio"))
    exhibits = client.get(f"/api/v1/cases/{demo['id']}/exhibits", headers=headers).json()["items"]
    kinds = {e["evidence"]["kind"] for e in exhibits}
    assert {"review_screenshot", "product_insert_card", "refund_record", "chat_log", "email"} <= kinds
    assert len(exhibits) >= 20
    login = client.post(
        "/api/v1/auth/token", data={"username": lines["login"].strip(), "password": lines["password"].strip()}
    )
    assert login.status_code == 200

    # The printed bundle is built by the server, and the chronology then cites its Bates numbers.
    bundle_id = lines["bundle"].split("/api/v1/bundles/")[1].split("/")[0]
    demo_user = Actor(client, lines["login"].strip(), token)
    bundle = wait_done(demo_user, bundle_id)
    assert (bundle["status"], bundle["title"], bundle["bates_first"]) == ("done", "Plaintiff's Exhibits", "ACME000001")
    cited = [e["citation"] for e in client.get(f"/api/v1/cases/{demo['id']}/timeline", headers=headers).json()["items"]]
    assert cited and all(c and c["bates"].startswith("ACME") for c in cited), cited
    # Bulk exports are exhibits but not events: their records carry their own dates. Six are record sets, read
    # record by record: the click farm's five, with the finder's analysis of them queued for the server, and the
    # case's PayPal export as PayPal wrote it, whose records cite its exhibit.
    bulk = {
        e["evidence_id"] for e in exhibits if e["evidence"]["original_filename"].endswith((".csv", ".jsonl", ".ndjson"))
    }
    assert len(bulk) == 7 and not bulk & {c["evidence_id"] for c in cited}
    assert len(cited) == len(exhibits) - 7
    sets = client.get(f"/api/v1/cases/{demo['id']}/record-sets", headers=headers).json()["items"]
    assert sorted(s["role"] for s in sets) == ["accounts", "messages", "orders", "payments", "payments", "reviews"]
    assert all(s["status"] == "done" and s["rows_rejected"] == 0 and s["evidence_id"] in bulk for s in sets)
    (paypal,) = [s for s in sets if s["name"] == "PayPal activity export, record by record"]
    exhibit = next(e for e in exhibits if e["evidence"]["original_filename"] == "paypal_activity.csv")
    assert paypal["evidence_id"] == exhibit["evidence_id"] and paypal["date_order"] == "mdy"
    assert paypal["rows_done"] == 300 and paypal["exhibit_label"] == exhibit["label"]
    (analysis,) = client.get(f"/api/v1/cases/{demo['id']}/analyses", headers=headers).json()["items"]
    analysis = wait_done(demo_user, analysis["id"], path="analyses")
    assert analysis["status"] == "done" and analysis["counts"]["findings"] == 30  # the chains the data plants
    assert client.get(f"/api/v1/cases/{demo['id']}/timeline.pdf", headers=headers).status_code == 200

    second = run_cli("demo")
    assert second.returncode == 0, second.stderr
    again = client.get("/api/v1/cases", headers=headers).json()["items"]
    assert [c["id"] for c in again if c["title"].startswith("Acme Audio")] == [demo["id"]]
    bundles = client.get(f"/api/v1/cases/{demo['id']}/bundles", headers=headers).json()["items"]
    assert [b["id"] for b in bundles] == [bundle_id]  # seeded once


def test_help_lists_the_commands():
    out = run_cli("--help").stdout
    for command in ("serve", "migrate", "user", "token", "demo"):
        assert command in out


def test_store_commands_exit_2_with_a_reason_when_they_cannot_run(tmp_path):
    """A missing data dir or an unmigrated database is not a clean (or dirty) store: exit 2, say why."""
    data_dir, empty_db = tmp_path / "blobs", tmp_path / "empty.db"
    data_dir.mkdir()
    unmigrated = {"CASEBINDER_DATABASE_URL": f"sqlite:///{empty_db}", "CASEBINDER_DATA_DIR": str(data_dir)}
    unmigrated["CASEBINDER_BLOB_BACKEND"] = "local"  # a data dir that is missing matters to the local store
    missing_dir = unmigrated | {"CASEBINDER_DATA_DIR": str(tmp_path / "typo")}

    r = run_cli("verify", env_extra=missing_dir)
    assert (r.returncode, r.stdout) == (2, "") and f"the data dir {tmp_path / 'typo'} does not exist" in r.stderr
    assert not (tmp_path / "typo").exists()  # not created on the way
    r = run_cli("purge", "--dry-run", env_extra=unmigrated)
    assert (r.returncode, r.stdout) == (2, "") and "cannot use the database (is it migrated?)" in r.stderr
