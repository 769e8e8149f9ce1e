"""The Records tab: the case's record sets and its analyses; a set's records, filtered, each with its citation and
exact line; an analysis's findings, with the summary for court and the CSV; and, for editors, the forms that import a
record set (its file, name, role and mapping, taken as the API takes them: `api.intake.receive_record_set`) and run
the review-for-refund finder.

Everything goes through the services the API uses, and every read is recorded as the API's reads are.
"""

import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import RedirectResponse, Response, StreamingResponse

from api.deps import BlobStoreDep, SessionDep
from api.downloads import content_disposition
from api.errors import NotFound, UnprocessableEntity
from api.intake import receive_record_set
from api.records import query
from api.services import analyses as analysis_service
from api.services import analysis_reports as reports
from api.services import record_sets as set_service
from api.upload import UploadForm
from api.web.case_page import case_context
from api.web.forms import parse
from api.web.render import page, sentence
from api.web.session import CaseEditorPage, CasePage, CaseViewerPage, PageRoute
from api.web.upload import CaseUploadPage
from models.analysis import Analysis, AnalysisCreate, AnalysisStatus
from models.record_set import CANONICAL, REQUIRED, RecordRole, RecordSet, RecordSetStatus

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


def _case_set(session, access: CasePage, set_id: str) -> RecordSet:
    """The record set, if it is this case's (404 otherwise, as for a missing one)."""
    try:
        record_set = set_service.get_visible(session, uuid.UUID(set_id), access.viewer.user)
    except ValueError:
        raise NotFound("record set not found") from None
    if record_set.case_id != access.case.id:
        raise NotFound("record set not found")
    return record_set


def _case_analysis(session, access: CasePage, analysis_id: str) -> Analysis:
    try:
        analysis = analysis_service.get_visible(session, uuid.UUID(analysis_id), access.viewer.user)
    except ValueError:
        raise NotFound("analysis not found") from None
    if analysis.case_id != access.case.id:
        raise NotFound("analysis not found")
    return analysis


def _tab(request: Request, session, access: CasePage, *, status: int = 200, **context) -> Response:
    sets, _ = set_service.list_sets(session, access.case, limit=LISTED, cursor=None)
    found, _ = analysis_service.list_analyses(session, access.case, limit=LISTED, cursor=None)
    shown = [set_service.public(session, s) for s in sets]
    names = {str(s.id): s.name for s in shown}
    ready = {
        name: [s for s in shown if s.role == role and s.status == RecordSetStatus.done] for name, role, _, _ in INPUTS
    }
    context = {"form": {}, "errors": {}, "problem": None, "sent": {}, "upload_problem": None} | context
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
        **context,
    )


@router.get("/cases/{case_id}/records")
def records_tab(request: Request, session: SessionDep, access: CaseViewerPage) -> Response:
    return _tab(request, session, access)


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
        sent.update({k: v for k, v in form.fields.items() if k in ("name", "role", "mapping")})
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
) -> Response:
    """A record set: its import, and its records in row order, filtered as the API filters them, a page at a time."""
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
    status = 200
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
            context["rows"] = [
                {"record": r, "citation": query.citation(label, r.row), "unmapped": query.unmapped(record_set, r)}
                for r in rows
            ]
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
) -> Response:
    """An analysis: its progress while it runs, then its counts and its findings (filtered by seller, product and
    score, a page at a time), with the summary for court and the CSV."""
    analysis = _case_analysis(session, access, analysis_id)
    filters = {"seller": seller.strip(), "product": product.strip(), "min_score": min_score.strip()}
    context: dict[str, Any] = {
        "analysis": analysis,
        "filters": filters,
        "rows": [],
        "next_cursor": None,
        "problem": None,
    }
    status = 200
    if analysis.status == AnalysisStatus.done:
        score = None
        if filters["min_score"]:
            try:
                score = float(filters["min_score"])
            except ValueError:
                score = -1.0
            if not 0 <= score <= 1:
                context["problem"], status = "The least score is a number from 0 to 1.", 422
        if status == 200:
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
