"""Cases and their membership."""

import uuid

from sqlalchemy import func
from sqlalchemy import select as sql_select
from sqlmodel import Session, col, select

from api.errors import Conflict, Forbidden, NotFound, UnprocessableEntity
from api.pagination import keyset_page, parse_datetime, parse_uuid
from api.services import audit
from api.services import users as user_service
from models.audit import AuditEvent
from models.bundle import Bundle
from models.case import Case, CaseCreate, CaseMember, CaseUpdate, MemberCreate, Role
from models.common import utcnow
from models.exhibit import Exhibit
from models.timeline import TimelineEvent
from models.user import User


class LastOwner(Conflict):
    """A case needs at least one owner: add another owner first."""

    code = "last_owner"


class AlreadyMember(Conflict):
    """The user is a member of the case already: change their role instead."""

    code = "already_member"


def create_case(session: Session, *, actor: User, data: CaseCreate) -> Case:
    """Create a case; its creator becomes its owner."""
    case = Case.model_validate(
        data.model_dump(exclude={"parties"}) | {"parties": [p.model_dump() for p in data.parties]},
        update={"created_by": actor.id},
    )
    session.add(case)
    session.flush()
    session.add(CaseMember(case_id=case.id, user_id=actor.id, role=Role.owner))
    session.flush()
    audit.record_case(
        session, "case.create", case.id, actor=actor, details={"title": case.title, "case_type": case.case_type}
    )
    return case


def get_with_role(session: Session, case_id: uuid.UUID, user: User) -> tuple[Case | None, Role | None]:
    """The case and the user's role in it; (None, None) when missing or not a member."""
    row = session.exec(
        select(Case, CaseMember.role)
        .join(CaseMember, col(CaseMember.case_id) == Case.id)
        .where(Case.id == case_id, CaseMember.user_id == user.id)
    ).first()
    return (row[0], Role(row[1])) if row else (None, None)


def list_cases(session: Session, *, user: User, limit: int, cursor: str | None):
    """Cases the user is a member of, oldest first, with the user's role."""
    stmt = (
        select(Case, CaseMember.role)
        .join(CaseMember, col(CaseMember.case_id) == Case.id)
        .where(CaseMember.user_id == user.id)
    )
    return keyset_page(
        session,
        stmt,
        kind="cases",
        columns=[Case.created_at, Case.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda row: (row[0].created_at, row[0].id),
        limit=limit,
        cursor=cursor,
    )


def member_case_titles(session: Session, *, user: User, limit: int) -> list[tuple[uuid.UUID, str]]:
    """(id, title) of the first `limit` cases the user is a member of, by title: what a choice of case offers."""
    stmt = (
        sql_select(col(Case.id), col(Case.title))
        .join(CaseMember, col(CaseMember.case_id) == Case.id)
        .where(col(CaseMember.user_id) == user.id)
        .order_by(func.lower(col(Case.title)), col(Case.id))
        .limit(limit)
    )
    return [(case_id, title) for case_id, title in session.execute(stmt)]


def _counted(model):
    return select(func.count()).select_from(model).where(col(model.case_id) == Case.id).scalar_subquery()


_LAST_ACTIVITY = (
    select(AuditEvent.at)
    .where(col(AuditEvent.case_id) == Case.id)
    .order_by(col(AuditEvent.seq).desc())
    .limit(1)
    .scalar_subquery()
)


def list_overview(session: Session, *, user: User, limit: int, cursor: str | None):
    """Cases the user is a member of, newest first, each as (case, role, exhibits, events, bundles, last activity):
    what a list of one's cases shows, in one query."""
    stmt = (
        sql_select(
            Case,
            col(CaseMember.role),
            _counted(Exhibit).label("exhibits"),
            _counted(TimelineEvent).label("events"),
            _counted(Bundle).label("bundles"),
            _LAST_ACTIVITY.label("last_activity"),
        )
        .join(CaseMember, col(CaseMember.case_id) == Case.id)
        .where(col(CaseMember.user_id) == user.id)
    )
    return keyset_page(
        session,
        stmt,
        kind="case-overview",
        columns=[Case.created_at, Case.id],
        parsers=[parse_datetime, parse_uuid],
        key=lambda row: (row[0].created_at, row[0].id),
        limit=limit,
        cursor=cursor,
        descending=True,
    )


def update_case(session: Session, case: Case, data: CaseUpdate, *, actor: User) -> Case:
    """Apply the fields that were sent."""
    changes = data.model_dump(exclude_unset=True)
    if "parties" in changes:
        changes["parties"] = [p.model_dump() for p in data.parties or []]
    for field in ("title", "case_type", "exhibit_label_template", "timezone"):
        if field in changes and changes[field] is None:
            raise UnprocessableEntity(f"{field} cannot be cleared")
    before, after = audit.changed(case, changes)
    case.sqlmodel_update(changes)
    case.updated_at = utcnow()
    session.add(case)
    session.flush()
    audit.record_case(session, "case.update", case.id, actor=actor, details={"before": before, "after": after})
    return case


def list_members(session: Session, case: Case) -> list[tuple[CaseMember, User]]:
    return list(
        session.exec(
            select(CaseMember, User)
            .join(User, col(User.id) == CaseMember.user_id)
            .where(CaseMember.case_id == case.id)
            .order_by(col(CaseMember.added_at), col(User.email))
        ).all()
    )


def _owner_count(session: Session, case: Case) -> int:
    return session.exec(
        select(func.count()).select_from(CaseMember).where(CaseMember.case_id == case.id, CaseMember.role == Role.owner)
    ).one()


def add_member(
    session: Session, case: Case, data: MemberCreate, *, actor: User, new_only: bool = False
) -> tuple[CaseMember, User, bool]:
    """Add a user by email, or change the role of one already in the case (unless `new_only`: then a member is
    refused, as a form that only adds people must not change a role unasked). Returns (member, user, created)."""
    user = user_service.get_by_email(session, data.email)
    if user is None:
        raise NotFound(
            f"no user with email {data.email.strip().lower()}; an administrator must create the account first"
        )
    member = session.get(CaseMember, (case.id, user.id))
    if member is None:
        member = CaseMember(case_id=case.id, user_id=user.id, role=data.role)
        session.add(member)
        session.flush()
        _record_member(session, "member.add", case, actor, user, {"role": data.role})
        return member, user, True
    if new_only:
        raise AlreadyMember(
            f"this case already has {user.email} as a member ({member.role}): change their role in the list instead"
        )
    return _set_role(session, case, member, user, data.role, actor=actor), user, False


def change_role(session: Session, case: Case, user_id: uuid.UUID, role: Role, *, actor: User) -> CaseMember:
    """Give a member of the case another role; the last owner keeps theirs."""
    member = session.get(CaseMember, (case.id, user_id))
    user = session.get(User, user_id)
    if member is None or user is None:
        raise NotFound("that user is not a member of this case")
    return _set_role(session, case, member, user, role, actor=actor)


def _set_role(session: Session, case: Case, member: CaseMember, user: User, role: Role, *, actor: User) -> CaseMember:
    if member.role == Role.owner and role != Role.owner and _owner_count(session, case) <= 1:
        raise LastOwner("a case needs at least one owner: add another owner before demoting this one")
    before = member.role
    member.role = role
    session.add(member)
    session.flush()
    _record_member(session, "member.role", case, actor, user, {"before": {"role": before}, "after": {"role": role}})
    return member


def _record_member(session: Session, action: str, case: Case, actor: User, user: User, details: dict) -> None:
    audit.record(
        session,
        action,
        actor=actor,
        case_id=case.id,
        object_type="user",
        object_id=user.id,
        details={"email": user.email} | details,
    )


def remove_member(session: Session, case: Case, *, actor: User, actor_role: Role, user_id: uuid.UUID) -> None:
    """Owners remove anyone; every member may remove themself. The last owner stays."""
    if actor_role != Role.owner and actor.id != user_id:
        raise Forbidden("only an owner can remove other members")
    member = session.get(CaseMember, (case.id, user_id))
    if member is None:
        raise NotFound("that user is not a member of this case")
    if member.role == Role.owner and _owner_count(session, case) <= 1:
        raise LastOwner("a case needs at least one owner: add another owner before removing this one")
    role = member.role
    session.delete(member)
    session.flush()
    audit.record(
        session,
        "member.remove",
        actor=actor,
        case_id=case.id,
        object_type="user",
        object_id=user_id,
        details={"role": role},
    )
