"""Migrations: upgrade, downgrade, upgrade on an empty database, and no drift from the models."""

import os
import uuid

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from api import migrate
from api.db import make_engine
from models.common import metadata
from models.search import in_metadata


def _empty_database(tmp_path):
    wanted = os.environ.get("CASEBINDER_TEST_DATABASE_URL", "")
    if not wanted.startswith("postgresql"):
        return f"sqlite:///{tmp_path / 'migrations.db'}", lambda: None
    name = f"casebinder_mig_{uuid.uuid4().hex[:8]}"
    admin = create_engine(wanted, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop():
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return make_url(wanted).set(database=name).render_as_string(hide_password=False), drop


def _record_sets(session, roles) -> dict:
    """A user, a case and a record set of each role (its original an evidence item), flushed: {role: record set}."""
    from api.records import load
    from models.case import Case
    from models.evidence import EvidenceItem
    from models.record_set import RecordFormat, RecordSet
    from models.user import User

    user = User(email="old@firm.example", password_hash="x")
    session.add(user)
    session.flush()
    case = Case(title="Old", case_type="lanham_act", created_by=user.id)
    session.add(case)
    session.flush()
    sets = {}
    for role in roles:
        item = EvidenceItem(case_id=case.id, sha256=role.value.ljust(64, "0"), size_bytes=1,
                            media_type="application/json", original_filename=f"{role.value}.json",
                            kind="other", title=role.value, uploaded_by=user.id)  # fmt: skip
        session.add(item)
        session.flush()
        sets[role] = RecordSet(case_id=case.id, evidence_id=item.id, name=role.value, role=role,
                               format=RecordFormat.jsonl, created_by=user.id)  # fmt: skip
        session.add(sets[role])
        session.flush()
        load.prepare(session, sets[role].id)  # its records' place, as its import makes it
    return sets


def test_upgrade_downgrade_upgrade_and_no_drift(tmp_path, database_url):
    url, drop = _empty_database(tmp_path)
    try:
        migrate.upgrade(url)
        migrate.downgrade(url, "base")
        engine = make_engine(url)
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        engine.dispose()
        migrate.upgrade(url)
        engine = make_engine(url)
        with engine.connect() as conn:
            opts = {"compare_type": True, "include_name": in_metadata}  # as migrations/env.py compares them
            diff = compare_metadata(MigrationContext.configure(conn, opts=opts), metadata)
        engine.dispose()
        assert diff == [], diff
    finally:
        drop()


def test_the_server_refuses_a_database_behind_its_schema_with_the_fix_in_the_message(tmp_path):
    """Started on an older database, the server says to migrate, instead of failing on a missing table later."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    try:
        assert "not migrated" in migrate.schema_behind(engine)
        migrate.upgrade(url, "0005")
        behind = migrate.schema_behind(engine)
        assert behind.startswith("the database is at revision 0005 and this version of casebinder needs 0")
        assert behind.endswith("run `casebinder migrate` first")
        migrate.upgrade(url)
        assert migrate.schema_behind(engine) is None
    finally:
        engine.dispose()


def test_altering_cases_keeps_every_row_that_hangs_off_a_case(tmp_path, database_url):
    """SQLite alters a table by copying it and dropping the old one; with foreign keys on, that drop would delete
    every row that cascades from a case. 0011 alters `cases`: its members and bundles must still be there, after
    the upgrade and after the downgrade."""
    url, drop = _empty_database(tmp_path)
    engine = None
    try:
        migrate.upgrade(url, "0009")
        engine = make_engine(url)
        user, case, bundle = (uuid.uuid4().hex for _ in range(3))
        now = "2026-12-02 14:00:00"
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO users (id, email, password_hash, is_admin, is_active, created_at) "
                    "VALUES (:id, 'old@firm.example', 'x', false, true, :now)"
                ),
                {"id": user, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO cases (id, title, case_type, exhibit_label_template, timezone, parties, "
                    "next_exhibit_number, created_by, created_at, updated_at) "
                    "VALUES (:id, 'Old', 'other', 'PX-{n:03d}', 'UTC', '[]', 1, :user, :now, :now)"
                ),
                {"id": case, "user": user, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO case_members (case_id, user_id, role, added_at) VALUES (:case, :user, 'owner', :now)"
                ),
                {"case": case, "user": user, "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO bundles (id, case_id, title, params, bates_prefix, status, progress_done, "
                    "progress_total, volumes, validation, created_by, created_at) "
                    "VALUES (:id, :case, 'Exhibits', '{}', 'OLD', 'done', 0, 0, '[]', '{}', :user, :now)"
                ),
                {"id": bundle, "case": case, "user": user, "now": now},
            )

        def counts() -> list[int]:
            with engine.connect() as conn:
                return [
                    conn.execute(text(f"SELECT count(*) FROM {t}")).scalar()
                    for t in ("cases", "case_members", "bundles")
                ]

        migrate.upgrade(url)
        assert counts() == [1, 1, 1]
        with engine.connect() as conn:
            assert conn.execute(text("SELECT filed_bundle_id FROM cases")).scalar() is None
        migrate.downgrade(url, "0009")
        assert counts() == [1, 1, 1]
    finally:
        if engine is not None:
            engine.dispose()
        drop()


def test_a_record_keeps_its_rating_or_amount_as_its_number_after_the_upgrade(tmp_path, database_url):
    """0019 gives records a `number` column and fills it for the records stored before: a review's rating, a
    payment's or an order's amount, nothing for other roles."""
    from sqlmodel import Session

    from models.record_set import Record, RecordRole

    url, drop = _empty_database(tmp_path)
    engine = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            fields_of = {
                RecordRole.reviews: {"reviewer_id": "A1", "rating": 4.5, "reviewed_at": "2021-03-04T10:00:00Z"},
                RecordRole.payments: {"amount": "1234.56", "paid_at": "2021-03-05T10:00:00Z"},
                RecordRole.accounts: {"account_id": "A1"},
            }
            sets = {role: record_set.id for role, record_set in _record_sets(session, fields_of).items()}
            for role, set_id in sets.items():
                session.add(Record(record_set_id=set_id, row=1, fields=fields_of[role], source_line="{}"))
            session.commit()
        engine.dispose()
        migrate.downgrade(url, "0018")
        migrate.upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            numbers = {role: session.get(Record, (set_id, 1)).number for role, set_id in sets.items()}
        assert numbers == {RecordRole.reviews: 4.5, RecordRole.payments: 1234.56, RecordRole.accounts: None}
    finally:
        if engine is not None:
            engine.dispose()
        drop()


def _reviews_indexed_by_reviewer(engine, reviewers: dict[int, str]) -> tuple[uuid.UUID, str, str]:
    """A record set of reviews, a record at each row of `reviewers` by its reviewer, and the set's own index on the
    reviewer as an import makes it: (the set's id, the index's name, the set's SQL condition)."""
    from sqlmodel import Session

    from api.records import load
    from models.record_set import Record, RecordRole

    with Session(engine) as session:
        record_set = _record_sets(session, [RecordRole.reviews])[RecordRole.reviews]
        for row, reviewer in reviewers.items():
            line = f'{{"reviewer": "{reviewer}", "stars": 5}}'
            session.add(Record(record_set_id=record_set.id, row=row, k2=reviewer, number=5.0, source_line=line,
                               fields={"reviewer_id": reviewer, "rating": 5}))  # fmt: skip
        session.commit()
        set_id = record_set.id
    name = load.index_name(set_id, "k2")
    where = load.set_clause(set_id, engine.dialect.name)
    with engine.begin() as conn:
        conn.execute(text(load.index_statement(set_id, "k2", engine.dialect.name)))
    return set_id, name, where


def _indexes_of_set(conn, set_id: uuid.UUID) -> set[str]:
    """The names of the sets' own indexes on the table holding the set's records: its partition on PostgreSQL (from
    0023), the records table otherwise."""
    from api.records import load

    table = load.set_table(set_id, conn.dialect.name)
    if not inspect(conn).has_table(table):
        table = "records"
    return {i["name"] for i in inspect(conn).get_indexes(table) if i["name"].startswith("ix_rs_")}


def test_records_lose_their_foreign_key_and_keep_their_rows_and_their_sets_indexes(tmp_path, database_url):
    """0020 drops the records' foreign key to their record set (PostgreSQL checked it row by row as a set was copied
    in). SQLite cannot drop a key in place, so there the table is made again: its rows and each set's own partial
    indexes come through, down to 0019 (the key back) and up again."""

    url, drop = _empty_database(tmp_path)
    engine = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        set_id, name, where = _reviews_indexed_by_reviewer(engine, {1: "A1", 3: "Zoë 王"})

        def state():
            with engine.connect() as conn:
                rows = conn.execute(text("SELECT row, k2, number, source_line FROM records ORDER BY row")).all()
                indexes = _indexes_of_set(conn, set_id)
            return rows, indexes, inspect(engine).get_foreign_keys("records")

        rows, indexes, keys = state()
        assert [r[1] for r in rows] == ["A1", "Zoë 王"] and name in indexes and keys == []
        engine.dispose()
        migrate.downgrade(url, "0019")
        assert state()[:2] == (rows, indexes) and [k["referred_table"] for k in state()[2]] == ["record_sets"]
        engine.dispose()
        migrate.upgrade(url)
        assert state() == (rows, indexes, [])
        with engine.connect() as conn:  # the set's index still holds its rows and answers for them
            found = conn.execute(text(f"SELECT row FROM records WHERE {where} AND k2 = :k"), {"k": "Zoë 王"}).all()
        assert found == [(3,)]
    finally:
        if engine is not None:
            engine.dispose()
        drop()


def test_record_keys_compare_byte_by_byte_on_postgresql_and_the_sets_indexes_still_answer(tmp_path, database_url):
    """0021 gives the records' keys collation "C" on PostgreSQL (a set's indexes on them sorted twice as fast), which
    rebuilds those indexes: down to 0020 (the database's collation) and up again, a set's index still finds its
    record, and a key that sorts apart in a language's order and in bytes is matched exactly. SQLite is unchanged."""

    url, drop = _empty_database(tmp_path)
    engine = None
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        postgres = engine.dialect.name == "postgresql"
        set_id, name, where = _reviews_indexed_by_reviewer(engine, {1: "a1", 2: "B1", 3: "Zoë 王"})

        def collations():
            if not postgres:
                return None
            with engine.connect() as conn:
                return set(
                    conn.execute(
                        text(
                            "SELECT column_name, collation_name FROM information_schema.columns "
                            "WHERE table_name = 'records' AND column_name ~ '^k[1-6]$'"
                        )  # fmt: skip
                    ).all()
                )

        def found(reviewer):
            with engine.connect() as conn:
                sql = f"SELECT row FROM records WHERE {where} AND k2 = :k"
                return conn.execute(text(sql), {"k": reviewer}).scalars().all()

        engine.dispose()
        migrate.downgrade(url, "0020")
        assert collations() in (None, {(f"k{n}", None) for n in range(1, 7)})
        assert found("Zoë 王") == [3]
        engine.dispose()
        migrate.upgrade(url)
        assert collations() in (None, {(f"k{n}", "C") for n in range(1, 7)})
        with engine.connect() as conn:
            assert name in _indexes_of_set(conn, set_id)
            ordered = conn.execute(text(f"SELECT k2 FROM records WHERE {where} ORDER BY k2")).scalars().all()
        assert [found(r) for r in ("a1", "B1", "Zoë 王", "zoë 王")] == [[1], [2], [3], []]
        if postgres:
            assert ordered == ["B1", "Zoë 王", "a1"]  # bytes: capitals first
    finally:
        if engine is not None:
            engine.dispose()
        drop()
