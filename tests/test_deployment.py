"""The production deployment files: the Dockerfile passes hadolint, Docker Compose accepts compose.yaml and it
wires what the README says, every CASEBINDER_* name in them is a real setting, and the proxy's Caddyfile, run in
front of two real servers, streams large uploads through and steers around a dead node.

No Docker engine is needed: hadolint, `docker-compose config` and Caddy are binaries from the dev dependencies.
"""

import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from api.config import Settings
from tests.s3_server import instance_env, local_disk_only
from tests.server_process import ROOT, Instance, free_port, fresh_database, loopback_get, wait_for

pytestmark = pytest.mark.once

TOOLS = Path(sys.executable).parent
COMPOSE_FILE = ROOT / "compose.yaml"
CADDYFILE = ROOT / "deploy" / "Caddyfile"
MiB = 1024 * 1024
# The services compose.yaml runs, and those that hold state on named volumes.
SERVICES = {"postgres", "seaweedfs", "create-bucket", "migrate", "api-1", "api-2", "worker", "proxy"}
STATEFUL = {"postgres": "postgres-data", "seaweedfs": "seaweedfs-data"}


def run_tool(name: str, *args: str, env: dict | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(TOOLS / name), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )


def compose_env(home: Path) -> dict:
    """The environment without any of compose.yaml's knobs, so its defaults are what is checked."""
    knobs = re.findall(r"\$\{([A-Z0-9_]+)", COMPOSE_FILE.read_text())
    env = {k: v for k, v in os.environ.items() if k not in knobs and not k.startswith(("COMPOSE_", "DOCKER_"))}
    return env | {"HOME": str(home), "DOCKER_CONFIG": str(home / "docker")}


def compose_config(tmp_path: Path, compose_file: Path = COMPOSE_FILE) -> subprocess.CompletedProcess:
    return run_tool("docker-compose", "-f", str(compose_file), "config", "--format", "json", env=compose_env(tmp_path))


# --- the Dockerfile ---------------------------------------------------------------------------------------------


def test_hadolint_passes_the_dockerfile():
    linted = run_tool("hadolint", "--no-color", "--failure-threshold", "style", "Dockerfile")
    assert linted.returncode == 0, linted.stdout + linted.stderr


def test_hadolint_is_really_reading_dockerfiles(tmp_path):
    """The check above means something: the same hadolint finds the faults of a careless Dockerfile."""
    careless = tmp_path / "Dockerfile"
    careless.write_text("FROM python:latest\nRUN apt-get update && apt-get install -y curl\nRUN cd /src && make\n")
    linted = run_tool("hadolint", "--no-color", str(careless))
    assert linted.returncode != 0
    assert {"DL3007", "DL3008", "DL3009", "DL3015", "DL3003"} <= set(re.findall(r"DL\d{4}", linted.stdout))


def test_the_image_runs_as_a_numeric_non_root_user_from_a_pinned_base():
    text = (ROOT / "Dockerfile").read_text()
    base = re.search(r"^ARG PYTHON_IMAGE=(\S+)$", text, re.M)
    assert base and re.fullmatch(r"python:\d+\.\d+\.\d+-slim-[a-z]+", base.group(1)), "base image not pinned"
    assert re.findall(r"^FROM (\S+)", text, re.M) == ["${PYTHON_IMAGE}", "${PYTHON_IMAGE}"]
    users = re.findall(r"^USER (\S+)$", text, re.M)
    assert users and users[-1] == "10001:10001"
    assert re.search(r"^HEALTHCHECK .*\n.*/healthz", text, re.M)


# --- compose.yaml -----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose(tmp_path_factory) -> dict:
    """compose.yaml as Docker Compose itself reads it, defaults filled in."""
    done = compose_config(tmp_path_factory.mktemp("compose-home"))
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_docker_compose_rejects_what_is_not_compose(tmp_path):
    """`docker-compose config` validates against the Compose specification: an unknown key fails it."""
    broken = tmp_path / "compose.yaml"
    broken.write_text(COMPOSE_FILE.read_text().replace("    shm_size: 1g\n", "    shm_size: 1g\n    shm_sise: 1g\n"))
    done = compose_config(tmp_path, broken)
    assert done.returncode != 0
    assert "shm_sise" in done.stderr


def test_compose_runs_two_api_nodes_two_workers_and_the_services_they_need(compose):
    services = compose["services"]
    assert set(services) == SERVICES
    for name in ("api-1", "api-2"):
        assert services[name]["command"][:2] == ["casebinder", "serve"]
    assert services["worker"]["command"] == ["casebinder", "worker"]
    assert services["worker"]["deploy"]["replicas"] == 2
    assert services["migrate"]["command"] == ["casebinder", "migrate"]
    assert services["seaweedfs"]["command"][:2] == ["server", "-s3"]
    # One image for every casebinder process, built from this Dockerfile; they skip its migrate-first entrypoint.
    casebinder = {n for n, s in services.items() if s.get("build")}
    assert casebinder == {"create-bucket", "migrate", "api-1", "api-2", "worker"}
    assert len({services[n]["image"] for n in casebinder}) == 1
    assert all(services[n]["entrypoint"][0] in ("/usr/bin/tini", "python") for n in casebinder)


def test_compose_starts_each_process_once_what_it_needs_is_ready(compose):
    services = compose["services"]
    ready = {"postgres": "service_healthy", "seaweedfs": "service_healthy"}
    once = {"migrate": "service_completed_successfully", "create-bucket": "service_completed_successfully"}
    for name in ("api-1", "api-2", "worker"):
        needs = {dep: cond["condition"] for dep, cond in services[name]["depends_on"].items()}
        assert needs == ready | once, name
    assert services["proxy"]["depends_on"].keys() == {"api-1", "api-2"}
    for name in ("postgres", "seaweedfs", "api-1", "api-2", "proxy"):
        assert services[name]["healthcheck"]["test"], name
        assert services[name]["restart"] == "unless-stopped", name
    assert any("/healthz" in part for part in services["api-1"]["healthcheck"]["test"])
    assert services["worker"]["healthcheck"]["disable"] is True  # workers serve no /healthz
    assert services["worker"]["restart"] == "unless-stopped"
    assert services["migrate"]["restart"] == services["create-bucket"]["restart"] == "no"


def test_only_the_database_and_the_object_store_keep_state(compose):
    assert set(compose["volumes"]) == set(STATEFUL.values())
    for name, service in compose["services"].items():
        named = [v["source"] for v in service.get("volumes", []) if v["type"] == "volume" and v.get("source")]
        assert named == ([STATEFUL[name]] if name in STATEFUL else []), name
        binds = [v for v in service.get("volumes", []) if v["type"] == "bind"]
        assert binds == [], name
    # Only the proxy is reachable from outside.
    assert [n for n, s in compose["services"].items() if s.get("ports")] == ["proxy"]


def test_compose_takes_its_secrets_from_the_environment(tmp_path):
    env = compose_env(tmp_path) | {
        "POSTGRES_PASSWORD": "pg-from-env",
        "CASEBINDER_S3_SECRET_ACCESS_KEY": "s3-from-env",
        "CASEBINDER_S3_ACCESS_KEY_ID": "key-from-env",
    }
    done = run_tool("docker-compose", "-f", str(COMPOSE_FILE), "config", "--format", "json", env=env)
    assert done.returncode == 0, done.stderr
    config = json.loads(done.stdout)
    api = config["services"]["api-1"]["environment"]
    assert api["CASEBINDER_DATABASE_URL"].endswith(":pg-from-env@postgres:5432/casebinder")
    assert api["CASEBINDER_S3_SECRET_ACCESS_KEY"] == "s3-from-env"
    assert config["services"]["postgres"]["environment"]["POSTGRES_PASSWORD"] == "pg-from-env"
    identities = json.loads(config["configs"]["seaweedfs-s3"]["content"])["identities"]
    assert identities[0]["credentials"] == [{"accessKey": "key-from-env", "secretKey": "s3-from-env"}]


def test_every_casebinder_variable_in_the_deployment_files_is_a_setting():
    settings = {f"CASEBINDER_{name.upper()}" for name in Settings.model_fields}
    for path in (COMPOSE_FILE, CADDYFILE, *(ROOT / "deploy").glob("*.py"), ROOT / "deploy" / "example.env"):
        used = set(re.findall(r"\bCASEBINDER_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
        assert sorted(used - settings) == [], f"{path.name} names variables api/config.py does not read"
    used = set(re.findall(r"\bCASEBINDER_[A-Z0-9_]+", COMPOSE_FILE.read_text()))
    assert {"CASEBINDER_DATABASE_URL", "CASEBINDER_BLOB_BACKEND", "CASEBINDER_JOB_QUEUE"} <= used


# --- the proxy --------------------------------------------------------------------------------------------------


def caddy_env(home: Path, **more: str) -> dict:
    """Caddy with its state and admin endpoint of its own, so it shares nothing with another on this host."""
    return os.environ | {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_DATA_HOME": str(home / "data"),
        "CADDY_ADMIN": f"127.0.0.1:{free_port()}",
        **more,
    }


def test_caddy_accepts_the_caddyfile(tmp_path):
    done = run_tool("caddy", "validate", "--adapter", "caddyfile", "--config", str(CADDYFILE), env=caddy_env(tmp_path))
    assert done.returncode == 0, done.stderr
    formatted = run_tool("caddy", "fmt", str(CADDYFILE))
    assert formatted.stdout == CADDYFILE.read_text()


@pytest.fixture
def behind_proxy(tmp_path):
    """Two servers on one database and one data dir, and Caddy with deploy/Caddyfile in front of them."""
    url, drop = fresh_database(tmp_path)
    shared = tmp_path / "blobs"
    shared.mkdir()
    nodes = []
    for name in ("node-1", "node-2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "blobs").symlink_to(shared)  # each node's logs beside its own name for the one store
        # With the suite on S3, one bucket for both, as for one data dir (a bucket is named after its data dir).
        stall = {"CASEBINDER_UPLOAD_STALL_TIMEOUT_SECONDS": "3"} | instance_env(shared)
        nodes.append(Instance(url, tmp_path / name / "blobs", settings=stall))
    nodes[0].add_user()
    nodes[1].token = nodes[0].token
    port = free_port()
    proxy = None
    try:
        for node in nodes:
            node.start()
        env = caddy_env(
            tmp_path / "caddy",
            PROXY_ADDRESS=f"http://127.0.0.1:{port}",
            API_UPSTREAMS=" ".join(f"127.0.0.1:{node.port}" for node in nodes),
        )
        log = tmp_path / "caddy.log"
        proxy = subprocess.Popen(
            [str(TOOLS / "caddy"), "run", "--adapter", "caddyfile", "--config", str(CADDYFILE)],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        base = f"http://127.0.0.1:{port}"
        wait_for(lambda: _answers(f"{base}/healthz") or proxy.poll() is not None, seconds=30, what="the proxy")
        assert proxy.poll() is None, log.read_text()[-2000:]
        headers = {"Authorization": f"Bearer {nodes[0].token}"}
        with httpx.Client(base_url=base, headers=headers, timeout=120) as http:
            yield http, nodes, port
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(timeout=30)
        for node in nodes:
            node.kill()
        drop()


def _answers(url: str) -> bool:
    try:
        return loopback_get(url).status_code == 200
    except httpx.HTTPError:
        return False


def _chunks(size: int, seed: bytes):
    """`size` bytes that differ from any other run's, made 1 MiB at a time."""
    block = hashlib.sha256(seed).digest() * (MiB // 32)
    for offset in range(0, size, MiB):
        yield block[: min(MiB, size - offset)]
        block = block[1:] + block[:1]


@pytest.mark.slow
def test_the_proxy_streams_a_large_upload_and_its_download(behind_proxy, tmp_path):
    http, nodes, _ = behind_proxy
    case = http.post("/api/v1/cases", json={"title": "Behind the proxy", "case_type": "lanham_act"}).json()
    size, seed = 64 * MiB, uuid.uuid4().bytes
    original = tmp_path / "capture.bin"
    with original.open("wb") as f:
        for chunk in _chunks(size, seed):
            f.write(chunk)
    expected = hashlib.sha256(original.read_bytes()).hexdigest()
    with original.open("rb") as f:
        made = http.post(
            f"/api/v1/cases/{case['id']}/evidence",
            files={"file": ("capture.bin", f)},
            data={"kind": "other", "title": "Capture"},
        )
    assert made.status_code == 201, made.text
    assert made.json()["sha256"] == expected
    digest = hashlib.sha256()
    with http.stream("GET", f"/api/v1/evidence/{made.json()['id']}/content") as download:
        assert download.status_code == 200
        for chunk in download.iter_bytes():
            digest.update(chunk)
    assert digest.hexdigest() == expected


@pytest.mark.slow
@local_disk_only  # it watches the node's staging files fill as the body arrives
def test_the_proxy_hands_the_body_to_a_node_as_it_arrives(behind_proxy):
    """Request buffering is off: a node stages an upload's first bytes while the client is still sending them; and
    the proxy is full duplex: when the client stalls, the node's 408 reaches it while its body is unfinished."""
    http, nodes, port = behind_proxy
    case = http.post("/api/v1/cases", json={"title": "Half an upload", "case_type": "lanham_act"}).json()
    boundary = f"deploy-{uuid.uuid4().hex}"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="kind"\r\n\r\nother\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="title"\r\n\r\nHalf\r\n'
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="half.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    sent = 4 * MiB
    request = (
        f"POST /api/v1/cases/{case['id']}/evidence HTTP/1.1\r\n"
        f"Host: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {nodes[0].token}\r\n"
        f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
        f"Content-Length: {len(head) + 2 * sent + 64}\r\n\r\n"
    ).encode()
    staging = nodes[0].data_dir / "tmp"

    def staged_bytes() -> int:
        return sum(p.stat().st_size for p in staging.iterdir()) if staging.is_dir() else 0

    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        sock.sendall(request + head)
        for chunk in _chunks(sent, b"half"):
            sock.sendall(chunk)
        # Half the body is out and the rest has not come yet: the node already has what was sent.
        wait_for(lambda: staged_bytes() >= sent // 2, seconds=60, what="the node to stage the first bytes")
        # The rest never comes: the node drops the upload, and its own answer reaches the client through the proxy.
        answer = b""
        while b"nothing was stored" not in answer and (data := sock.recv(65536)):
            answer += data
    assert answer.startswith(b"HTTP/1.1 408"), answer[:300]
    assert b"the upload stopped arriving" in answer
    wait_for(lambda: staged_bytes() == 0, seconds=60, what="the stalled upload to be thrown away")
    assert http.get(f"/api/v1/cases/{case['id']}/exhibits").json()["items"] == []


@pytest.mark.slow
def test_the_proxy_steers_around_a_dead_node(behind_proxy):
    http, nodes, _ = behind_proxy
    assert http.get("/api/v1/cases").status_code == 200
    nodes[0].kill()
    answers = []
    for _ in range(20):
        answers.append(http.get("/api/v1/cases").status_code)
        time.sleep(0.05)
    assert answers == [200] * 20
