"""The chain-of-custody report as a court-ready PDF: every instant in UTC and in the case timezone, rendered from
our own template only (nothing is ever fetched), with the garbage collector held back while WeasyPrint lays out a
long event table."""

import hashlib
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from api import templating
from api.collecting import fewer_collections
from api.templating import render


def _when(at: datetime | None, tz: ZoneInfo) -> dict | None:
    """An instant in UTC and in the case timezone (no second line when that is UTC too)."""
    if at is None:
        return None
    utc, local = at.astimezone(UTC), at.astimezone(tz)
    same = local.utcoffset() == utc.utcoffset() and local.tzname() in ("UTC", "GMT", "Z")
    local_text = local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
    return {
        "utc": utc.strftime("%Y-%m-%d %H:%M:%S UTC"),
        "date": utc.strftime("%Y-%m-%d"),
        "time": utc.strftime("%H:%M:%S UTC"),
        "local": None if same else local_text,
    }


def _case_line(case: dict) -> Markup:
    """The case as the report names it, escaped; the docket number never splits across lines."""
    if not case["docket_number"]:
        return escape(case["title"])
    return Markup('{} (Case No. <span class="nowrap">{}</span>)').format(case["title"], case["docket_number"])


def render_pdf(report: dict) -> bytes:
    """The report as a court-ready PDF, from our own template only: nothing is ever fetched."""
    caption = report["case"]
    tz = ZoneInfo(caption["timezone"])
    cases = {c["id"]: c for c in report["cases"]}
    events = []
    for e in report["events"]:
        other = e["case_id"] is not None and e["case_id"] != caption["id"] and e["case_id"] in cases
        events.append(e | {"when": _when(e["at"], tz), "in_case": _case_line(cases[e["case_id"]]) if other else None})
    bundles = [
        b | {"finished": _when(b["finished_at"], tz), "in_case": _case_line(cases[b["case_id"]])}
        for b in report["bundles"]
    ]
    labels = [
        escape(x["label"]) + ("" if x["case_id"] == caption["id"] else " in " + _case_line(cases[x["case_id"]]))
        for x in report["exhibits"]
        if x["case_id"] in cases
    ]
    html = render(
        "custody.html",
        r=report,
        case=caption,
        item=report["item"],
        labels=labels,
        case_labels=[x["label"] for x in report["exhibits"] if x["case_id"] == caption["id"]],
        acquisition=report["acquisition"],
        acquired=_when(report["acquisition"]["at"], tz) if report["acquisition"] else None,
        events=events,
        bundles=bundles,
        verification=report["verification"],
        verified=_when(report["verification"]["at"], tz) if report["verification"] else None,
        check=report["current_check"],
        checked=_when(report["current_check"]["at"], tz),
        generated=_when(report["generated_at"], tz),
        created=report["generated_at"].astimezone(UTC).isoformat(timespec="seconds"),
        deleted=_when(report["item"]["deleted_at"], tz),
        purged=_when(report["item"]["purged_at"], tz),
        covered=[_case_line(c) for c in report["cases"]],
        timezone=caption["timezone"],
    )
    with fewer_collections():
        return templating.render_pdf(html)


def pdf_digest(pdf: bytes) -> str:
    return hashlib.sha256(pdf).hexdigest()


def issue(session, store, item, user, case_id) -> tuple[bytes, str]:
    """The report of `item` as a PDF, captioned in `case_id` (or its own case), recorded as an access with the
    PDF's SHA-256 so a printed report can be matched to the trail; with the name to download it under."""
    from api.db import release_connection
    from api.services import evidence as evidence_service
    from api.services.custody import report as custody_report

    report = custody_report.build(session, store, item, user, case_id=case_id, max_events=custody_report.MAX_PDF_EVENTS)
    release_connection(session)  # laying out a long report takes seconds: no connection is held meanwhile
    pdf = render_pdf(report)
    details = {"format": "pdf", "hash_check": report["current_check"]["status"], "sha256": pdf_digest(pdf)}
    evidence_service.record_access(session, "evidence.custody", item, user, details)
    return pdf, f"custody-{item.sha256[:12]}.pdf"
