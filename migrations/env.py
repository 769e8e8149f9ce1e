"""Alembic environment: the URL comes from settings unless the caller passed a connection."""

from alembic import context

import models  # noqa: F401 - registers every table on the metadata
from api.config import get_settings
from api.db import make_engine
from models.common import metadata
from models.search import in_metadata

config = context.config


def _configure(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copying them
        compare_type=True,
        include_name=in_metadata,  # the search engine's own tables are the migrations' alone
    )


def run_migrations_offline() -> None:
    context.configure(
        url=get_settings().database_url, target_metadata=metadata, literal_binds=True, render_as_batch=True
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _configure(connection)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            sqlite = conn.dialect.name == "sqlite"
            if sqlite:
                # Batch mode copies a table and drops the old one; with foreign keys on, that drop deletes every
                # row that cascades from the old one (altering `cases` would empty its members, bundles and the
                # rest). Off for the run (SQLite only takes it outside a transaction), and checked at the end.
                conn.exec_driver_sql("PRAGMA foreign_keys=OFF")
                conn.commit()
            _configure(conn)
            with context.begin_transaction():
                context.run_migrations()
                if sqlite and (broken := conn.exec_driver_sql("PRAGMA foreign_key_check").all()):
                    raise RuntimeError(f"the migration left rows naming rows that do not exist: {broken[:5]}")
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
