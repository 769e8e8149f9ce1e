"""The Records tab: the case's record sets and its analyses; a set's records, filtered, each with its citation and
exact line; an analysis's findings, with the summary for court and the CSV; and, for editors, the forms that import a
record set (its file, name, role and mapping, taken as the API takes them: `api.intake.receive_record_set`) and run
the review-for-refund finder.

Everything goes through the services the API uses, and every read is recorded as the API's reads are.
"""

import json
import uuid
from collections.abc import Callable
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Path, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse
from sqlmodel import col, select
from starlette.concurrency import run_in_threadpool

from api.deps import BlobStoreDep, SessionDep
from api.downloads import content_disposition
from api.errors import DomainError, NotFound, UnprocessableEntity
from api.intake import receive_record_set
from api.records import query
from api.records.presets import PAYPAL_ACTIVITY, PAYPAL_ACTIVITY_HEADER
from api.services import analyses as analysis_service
from api.services import analysis_events as events_service
from api.services import analysis_reports as reports
from api.services import record_extracts as extract_service
from api.services import record_sets as set_service
from api.upload import UploadForm
from api.web.case_page import case_context
from api.web.forms import parse
from api.web.render import page, sentence
from api.web.session import CaseEditorPage, CasePage, CaseViewerPage, PageRoute
from api.web.upload import CaseUploadPage
from models.analysis import Analysis, AnalysisCreate, AnalysisStatus, FindingEventsCreate
from models.exhibit import Exhibit
from models.inputs import EVIDENCE_TITLE_CHARS
from models.record_set import CANONICAL, REQUIRED, ExtractCreate, RecordRole, RecordSet, RecordSetStatus

router = APIRouter(route_class=PageRoute, include_in_schema=False)

RECORDS_PER_PAGE = 50
FINDINGS_PER_PAGE = 50
LISTED = 200  # record sets and analyses the tab lists, oldest first
ROLE_WORDS = {
    RecordRole.reviews: "Reviews",
    RecordRole.payments: "Payments",
    RecordRole.messages: "Messages",
    RecordRole.accounts: "Accounts",
    RecordRole.orders: "Orders",
    RecordRole.other: "Other",
}
# The finder's inputs: the form's field for each role, whether it is needed, and what it is for.
INPUTS = (
    ("review_sets", RecordRole.reviews, True, "The reviews to test."),
    ("payment_sets", RecordRole.payments, True, "Payments and refunds, matched to the reviewers."),
    ("message_sets", RecordRole.messages, False, "Link reviewers to addresses; offers in them strengthen a finding."),
    ("account_sets", RecordRole.accounts, False, "Link a party's ids, addresses, phones and profiles."),
    ("order_sets", RecordRole.orders, False, "Returned or cancelled orders explain a refund."),
)


def _of_case(access: CasePage, found: Callable[[uuid.UUID], Any], object_id: str, what: str) -> Any:
    """A record set or analysis by its id, if it is this case's (404 otherwise, as for a missing one)."""
    try:
        wanted = found(uuid.UUID(object_id))
    except ValueError:
        raise NotFound(f"{what} not found") from None
    if wanted.case_id != access.case.id:
        raise NotFound(f"{what} not found")
    return wanted


def _case_set(session, access: CasePage, set_id: str) -> RecordSet:
    user = access.viewer.user
    return _of_case(access, lambda i: set_service.get_visible(session, i, user), set_id, "record set")


def _case_analysis(session, access: CasePage, analysis_id: str) -> Analysis:
    user = access.viewer.user
    return _of_case(access, lambda i: analysis_service.get_visible(session, i, user), analysis_id, "analysis")


def _tab(request: Request, session, access: CasePage, *, status: int = 200, **context) -> Response:
    sets, _ = set_service.list_sets(session, access.case, limit=LISTED, cursor=None)
    found, _ = analysis_service.list_analyses(session, access.case, limit=LISTED, cursor=None)
    shown = [set_service.public(session, s) for s in sets]
    names = {str(s.id): s.name for s in shown}
    ready = {
        name: [s for s in shown if s.role == role and s.status == RecordSetStatus.done] for name, role, _, _ in INPUTS
    }
    context = {"form": {}, "errors": {}, "problem": None, "sent": {}, "upload_problem": None, "notice": None} | context
    return page(
        request,
        "web/case_records.html",
        access.viewer,
        status=status,
        **case_context(access),
        tab="records",
        sets=shown,
        analyses=list(reversed(found)),  # newest first
        names=names,
        ready=ready,
        inputs=INPUTS,
        roles=ROLE_WORDS,
        canonical=CANONICAL,
        required=REQUIRED,
        paypal={"columns": PAYPAL_ACTIVITY, "header": PAYPAL_ACTIVITY_HEADER},
        **context,
    )


# After a plain form's redirect, the tab says what happened; only these fixed sentences, never text from the URL.
DONE = {"removed": "Record set removed, with its records. Its original file stays in the case's evidence."}


@router.get("/cases/{case_id}/records")
def records_tab(request: Request, session: SessionDep, access: CaseViewerPage, done: str = "") -> Response:
    return _tab(request, session, access, notice=DONE.get(done))


@router.post("/cases/{case_id}/record-sets/{set_id}/remove")
def remove_record_set(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    set_id: str,
    confirm: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """Remove a record set and its records, as the API's DELETE does (its original stays evidence): refused under a
    legal hold and while it is being imported, and asked to be confirmed."""
    record_set = _case_set(session, access, set_id)
    if confirm != "yes":
        problem = "Tick the box to confirm: the set's records go, and analyses of it can no longer be run again."
        return _set_page(request, session, access, set_id, "", "", "", "", "", None, remove_problem=problem, status=422)
    try:
        set_service.delete_set(session, record_set, actor=access.viewer.user)
    except DomainError as exc:
        return _set_page(
            request, session, access, set_id, "", "", "", "", "", None,
            remove_problem=sentence(str(exc.message)), status=exc.status_code,
        )  # fmt: skip
    return RedirectResponse(f"/cases/{access.case.id}/records?done=removed", status_code=303)


def mapping_json(text: str) -> str:
    """The form's mapping, one `source path = canonical field` a line (or the API's JSON object, as it is), as the
    API's JSON text. The last `=` of a line divides it: a CSV column's name may hold one, a canonical field never."""
    text = text.strip()
    if not text or text.startswith("{"):
        return text
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        source, equals, field = line.rpartition("=")
        if not equals or not source.strip() or not field.strip():
            raise UnprocessableEntity(
                f"mapping, line {number}: write it as '<column or path> = <field>', e.g. 'Transaction ID = txn_id'"
            )
        pairs[source.strip()] = field.strip()
    return json.dumps(pairs, ensure_ascii=False)


@router.post("/cases/{case_id}/record-sets")
async def import_record_set(
    request: Request, access: CaseUploadPage, session: SessionDep, store: BlobStoreDep
) -> Response:
    """A record set from the tab's form (a plain multipart form: no script needed), then its page, which follows the
    import. A refusal comes back to the tab naming the field, the form filled in as it was sent (but the file)."""
    sent: dict[str, str] = {}

    def api_fields(form: UploadForm) -> dict[str, str]:
        sent.update({k: v for k, v in form.fields.items() if k in ("name", "role", "mapping", "date_order")})
        return dict(form.fields) | {"mapping": mapping_json(form.fields.get("mapping", ""))}

    try:
        record_set = await receive_record_set(
            request, session, store, case=access.case, actor=access.viewer.user, fields=api_fields
        )
    except UnprocessableEntity as exc:
        return _tab(request, session, access, status=422, sent=sent, upload_problem=sentence(str(exc.message)))
    return RedirectResponse(f"/cases/{access.case.id}/record-sets/{record_set.id}", status_code=303)


@router.post("/cases/{case_id}/analyses")
async def run_finder(request: Request, session: SessionDep, access: CaseEditorPage) -> Response:
    """Queue a review-for-refund analysis from the tab's form, then show it."""
    form = await request.form()
    values: dict = {name: [str(v) for v in form.getlist(name)] for name, _, _, _ in INPUTS}
    values |= {name: str(form.get(name, "")) for name in ("min_rating", "window_days_before", "window_days_after")}
    data, errors = parse(AnalysisCreate, values | {"type": "review_for_refund"})
    if data is None:
        return _tab(request, session, access, status=422, form=values, errors=errors)
    try:
        analysis = analysis_service.create(session, case=access.case, actor=access.viewer.user, data=data)
    except UnprocessableEntity as exc:
        return _tab(request, session, access, status=422, form=values, problem=sentence(str(exc.message)))
    return RedirectResponse(f"/cases/{access.case.id}/analyses/{analysis.id}", status_code=303)


@router.get("/cases/{case_id}/record-sets/{set_id}")
def record_set_page(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    set_id: str,
    field: Annotated[str, Query(max_length=60)] = "",
    value: Annotated[str, Query(max_length=query.VALUE_CHARS)] = "",
    q: Annotated[str, Query(max_length=query.Q_CHARS)] = "",
    start: Annotated[str, Query(alias="from", max_length=100)] = "",
    end: Annotated[str, Query(alias="to", max_length=100)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    extracted: Annotated[str, Query(max_length=40)] = "",
) -> Response:
    """A record set: its import, and its records in row order, filtered as the API filters them, a page at a time."""
    return _set_page(request, session, access, set_id, field, value, q, start, end, cursor, extracted=extracted)


def _set_page(
    request: Request, session, access: CasePage, set_id: str, field: str, value: str, q: str, start: str, end: str,
    cursor: str | None, *, extracted: str = "", extract_problem: str | None = None, status: int = 200,
    title: str = "", remove_problem: str | None = None,
) -> Response:  # fmt: skip
    record_set = _case_set(session, access, set_id)
    shown = set_service.public(session, record_set)
    filters = {"field": field.strip(), "value": value.strip(), "q": q.strip(), "from": start.strip(), "to": end.strip()}
    sent = {k: filters[k] for k in ("q", "from", "to") if filters[k]}
    if filters["field"] and filters["value"]:
        sent[filters["field"]] = filters["value"]
    columns = list(query.fields_of(record_set))
    context: dict[str, Any] = {
        "record_set": shown,
        "filters": filters,
        "columns": columns,
        "rows": [],
        "next_cursor": None,
    }
    context |= {"problem": None, "label": set_service.citation_label(session, record_set), "roles": ROLE_WORDS}
    context |= {
        "extract_problem": extract_problem,
        "remove_problem": remove_problem,
        "title": title,
        "extracted": _extract_notice(session, access, extracted),
    }
    if record_set.status == RecordSetStatus.done:
        try:
            wanted = query.parse_filter(record_set, sent, timezone=access.case.timezone)
            rows, next_cursor = query.page(session, record_set, wanted, limit=RECORDS_PER_PAGE, cursor=cursor)
        except UnprocessableEntity as exc:
            context["problem"], status = sentence(str(exc.message)), 422
        else:
            details = {"filter": wanted.describe(), "rows": [r.row for r in rows][:50], "count": len(rows)}
            set_service.viewed(session, record_set, access.viewer.user, details | {"via": "web"})
            label = context["label"]
            context["rows"] = [{"record": r, "citation": query.citation(label, r.row)} for r in rows]
            context["next_cursor"] = next_cursor
    return page(
        request,
        "web/record_set.html",
        access.viewer,
        status=status,
        **case_context(access),
        tab="records",
        paged=cursor is not None,
        filtered=bool(sent),
        canonical=CANONICAL.get(record_set.role, ()),
        **context,
    )


@router.get("/cases/{case_id}/record-sets/{set_id}/records/{row}")
def record_page(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    set_id: str,
    row: Annotated[int, Path(ge=1, le=2**62)],
) -> Response:
    """One record, as a finding or a search cites it: its citation, every field (the mapped ones normalised, the
    others as they are in the file), its exact line, and the original it comes from."""
    record_set = _case_set(session, access, set_id)
    record = query.get(session, record_set, row)
    if record is None:
        raise NotFound(f"the record set has no record at row {row:,} (a refused line leaves its row empty)")
    set_service.viewed(session, record_set, access.viewer.user, {"rows": [row], "count": 1, "via": "web"})
    label = set_service.citation_label(session, record_set)
    return page(
        request,
        "web/record.html",
        access.viewer,
        **case_context(access),
        tab="records",
        record_set=set_service.public(session, record_set),
        record=record,
        citation=query.citation(label, row),
        unmapped=query.unmapped(record_set, record),
        columns=list(query.fields_of(record_set)),
        roles=ROLE_WORDS,
    )


def _extract_notice(session, access: CasePage, evidence_id: str) -> dict | None:
    """After an extract, its page names the exhibit made: the item in the address, if it is an exhibit of this case
    (anything else there is ignored)."""
    try:
        wanted = uuid.UUID(evidence_id)
    except ValueError:
        return None
    exhibit = session.exec(
        select(Exhibit).where(col(Exhibit.case_id) == access.case.id, col(Exhibit.evidence_id) == wanted)
    ).first()
    if exhibit is None:
        return None
    return {"label": exhibit.label, "url": f"/evidence/{exhibit.evidence_id}?case={access.case.id}"}


@router.post("/cases/{case_id}/record-sets/{set_id}/extracts")
async def extract_records(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    store: BlobStoreDep,
    set_id: str,
    title: Annotated[str, Form(max_length=EVIDENCE_TITLE_CHARS)] = "",
    field: Annotated[str, Form(max_length=60)] = "",
    value: Annotated[str, Form(max_length=query.VALUE_CHARS)] = "",
    q: Annotated[str, Form(max_length=query.Q_CHARS)] = "",
    start: Annotated[str, Form(alias="from", max_length=100)] = "",
    end: Annotated[str, Form(alias="to", max_length=100)] = "",
) -> Response:
    """The records the page shows (its filter, every page of it) as a new exhibit: a CSV with each record's row,
    citation and exact line, and its provenance, made as the API's extracts are."""
    record_set = _case_set(session, access, set_id)
    sent = {k: v.strip() for k, v in (("q", q), ("from", start), ("to", end)) if v.strip()}
    if field.strip() and value.strip():
        sent[field.strip()] = value.strip()
    data, errors = parse(ExtractCreate, {"filter": sent, "title": title})
    if data is None:
        problem = sentence(f"the title: {errors.get('title', 'give the exhibit a title')}")
        return _set_page(
            request, session, access, set_id, field, value, q, start, end, None,
            extract_problem=problem, status=422, title=title,
        )  # fmt: skip
    try:
        made = await run_in_threadpool(
            extract_service.extract,
            session,
            store,
            record_set,
            sent=sent,
            title=title.strip(),
            actor=access.viewer.user,
        )
    except DomainError as exc:
        return _set_page(
            request, session, access, set_id, field, value, q, start, end, None,
            extract_problem=sentence(str(exc.message)), status=exc.status_code, title=title,
        )  # fmt: skip
    where = f"/cases/{access.case.id}/record-sets/{set_id}"
    shown = {"field": field, "value": value, "q": q, "from": start, "to": end, "extracted": str(made.item.id)}
    return RedirectResponse(f"{where}?{urlencode({k: v for k, v in shown.items() if v})}#extract", status_code=303)


@router.post("/cases/{case_id}/analyses/{analysis_id}/events")
def findings_to_timeline(
    request: Request,
    session: SessionDep,
    access: CaseEditorPage,
    analysis_id: str,
    min_score: Annotated[str, Form(max_length=10)] = "",
) -> Response:
    """The findings scored at least `min_score` (all of them when blank) as timeline events: the offer messages, the
    review and the payments of each, citing their records, as the API adds them."""
    analysis = _case_analysis(session, access, analysis_id)
    where = f"/cases/{access.case.id}/analyses/{analysis.id}"
    data, errors = parse(FindingEventsCreate, {"min_score": min_score})
    if data is None:
        problem = f"The least score: {errors.get('min_score', 'a number from 0 to 1')}."
        return _analysis_page(request, session, access, analysis_id, status=422, timeline_problem=problem)
    try:
        made = events_service.create_events(
            session, analysis, actor=access.viewer.user, finding_ids=None, min_score=data.min_score
        )
    except UnprocessableEntity as exc:
        problem = sentence(str(exc.message))
        return _analysis_page(request, session, access, analysis_id, status=422, timeline_problem=problem)
    done = {"added": made["findings"], "events": made["events_created"], "before": made["findings_passed_over"]}
    return RedirectResponse(f"{where}?{urlencode(done)}#timeline", status_code=303)


@router.get("/cases/{case_id}/analyses/{analysis_id}")
def analysis_page(
    request: Request,
    session: SessionDep,
    access: CaseViewerPage,
    analysis_id: str,
    seller: Annotated[str, Query(max_length=1000)] = "",
    product: Annotated[str, Query(max_length=1000)] = "",
    min_score: Annotated[str, Query(max_length=10)] = "",
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    added: Annotated[int | None, Query(ge=0)] = None,
    events: Annotated[int | None, Query(ge=0)] = None,
    before: Annotated[int | None, Query(ge=0)] = None,
) -> Response:
    """An analysis: its progress while it runs, then its counts and its findings (filtered by seller, product and
    score, a page at a time), with the summary for court and the CSV."""
    timeline = None if added is None else {"findings": added, "events": events or 0, "before": before or 0}
    return _analysis_page(
        request, session, access, analysis_id, seller=seller, product=product, min_score=min_score, cursor=cursor,
        timeline=timeline,
    )  # fmt: skip


def _analysis_page(
    request: Request, session, access: CasePage, analysis_id: str, *, seller: str = "", product: str = "",
    min_score: str = "", cursor: str | None = None, status: int = 200, timeline: dict | None = None,
    timeline_problem: str | None = None,
) -> Response:  # fmt: skip
    analysis = _case_analysis(session, access, analysis_id)
    filters = {"seller": seller.strip(), "product": product.strip(), "min_score": min_score.strip()}
    context: dict[str, Any] = {
        "analysis": analysis,
        "filters": filters,
        "rows": [],
        "next_cursor": None,
        "problem": None,
        "timeline": timeline,
        "timeline_problem": timeline_problem,
    }
    if analysis.status == AnalysisStatus.done:
        score = None
        if filters["min_score"]:
            try:
                score = float(filters["min_score"])
            except ValueError:
                score = -1.0
            if not 0 <= score <= 1:
                context["problem"], status = "The least score is a number from 0 to 1.", 422
        if context["problem"] is None:
            wanted = {"seller": filters["seller"] or None, "product": filters["product"] or None, "min_score": score}
            reports.record_read(session, analysis, access.viewer.user, "analysis.findings", wanted | {"via": "web"})
            rows, next_cursor = analysis_service.findings_page(
                session, analysis, limit=FINDINGS_PER_PAGE, cursor=cursor, **wanted
            )
            context["rows"] = [analysis_service.finding_public(f) for f in rows]
            context["next_cursor"] = next_cursor
    sets: dict[str, RecordSet] = {}
    for name, _, _, _ in INPUTS:
        for set_id in analysis.params.get(name, []):
            record_set = session.get(RecordSet, uuid.UUID(set_id))
            if record_set is not None:
                sets[set_id] = record_set
    return page(
        request,
        "web/analysis.html",
        access.viewer,
        status=status,
        **case_context(access),
        tab="records",
        inputs=INPUTS,
        roles=ROLE_WORDS,
        sets=sets,
        paged=cursor is not None,
        filtered=any(filters.values()),
        **context,
    )


@router.get("/cases/{case_id}/analyses/{analysis_id}/summary.pdf")
def analysis_summary(session: SessionDep, access: CaseViewerPage, analysis_id: str) -> Response:
    """The summary for court, made and recorded exactly as the API's."""
    analysis = _case_analysis(session, access, analysis_id)
    pdf, headers = reports.summary_pdf(session, analysis, access.viewer.user)
    return Response(pdf, media_type="application/pdf", headers=headers)


@router.get("/cases/{case_id}/analyses/{analysis_id}/findings.csv")
def findings_csv(session: SessionDep, access: CaseViewerPage, analysis_id: str) -> Response:
    """Every finding as CSV, as the API's `?format=csv` gives them, recorded the same way."""
    analysis = _case_analysis(session, access, analysis_id)
    filters = {"seller": None, "product": None, "min_score": None}
    reports.record_read(session, analysis, access.viewer.user, "analysis.findings", {"format": "csv", "via": "web"})
    return StreamingResponse(
        reports.findings_csv(analysis.id, filters),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": content_disposition(f"findings-{analysis.id}.csv")},
    )
