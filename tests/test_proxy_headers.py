"""Behind a reverse proxy: `casebinder serve` believes X-Forwarded-For only from the proxies named in
CASEBINDER_FORWARDED_ALLOW_IPS, so the audit trail and the per-address login limit see the real client there, and a
client cannot choose its own address anywhere else."""

import httpx
import pytest
from sqlalchemy import text

from api.db import make_engine
from tests.server_process import Instance, fresh_database

pytestmark = [pytest.mark.slow, pytest.mark.once]  # starts `casebinder serve`


def _failed_login_addresses(url: str) -> list[str]:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(text("SELECT ip FROM audit_events WHERE action = 'login_failed' ORDER BY seq")).scalars()
            )
    finally:
        engine.dispose()


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [("", "127.0.0.1"), ("127.0.0.1", "203.0.113.7"), ("10.9.0.0/16", "127.0.0.1")],
    ids=["no proxy named", "the proxy named", "another proxy named"],
)
def test_the_client_address_is_the_forwarded_one_only_through_a_named_proxy(tmp_path, trusted, recorded):
    url, drop = fresh_database(tmp_path)
    instance = Instance(url, tmp_path / "blobs", settings={"CASEBINDER_FORWARDED_ALLOW_IPS": trusted})
    try:
        instance.start(cli=True)
        with httpx.Client(base_url=instance.base_url, timeout=30) as http:
            r = http.post(
                "/api/v1/auth/token",
                data={"username": "nobody@firm.example", "password": "wrong password"},
                headers={"X-Forwarded-For": "203.0.113.7"},
            )
            assert r.status_code == 401
        assert _failed_login_addresses(url) == [recorded]
    finally:
        instance.stop()
        drop()


def test_a_proxy_setting_that_is_no_address_is_refused_in_words(tmp_path):
    url, drop = fresh_database(tmp_path)
    try:
        instance = Instance(url, tmp_path / "blobs", settings={"CASEBINDER_FORWARDED_ALLOW_IPS": "10.0.0.1, proxy"})
        served = instance.cli("serve", "--port", "1")
        assert served.returncode != 0
        assert "'proxy' is not an IP address or network" in served.stderr
    finally:
        drop()
