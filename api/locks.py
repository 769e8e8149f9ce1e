"""Leases on pieces of work (a bundle build, an item's text) that lapse when their holder dies, however it dies.

On PostgreSQL a lease is a session-level advisory lock taken on a connection of its own: the server drops it when
that connection goes (the process exited, was killed, or its host vanished and the connection timed out), so a
process on any host can tell whether the work is still in live hands. On SQLite, whose database is on one host
anyway, it is the flock of api/lifelines.py.
"""

import hashlib
import os
import socket

import psycopg
from sqlalchemy import Engine

from api.config import get_settings
from api.db import get_engine
from api.lifelines import Lease as FileLease


def lock_key(name: str) -> int:
    """The lock's 64-bit key: the first eight bytes of the name's SHA-256, signed as PostgreSQL's bigint is."""
    return int.from_bytes(hashlib.sha256(f"casebinder:{name}".encode()).digest()[:8], "big", signed=True)


def conninfo(engine: Engine) -> str:
    """The engine's database as a libpq URL (what psycopg and the queue's connector take)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def holder_name() -> str:
    """What pg_stat_activity shows for a lease's connection: which process on which host holds it."""
    return f"casebinder lease {socket.gethostname()[:30]}:{os.getpid()}"


class PgLease:
    """An advisory lock named for one piece of work, held on a dedicated connection while it is held."""

    def __init__(self, engine: Engine, name: str):
        self.name = name
        self._conninfo = conninfo(engine)
        self._key = lock_key(name)
        self._conn: psycopg.Connection | None = None

    def acquire(self) -> bool:
        conn = psycopg.connect(self._conninfo, autocommit=True, application_name=holder_name())
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
        except BaseException:
            conn.close()
            raise
        if not (got and got[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        """Closing the connection drops the lock (an unlock first would only cost a round trip more)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()

    def held_elsewhere(self) -> bool:
        """True when another connection holds it (another process on any host, or another holder in this one)."""
        with psycopg.connect(self._conninfo, autocommit=True) as conn:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (self._key,)).fetchone()
            if got and got[0]:
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._key,))
                return False
        return True


def lease(name: str) -> FileLease | PgLease:
    """The lease named `name` ("bundle-<id>"), of the kind the database allows."""
    engine = get_engine()
    if engine.dialect.name == "postgresql":
        return PgLease(engine, name)
    return FileLease(get_settings().data_dir / "locks", name)
