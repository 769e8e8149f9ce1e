"""Work kept as rows and run in the background (bundles, verify runs, import jobs): the oldest one waiting, and
claiming it. A row goes from `queued` to `running` in one conditional update, so two runners never take the
same piece of work."""

import uuid

from sqlalchemy import update
from sqlmodel import Session, select


def oldest_queued(session: Session, model: type, *order) -> uuid.UUID | None:
    """The id of the first queued row by `order` (None when nothing waits)."""
    return session.exec(select(model.id).where(model.status == "queued").order_by(*order)).first()


def claim(session: Session, model: type, work_id: uuid.UUID, **values) -> bool:
    """Mark a queued row running, with `values`; False when another runner claimed it first."""
    stmt = update(model).where(model.id == work_id, model.status == "queued").values(status="running", **values)
    return bool(session.execute(stmt).rowcount)
