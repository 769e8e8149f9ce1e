"""Run Alembic from code, so `casebinder migrate` and the tests use the same path."""

from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config

import migrations

SCRIPTS = Path(migrations.__file__).resolve().parent


def alembic_config(url: str | None = None) -> Config:
    # Built in code rather than from alembic.ini, so an installed casebinder migrates from any directory.
    config = Config()
    config.set_main_option("script_location", str(SCRIPTS))
    if url:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@lru_cache
def _head() -> str:
    """This version's newest revision (read from the migration scripts once)."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError(f"no migration scripts in {SCRIPTS}: this installation of casebinder is incomplete")
    return head


def schema_behind(engine) -> str | None:
    """Why the database cannot be served by this version (its schema is not at this version's head), or None."""
    from alembic.runtime.migration import MigrationContext

    head = _head()
    with engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return None
    at = f"at revision {current}" if current else "not migrated"
    return f"the database is {at} and this version of casebinder needs {head}: run `casebinder migrate` first"


def upgrade(url: str | None = None, revision: str = "head") -> None:
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | None = None, revision: str = "base") -> None:
    command.downgrade(alembic_config(url), revision)
