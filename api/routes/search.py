"""Full-text search across every case the caller is a member of."""

import uuid
from typing import Literal

from fastapi import APIRouter, Query

from api.deps import CurrentUser, SessionDep
from api.errors import error_responses
from api.json_body import CheckedJSONRoute
from api.services.search import find
from models.exhibit import Designation
from models.inputs import FILTER_VALUES_MAX, Choice, Cursor, DateBound, SearchQuery, Tag
from models.search import SearchPage

router = APIRouter(tags=["search"], route_class=CheckedJSONRoute)

ANY_OF = "Repeat (or separate with commas) to match any of several."
SYNTAX = (
    "The words to find. Words separated by spaces must all occur; AND, OR and a NOT b (a without b) in capitals, "
    'with parentheses to group; "five star" is a phrase; refund* a prefix. Case does not matter, and words match '
    "their other forms (refund finds refunded and refunds)."
)


@router.get("/search", response_model=SearchPage, responses=error_responses(400, 401, 404, 422))
def search(
    session: SessionDep,
    user: CurrentUser,
    q: SearchQuery | None = Query(None, description=SYNTAX),
    case_id: uuid.UUID | None = Query(None, description="Only this case (404 unless you are a member)."),
    kind: list[Choice] | None = Query(
        None, max_length=FILTER_VALUES_MAX, description=f"Evidence kind (for events, the cited evidence's). {ANY_OF}"
    ),
    tag: list[Tag] | None = Query(None, max_length=FILTER_VALUES_MAX, description=f"Tag. {ANY_OF}"),
    start: DateBound | None = Query(
        None,
        alias="from",
        description="Evidence dated on or after this (occurred_at, else captured_at; events whose span reaches it). "
        "2021, 2021-03, 2021-03-04 or a datetime; without an offset, in each case's timezone.",
    ),
    end: DateBound | None = Query(None, alias="to", description="Dated on or before this: 2021-03 includes March."),
    designation: Designation | None = Query(
        None, description="The exhibit's designation in the case (evidence that is no exhibit there: none)."
    ),
    type: Literal["evidence", "event"] | None = Query(None, description="Only evidence, or only timeline events."),
    limit: int = find.DEFAULT_LIMIT,
    cursor: Cursor | None = None,
):
    """Search the text of every item (its pages, read by OCR where they are pictures), their titles, descriptions
    and facts, and timeline events, in every case you are a member of: best hits first, each with a snippet.
    An item linked into several of your cases is a hit in each. Nothing is counted."""
    f = find.parse_filter(
        q, kind=kind, tag=tag, case_id=case_id, start=start, end=end, designation=designation, type=type
    )
    items, next_cursor = find.search(session, user, f, limit=limit, cursor=cursor)
    return {"items": items, "next_cursor": next_cursor}
