"""Seed the demo: an account, a Lanham Act fake-review case, and generated evidence in it."""

import csv
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlmodel import col, select

from api.config import get_settings
from api.db import session_scope
from api.demo_data import generate
from api.deps import get_blob_store
from api.records.presets import paypal_activity_mapping
from api.records.sample import write_case_dataset
from api.services import analyses as analysis_service
from api.services import bundles as bundle_service
from api.services import cases as case_service
from api.services import evidence as evidence_service
from api.services import exhibits as exhibit_service
from api.services import record_sets as set_service
from api.services import text as text_service
from api.services import users as user_service
from models.analysis import AnalysisCreate
from models.bundle import Bundle, BundleRequest
from models.case import Case, CaseCreate, CaseType, Party
from models.evidence import EvidenceKind
from models.record_set import RecordRole, RecordSetStatus
from models.user import User, UserCreate

DEMO_EMAIL = "demo@casebinder.example"
DEMO_PASSWORD = "casebinder-demo"
DEMO_CASE_TITLE = "Acme Audio LLC v. Mpow Direct et al."
IMPORT_WAIT_SECONDS = 600  # for a record set a worker took first: a wait for a background job, not a limit


@dataclass
class DemoLogin:
    email: str
    password: str
    token: str
    case_id: str
    case_title: str
    exhibit_count: int
    bundle_id: str | None


def _demo_case() -> CaseCreate:
    return CaseCreate(
        title=DEMO_CASE_TITLE,
        docket_number="2:21-cv-04417",
        court="United States District Court, C.D. Cal.",
        case_type=CaseType.lanham_act,
        bates_prefix="ACME",
        timezone="America/Los_Angeles",
        parties=[
            Party(name="Acme Audio LLC", role="plaintiff"),
            Party(name="Mpow Direct", role="defendant"),
            Party(name="ReviewClub Deals", role="defendant"),
        ],
    )


def seed_demo(exhibits: int = 24, records: int = 300, say: Callable[[str], None] = lambda _: None) -> DemoLogin:
    """Create the demo account and case once; later runs reuse them and issue a fresh token. `say` tells what takes
    a while."""
    settings = get_settings()
    store = get_blob_store()
    with session_scope() as session:
        user = user_service.get_by_email(session, DEMO_EMAIL) or user_service.create_user(
            session, UserCreate(email=DEMO_EMAIL, password=DEMO_PASSWORD, full_name="Demo Paralegal", is_admin=True)
        )
        case = session.exec(select(Case).where(Case.title == DEMO_CASE_TITLE, Case.created_by == user.id)).first()
        seeding = case is None
        if case is None:
            case = case_service.create_case(session, actor=user, data=_demo_case())
            corpus = settings.data_dir.parent / "demo-corpus"
            for item in generate(corpus, exhibits=exhibits, records=records):
                kind = EvidenceKind(item.kind)
                meta = evidence_service.EvidenceMeta(
                    kind=kind,
                    title=item.title,
                    description=item.description,
                    occurred_at=item.occurred_at,
                    source_url=item.source_url,
                    custodian=item.custodian,
                    tags=item.tags,
                    facts=evidence_service.validate_facts(kind, item.facts),
                )
                evidence_service.ingest_file(session, store, case=case, actor=user, path=item.path, meta=meta)
        case_id, user_id = case.id, user.id
    if seeding:
        # The exhibits' text is read first (OCR of the screenshots and insert cards, some seconds), so that the first
        # bundle carries it: every picture's words searchable and selectable in the PDF.
        with session_scope() as session:
            waiting = text_service.backlog(session, case_id)
        say(f"reading the text of the demo's {len(waiting)} exhibits (OCR of its pictures: about a minute, once)")
        text_service.read_now(store, waiting)
    with session_scope() as session:
        found_case, found_user = session.get(Case, case_id), session.get(User, user_id)
        assert found_case is not None and found_user is not None  # made or found above
        case, user = found_case, found_user
        if seeding:
            # Queued, not built: the server builds it as it starts. Its Bates numbers then appear in the
            # timeline's citations, as they would once a real case's first bundle is out.
            bundle_service.create_bundle(
                session, case=case, actor=user, data=BundleRequest(title="Plaintiff's Exhibits")
            )
    if seeding:
        _seed_record_sets(case_id, user_id, settings.data_dir.parent / "demo-corpus" / "record-sets", say)
    with session_scope() as session:
        found_case, found_user = session.get(Case, case_id), session.get(User, user_id)
        assert found_case is not None and found_user is not None
        case, user = found_case, found_user
        token, _ = user_service.issue_token(session, user, ttl=timedelta(days=30), name="demo")
        count = exhibit_service.count(session, case)
        bundle = session.exec(
            select(Bundle).where(col(Bundle.case_id) == case.id).order_by(col(Bundle.created_at).desc(), col(Bundle.id))
        ).first()
        bundle_id = str(bundle.id) if bundle is not None else None
    return DemoLogin(DEMO_EMAIL, DEMO_PASSWORD, token, str(case.id), case.title, count, bundle_id)


def _seed_record_sets(case_id: uuid.UUID, user_id: uuid.UUID, folder: Path, say: Callable[[str], None]) -> None:
    """The case's data, as record sets: a small click farm (reviews, payments, chats, accounts and orders, with
    review-for-refund chains planted among honest records and the traps the finder must not fall into), imported
    here and now (one a worker took first is waited for), and the finder's analysis of them queued for the server to
    run as it starts. Seeded after the bundle is queued, whose exhibits are the case's documents, not these files.

    The case's PayPal activity export, an exhibit already, is read into records too, as PayPal wrote it (its records
    cite that exhibit); the analysis is of the click farm's files, whose payments it does not hold."""
    from api.worker import records_runner

    manifest = write_case_dataset(folder, reviewers=300)
    say(f"importing the demo's {len(manifest.files) + 1} record sets and queuing the review-for-refund finder")
    store = get_blob_store()
    made: dict[str, list[uuid.UUID]] = {}
    with session_scope() as session:
        case, user = session.get(Case, case_id), session.get(User, user_id)
        assert case is not None and user is not None
        for f in manifest.files:
            record_set = set_service.create_from_file(
                session, store, case=case, actor=user, path=folder / f.path, name=f.name, role=RecordRole(f.role),
                mapping=f.mapping,
            )  # fmt: skip
            made.setdefault(f"{f.role[:-1]}_sets", []).append(record_set.id)
        export = folder.parent / "records" / "paypal_activity.csv"
        with export.open(encoding="utf-8") as lines:
            header = next(csv.reader(lines))
        paypal = set_service.create_from_file(
            session, store, case=case, actor=user, path=export, name="PayPal activity export, record by record",
            role=RecordRole.payments, mapping=paypal_activity_mapping(header), date_order="mdy",
        )  # fmt: skip
    every = [set_id for ids in made.values() for set_id in ids] + [paypal.id]
    for set_id in every:
        records_runner.take(set_id)  # False when a worker took it first: it is waited for below
    ended = (RecordSetStatus.done, RecordSetStatus.failed)
    deadline = time.monotonic() + IMPORT_WAIT_SECONDS
    while True:
        with session_scope() as session:
            states = [set_service.QUEUE.status_of(session, set_id) for set_id in every]
        if all(state in ended for state in states) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    if any(state != RecordSetStatus.done for state in states):
        say("the demo's record sets were not all imported, so the finder's analysis is not queued")
        return
    with session_scope() as session:
        case, user = session.get(Case, case_id), session.get(User, user_id)
        assert case is not None and user is not None
        data = AnalysisCreate.model_validate({"type": "review_for_refund"} | made)
        analysis_service.create(session, case=case, actor=user, data=data)
