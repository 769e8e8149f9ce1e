"""The exhibit order of a case: places 1..n with no gaps, which the API shows as each exhibit's `position`.

A move or an unlink shifts only the exhibits between the old place and the new one, in one UPDATE: moving one
place (the Move up and Move down buttons, a drag within a page) touches two rows whatever the size of the case,
and only a jump across the whole list touches them all. Callers hold the case's lock (exhibits.lock_case).
"""

import uuid

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from api.pagination import encode_cursor
from models.exhibit import Exhibit

# The keyset of the exhibit-order list (exhibits.list_exhibits): its cursor kind, and an id above every id, so a
# cursor made from a place alone starts the page at the next place.
LIST_KIND = "exhibits"
_ABOVE_EVERY_ID = uuid.UUID(int=(1 << 128) - 1)


def last_position(session: Session, case_id: uuid.UUID) -> int:
    """The last place in the case's order (0 with no exhibits): read from the end of the (case_id, position, id)
    index, where counting the exhibits would read every entry."""
    last = session.exec(select(func.max(Exhibit.position)).where(Exhibit.case_id == case_id)).one()
    return last or 0


def move(session: Session, exhibit: Exhibit, target: int) -> int:
    """Put `exhibit` at place `target` (past the end means last), shifting the exhibits between by one place.
    Returns the place it ends at."""
    target = max(1, min(target, last_position(session, exhibit.case_id)))
    current = exhibit.position
    if target != current:
        step, low, high = (1, target, current - 1) if target < current else (-1, current + 1, target)
        session.execute(
            update(Exhibit)
            .where(col(Exhibit.case_id) == exhibit.case_id, col(Exhibit.position).between(low, high))
            .values(position=Exhibit.position + step)
            .execution_options(synchronize_session=False)
        )
        exhibit.position = target
    return target


def close_gap(session: Session, case_id: uuid.UUID, position: int) -> None:
    """The exhibits after a place that was just vacated move up one place."""
    session.execute(
        update(Exhibit)
        .where(col(Exhibit.case_id) == case_id, col(Exhibit.position) > position)
        .values(position=Exhibit.position - 1)
        .execution_options(synchronize_session=False)
    )


def page_cursor(first: int) -> str | None:
    """A cursor for the list in exhibit order whose page starts at place `first`: how a page shows the exhibits
    around one that has just moved, wherever it landed (None for the first page)."""
    return encode_cursor(LIST_KIND, [first - 1, _ABOVE_EVERY_ID]) if first > 1 else None
