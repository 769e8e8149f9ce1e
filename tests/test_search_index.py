"""The search index for data stored before it existed: `casebinder migrate` indexes a database from before search,
`casebinder search reindex [--case ID]` rebuilds; both run as real processes."""

import json
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import delete, func, select
from sqlmodel import Session

from api import migrate
from api.db import make_engine, session_scope
from api.services.search import find
from models.case import Case, CaseMember, CaseType, Role
from models.evidence import EvidenceItem, EvidenceKind
from models.exhibit import Exhibit
from models.search import SearchDocument
from models.timeline import EventSource, Precision, TimelineEvent
from models.user import User
from tests.helpers import run_cli
from tests.server_process import fresh_database
from tests.test_search import event, found, text_item, word
from tests.text_support import wait_text

pytestmark = pytest.mark.slow


def test_reindex_rebuilds_a_case_that_lost_its_documents(alice):
    case, tag = alice.make_case(), word()
    item = text_item(alice, case["id"], f"{tag} receipt", kind="refund_record", title=f"Receipt {tag}")
    made = event(alice, case["id"], title=f"Refund of {tag}")
    before = sorted((h["type"], h["field"]) for h in found(alice, tag))
    assert before == [("event", "event"), ("evidence", "text"), ("evidence", "title")]
    with session_scope() as session:  # as a database restored from a backup taken without its search tables would be
        session.execute(delete(SearchDocument).where(SearchDocument.evidence_id == uuid.UUID(item["id"])))
        session.execute(delete(SearchDocument).where(SearchDocument.event_id == uuid.UUID(made["id"])))
    assert found(alice, tag) == []

    done = run_cli("search", "reindex", "--case", case["id"])
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("indexed 1 items (1 pages of text) and 1 timeline events"), done.stdout
    assert sorted((h["type"], h["field"]) for h in found(alice, tag)) == before

    for wrong, says in (("not-a-case", "is not a case id"), (str(uuid.uuid4()), "no case")):
        refused = run_cli("search", "reindex", "--case", wrong)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr


def test_reading_the_text_again_replaces_its_documents(alice):
    case, tag = alice.make_case(), word()
    item = text_item(alice, case["id"], f"{tag} first reading")
    r = alice.post(f"/api/v1/evidence/{item['id']}/text/rerun", json={})
    assert r.status_code == 202, r.text
    wait_text(alice, item["id"])
    assert [h["evidence_id"] for h in found(alice, tag)] == [item["id"]]  # once, not once per reading


def test_migrate_indexes_a_database_from_before_search(tmp_path):
    url, drop = fresh_database(tmp_path)
    engine = make_engine(url)
    tag = word()
    try:
        migrate.downgrade(url, "0014")
        now = datetime(2021, 3, 4, 12, tzinfo=UTC)
        with Session(engine) as session:  # rows as a version without search stored them
            user = User(email=f"old-{tag}@firm.example", password_hash="x")
            session.add(user)
            session.flush()
            case = Case(title="Old v. New", case_type=CaseType.other, created_by=user.id)
            session.add(case)
            session.flush()
            session.add(CaseMember(case_id=case.id, user_id=user.id, role=Role.owner))
            item = EvidenceItem(
                case_id=case.id, sha256="0" * 64, size_bytes=1, media_type="text/plain", original_filename="a.txt",
                kind=EvidenceKind.other, title=f"Old evidence {tag}", facts={"note": json.dumps(tag)},
                uploaded_by=user.id,
            )  # fmt: skip
            session.add(item)
            session.flush()
            session.add(
                Exhibit(case_id=case.id, evidence_id=item.id, number=1, label="PX-001", position=1, created_by=user.id)
            )
            session.add(
                TimelineEvent(
                    case_id=case.id, occurred_at=now, occurred_until=now, precision=Precision.day,
                    title=f"Old event {tag}", kind="other", source=EventSource.manual, created_by=user.id,
                )
            )  # fmt: skip
            session.commit()
            user_id = user.id

        done = run_cli("migrate", env_extra={"CASEBINDER_DATABASE_URL": url, "CASEBINDER_DATA_DIR": str(tmp_path)})
        assert done.returncode == 0, done.stderr
        assert "indexing the stored evidence and timelines for search" in done.stderr

        with Session(engine) as session:
            assert session.execute(select(func.count()).select_from(SearchDocument)).scalar_one() == 2
            hits, _ = find.search(session, session.get(User, user_id), find.parse_filter(f"old {tag}"))
            assert sorted((h["type"], h["exhibit_label"]) for h in hits) == [("event", None), ("evidence", "PX-001")]
        again = run_cli("migrate", env_extra={"CASEBINDER_DATABASE_URL": url, "CASEBINDER_DATA_DIR": str(tmp_path)})
        assert again.returncode == 0 and "indexing" not in again.stderr  # indexed once
    finally:
        engine.dispose()
        drop()
