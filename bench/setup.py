"""Give a benchmark its own database and blob store, migrated, with one user, token and case."""

import os
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api import migrate
from api.config import get_settings
from api.db import get_engine, session_scope
from api.deps import _local_store
from api.services import cases as case_service
from api.services import users as user_service
from models.case import CaseCreate, CaseType
from models.user import UserCreate


@dataclass
class Workspace:
    database_url: str
    data_dir: Path
    token: str
    case_id: str
    drop: callable

    @property
    def env(self) -> dict:
        return {"CASEBINDER_DATABASE_URL": self.database_url, "CASEBINDER_DATA_DIR": str(self.data_dir)}


def make_workspace(root: Path, postgres_url: str | None = None) -> Workspace:
    """A migrated database (SQLite under root, or a fresh PostgreSQL database) with a user, token and case."""
    root.mkdir(parents=True, exist_ok=True)
    drop = lambda: None  # noqa: E731
    if postgres_url:
        name = f"casebinder_bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(postgres_url).set(database=name).render_as_string(hide_password=False)

        def drop():
            get_engine().dispose()
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    else:
        url = f"sqlite:///{root / 'bench.db'}"
    os.environ["CASEBINDER_DATABASE_URL"] = url
    os.environ["CASEBINDER_DATA_DIR"] = str(root / "blobs")
    for cache in (get_settings, get_engine, _local_store):
        cache.cache_clear()
    migrate.upgrade(url)
    with session_scope() as session:
        user = user_service.create_user(
            session, UserCreate(email="bench@casebinder.example", password="bench-password")
        )
        token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=6), name="bench")
        case = case_service.create_case(
            session, actor=user, data=CaseCreate(title="Benchmark v. Click Farm", case_type=CaseType.lanham_act)
        )
        case_id = str(case.id)
    return Workspace(url, root / "blobs", token, case_id, drop)
