"""The `casebinder` command line, run as a real process against the test database."""

import os
import subprocess
import sys
import uuid
from pathlib import Path

BIN = Path(sys.executable).parent / "casebinder"


def run(*args, env_extra=None, input_text=None):
    env = os.environ | (env_extra or {})
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, input=input_text, timeout=300)


def test_user_and_token_commands(client):
    email = f"cli-{uuid.uuid4().hex[:8]}@firm.example"
    made = run("user", "create", email, "--password", "a long password", "--name", "Pat Paralegal")
    assert made.returncode == 0, made.stderr
    assert run("user", "create", email, "--password", "a long password").returncode == 1

    issued = run("token", "create", email)
    assert issued.returncode == 0, issued.stderr
    token = issued.stdout.strip()
    assert issued.stdout == token + "\n" and token.startswith("cb_")  # the token and nothing else
    me = client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["full_name"] == "Pat Paralegal"

    missing = run("token", "create", "nobody@firm.example")
    assert missing.returncode == 1 and missing.stdout == "" and "no user" in missing.stderr


def test_demo_seeds_a_case_once_and_prints_a_working_login(client, tmp_path):
    first = run("demo", env_extra={"CASEBINDER_DATA_DIR": str(tmp_path / "blobs")})
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

    second = run("demo", env_extra={"CASEBINDER_DATA_DIR": str(tmp_path / "blobs")})
    assert second.returncode == 0, second.stderr
    again = client.get("/api/v1/cases", headers=headers).json()["items"]
    assert [c["id"] for c in again if c["title"].startswith("Acme Audio")] == [demo["id"]]


def test_help_lists_the_commands():
    out = run("--help").stdout
    for command in ("serve", "migrate", "user", "token", "demo"):
        assert command in out
