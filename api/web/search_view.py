"""What the search page shows around the search service (api/services/search/find.py): its form read into the
service's filter, a refusal in words, and each hit as a result a person reads and follows. Which items match, in
which order, and what their snippets say is the service's to decide: nothing here searches."""

import re
import uuid
from dataclasses import dataclass, replace
from typing import Annotated
from urllib.parse import urlencode

from fastapi import Query
from markupsafe import Markup, escape
from sqlmodel import Session

from api.errors import NotFound, UnprocessableEntity
from api.services import cases as case_service
from api.services import text as text_service
from api.services.search import find
from api.web import text_words
from api.web.case_page import DESIGNATIONS, KINDS
from api.web.render import sentence
from api.web.timeline_view import KINDS as EVENT_KINDS
from models.exhibit import Designation
from models.inputs import CURSOR_CHARS, SEARCH_QUERY_CHARS, WRITTEN_DATE_CHARS
from models.user import User

PER_PAGE = 20
CASES_OFFERED = 1000  # cases the case filter lists; one chosen beyond them is added
TYPES = {"": "Evidence and events", "evidence": "Evidence only", "event": "Timeline events only"}
FIELDS = {"title": "In its title", "description": "In its description", "facts": "In its facts"}
ANCHORS = {"description": "#details", "facts": "#facts"}
# The form's fields by their names in the address, which the service's messages start with ("from: ...").
FORM_FIELDS = ("q", "case_id", "kind", "tag", "from", "to", "designation", "type")
MARK_TAGS = re.compile(r"</?mark>")
FILTER_CHOICES = {"kinds": KINDS, "designations": DESIGNATIONS, "types": TYPES}  # what the form's lists offer
HEAD = re.compile(r"[\s:(]")


@dataclass(frozen=True)
class SearchForm:
    """The search page's form as written: the words, and the filters (each one value; blank is no filter)."""

    q: str = ""
    case_id: str = ""
    kind: str = ""
    tag: str = ""
    start: str = ""
    end: str = ""
    designation: str = ""
    type: str = ""

    @classmethod
    def from_query(
        cls,
        q: str = "",
        case_id: str = "",
        kind: str = "",
        tag: str = "",
        start: Annotated[str, Query(alias="from")] = "",
        end: Annotated[str, Query(alias="to")] = "",
        designation: str = "",
        type: str = "",
    ) -> "SearchForm":
        """The form of a page's query string (a dependency): any length is taken, and a value too long is said in
        words by `read`, as every other problem is."""
        return cls(q.strip(), case_id.strip(), kind.strip(), tag.strip(), start.strip(), end.strip(), designation, type)

    @property
    def filtered(self) -> bool:
        return any((self.case_id, self.kind, self.tag, self.start, self.end, self.designation, self.type))

    def query(self, **changes: str) -> str:
        """The query string of this search, with `changes` (a cursor, say); blank values left out."""
        values = {"q": self.q, "case_id": self.case_id, "kind": self.kind, "tag": self.tag, "from": self.start}
        values |= {"to": self.end, "designation": self.designation, "type": self.type}
        return urlencode({name: value for name, value in (values | changes).items() if value})

    def unfiltered(self) -> str:
        """The query string of the same words with no filter."""
        return replace(self, case_id="", kind="", tag="", start="", end="", designation="", type="").query()


def _too_long(name: str, what: str, value: str, most: int) -> None:
    if len(value) > most:
        raise UnprocessableEntity(f"{name}: {what} is {len(value):,} characters long; at most {most:,} are taken")


def read(form: SearchForm, cursor: str | None) -> find.SearchFilter:
    """The service's filter for the form, checked by the service (a 422 naming the field at fault); a case that is
    not an id is no case of the viewer's, the same 404 as a case they are not a member of."""
    _too_long("q", "the query", form.q, SEARCH_QUERY_CHARS)
    _too_long("from", "the date", form.start, WRITTEN_DATE_CHARS)
    _too_long("to", "the date", form.end, WRITTEN_DATE_CHARS)
    _too_long("cursor", "the cursor", cursor or "", CURSOR_CHARS)
    case_id = None
    if form.case_id:
        try:
            case_id = uuid.UUID(form.case_id)
        except ValueError:
            raise NotFound("case not found") from None
    designation = None
    if form.designation:
        try:
            designation = Designation(form.designation)
        except ValueError:
            raise UnprocessableEntity("designation must be one of " + ", ".join(d.value for d in Designation)) from None
    return find.parse_filter(
        form.q,
        kind=[form.kind] if form.kind else None,
        tag=[form.tag] if form.tag else None,
        case_id=case_id,
        start=form.start or None,
        end=form.end or None,
        designation=designation,
        type=form.type or None,
    )


def problem(message: str) -> tuple[str, str]:
    """(the form field at fault or "", the service's message as a sentence). The service names the field first:
    "from: ..." reads "From: ...", and the query is called the query ("q: the query has an unmatched quote ..." and
    "q contains a NUL character ..." read "The query has ..." and "The query contains ...")."""
    head = HEAD.split(message, maxsplit=1)[0]
    field = head if head in FORM_FIELDS else ""
    if field == "q":
        rest = message[1:].lstrip(":").strip()
        return field, sentence(rest if message.startswith("q:") else f"the query {rest}")
    return field, sentence(message)


def snippet_markup(snippet: str) -> Markup:
    """The service's snippet as markup. It is HTML already, the text escaped and each hit in <mark>...</mark>
    (api/search/snippets.py): that is why it may be shown as markup, and it is only when it holds no other tag.
    One that did would be shown as text, its tags visible, never run."""
    rest = MARK_TAGS.sub("", snippet)
    if "<" in rest or ">" in rest:
        return escape(snippet)
    return Markup(snippet)


@dataclass(frozen=True)
class Result:
    """A hit as the page shows it: the service's hit, where it links, and its parts in words."""

    hit: dict
    href: str
    where: str  # "Page 3", "Section 2", "In its title", "Timeline event"
    kind: str
    snippet: Markup
    cited_href: str | None = None  # an event's cited evidence

    @property
    def evidence(self) -> bool:
        return self.hit["type"] == "evidence"


def _result(hit: dict, q: str, engines: dict) -> Result:
    case_id = hit["case"]["id"]
    snippet = snippet_markup(hit["snippet"])
    if hit["type"] == "event":
        kind = EVENT_KINDS.get(hit["kind"], hit["kind"])
        cited = f"/evidence/{hit['evidence_id']}?case={case_id}" if hit["evidence_id"] else None
        href = f"/cases/{case_id}/timeline/events/{hit['event_id']}"
        return Result(hit, href, "Timeline event", kind, snippet, cited)
    kind = KINDS.get(hit["kind"], hit["kind"])
    item = f"/evidence/{hit['evidence_id']}?case={case_id}"
    if hit["field"] == "text":
        unit = text_words.unit(engines.get(hit["evidence_id"]))[0]
        href = f"{item}&{urlencode({'text_from': hit['page'], 'q': q})}#text"
        return Result(hit, href, f"{unit.capitalize()} {hit['page']}", kind, snippet)
    return Result(hit, item + ANCHORS.get(hit["field"], ""), FIELDS.get(hit["field"], ""), kind, snippet)


def results(session: Session, hits: list[dict], q: str) -> list[Result]:
    """The hits as results, each text hit on its item's page or section (a decoded file's "pages" are sections)."""
    texts = list({hit["evidence_id"] for hit in hits if hit["field"] == "text"})
    engines = text_service.engines(session, texts)
    return [_result(hit, q, engines) for hit in hits]


def case_choices(session: Session, user: User, chosen: str) -> list[tuple[str, str]]:
    """(id, title) of the cases the case filter offers: the viewer's, by title, and the one chosen."""
    offered = [
        (str(case_id), title)
        for case_id, title in case_service.member_case_titles(session, user=user, limit=CASES_OFFERED)
    ]
    if chosen and chosen not in dict(offered):
        try:
            case, _ = case_service.get_with_role(session, uuid.UUID(chosen), user)
        except ValueError:
            case = None
        if case is not None:
            offered.append((str(case.id), case.title))
    return offered
