"""The Timeline tab, as a person uses it through a browser: the month chart and the list under it, filters, adding,
editing and deleting an event, exports and imports; who may do what; hostile text shown as text."""

import html
import io
import re

import pikepdf

from tests.helpers import page_texts
from tests.timeline_support import add_event, all_pages, import_file, pdf_text
from tests.web_support import sign_in

NY = {"timezone": "America/New_York"}
ROW = re.compile(r'<tr id="event-([0-9a-f-]{36})"( class="editing")?>(.*?)</tr>', re.S)
BAR = re.compile(r'<a href="([^"]+)" class="bar-link( selected)?"(?: aria-current="true")?\s+aria-label="([^"]+)">')


def _rows(page: str) -> dict[str, str]:
    """Each listed event's row, by event id."""
    return {event_id: row for event_id, _, row in ROW.findall(page)}


def _bars(page: str) -> dict[str, tuple[str, str, bool]]:
    """Each month's bar of the chart, by "Month YYYY": (its aria-label, its link, whether it is selected)."""
    found = [(html.unescape(label), html.unescape(href), bool(sel)) for href, sel, label in BAR.findall(page)]
    return {label.split(":")[0]: (label, href, selected) for label, href, selected in found}


def _error(page: str, element_id: str) -> str:
    match = re.search(rf'id="{re.escape(element_id)}-error">(.*?)</', page, re.S)
    assert match, f"no error for {element_id}"
    return html.unescape(match.group(1)).strip()


def _tab(case_id: str) -> str:
    return f"/cases/{case_id}/timeline"


def test_a_disputed_month_added_on_the_page_is_charted_and_listed_under_its_month(app, alice):
    case = alice.make_case(**NY)
    add_event(alice, case["id"], occurred_at="2021-02-15", title="February order")
    add_event(alice, case["id"], occurred_at="2021-04-02T10:00", title="April refund")
    browser = sign_in(app, alice.email)
    form = {"occurred_at": "2021-03", "title": "Refunds for reviews", "kind": "refund_issued", "disputed": "on"}
    r = browser.post(f"{_tab(case['id'])}/events", form | {"tags": "refund, paid review", "description": "Bulk"})
    assert r.status_code == 303, r.text
    [added] = [e for e in all_pages(alice, case["id"]) if e["title"] == "Refunds for reviews"]
    assert r.headers["location"] == f"{_tab(case['id'])}#event-{added['id']}"
    assert (added["precision"], added["date_display"], added["disputed"]) == ("month", "March 2021", True)
    assert (added["kind"], added["tags"], added["description"]) == ("refund_issued", ["refund", "paid review"], "Bulk")

    page = browser.get(_tab(case["id"])).text
    bars = _bars(page)
    assert list(bars) == ["February 2021", "March 2021", "April 2021"]
    label, link, selected = bars["March 2021"]
    assert label == "March 2021: 1 event, 1 disputed" and not selected
    assert bars["February 2021"][0] == "February 2021: 1 event"
    assert link == f"{_tab(case['id'])}?from=2021-03&to=2021-03"

    month = browser.get(link)  # the bar's link: the list of that month, the bar marked as chosen
    assert month.status_code == 200
    rows = _rows(month.text)
    assert list(rows) == [added["id"]]
    assert "March 2021" in rows[added["id"]] and ">Disputed</span>" in rows[added["id"]]
    assert _bars(month.text)["March 2021"][2] and not _bars(month.text)["April 2021"][2]
    assert 'value="2021-03"' in month.text  # the filter form shows the month chosen, From and To

    # With htmx: the panel comes back empty with what was added, and the chart and list are told to refresh.
    r = browser.htmx("POST", f"{_tab(case['id'])}/events", data=form | {"title": "Second"})
    assert r.status_code == 200 and r.headers["HX-Trigger"] == '{"timeline-added": true}'
    assert 'id="add-event"' in r.text and "Added “Second”, March 2021." in r.text
    chart = browser.htmx("GET", link, headers={"HX-Target": "timeline-chart"}).text
    assert (
        _bars(chart)["March 2021"][0] == "March 2021: 2 events, 2 disputed (in the dates chosen)" and "<table" in chart
    )
    listed = browser.htmx("GET", link, headers={"HX-Target": "timeline-list"}).text
    assert len(_rows(listed)) == 2 and "timeline-filters" not in listed


def test_dates_that_cannot_be_read_are_refused_field_by_field(app, alice):
    case = alice.make_case(**NY)
    browser = sign_in(app, alice.email)
    r = browser.post(f"{_tab(case['id'])}/events", {"occurred_at": "2021-13", "title": "", "page": "two"})
    assert r.status_code == 422
    assert _error(r.text, "add-occurred_at").startswith("'2021-13' is not a date: use ISO 8601 such as 2021, 2021-03")
    assert _error(r.text, "add-title") == "This field is required"
    assert _error(r.text, "add-page") == "Input should be a valid integer"
    assert 'value="2021-13"' in r.text and 'aria-invalid="true"' in r.text  # what was typed stays
    for written, problem in [
        ("March 2021", "'March 2021' is not a date"),
        ("2021-02-30", "'2021-02-30' is not a date"),
        ("0999", "'0999' is outside the years 1000 to 9998"),
    ]:
        r = browser.htmx("POST", f"{_tab(case['id'])}/events", data={"occurred_at": written, "title": "t"})
        assert r.status_code == 422 and _error(r.text, "add-occurred_at").startswith(problem), r.text
    r = browser.post(f"{_tab(case['id'])}/events", {"occurred_at": "2021", "title": "t", "page": "3"})
    assert _error(r.text, "add-page") == "Page needs evidence_id: a page is a page of a piece of evidence."
    assert all_pages(alice, case["id"]) == []

    # The filters read dates the same way, To included.
    page = browser.get(f"{_tab(case['id'])}?from=2021-13").text
    assert "From: &#39;2021-13&#39; is not a date" in page
    page = browser.get(f"{_tab(case['id'])}?from=2021-05&to=2021-03").text
    assert "To: The To date is before the From date." in page


def test_an_event_is_edited_in_its_row_or_on_a_page_and_deleted_after_a_question(app, alice):
    case = alice.make_case(**NY)
    event = add_event(alice, case["id"], occurred_at="2021-03-04T17:30", title="Order", kind="order_placed", tags=["a"])
    browser = sign_in(app, alice.email)
    base = f"{_tab(case['id'])}/events/{event['id']}"
    form = browser.htmx("GET", f"{base}/edit").text
    assert f'<tr id="event-{event["id"]}" class="editing">' in form
    assert 'value="2021-03-04T17:30-05:00"' in form and "autofocus" in form  # the date as typed back, offset kept

    fields = {"occurred_at": "2021-03-04T17:30-05:00", "title": "Order, corrected", "kind": "order_placed"}
    r = browser.htmx("POST", base, data=fields | {"tags": "a, b"})
    assert r.status_code == 200 and r.headers["HX-Trigger"] == '{"timeline-changed": true}'
    assert "Order, corrected" in _rows(r.text)[event["id"]] and "Saved “Order, corrected”." in r.text
    saved = alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").json()
    assert (saved["title"], saved["tags"], saved["precision"]) == ("Order, corrected", ["a", "b"], "minute")
    assert saved["occurred_at"] == event["occurred_at"]

    r = browser.htmx("POST", base, data=fields | {"occurred_at": "2021-3"})
    assert r.status_code == 422 and "2021-3" in _error(r.text, f"edit-{event['id']}-occurred_at")
    assert alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").json()["title"] == "Order, corrected"
    assert "Order, corrected" in browser.htmx("GET", f"{base}/row").text  # Cancel puts the row back

    # Without htmx: a page of its own, then back to the list. A blank field clears what it held.
    assert "Edit the event" in browser.get(f"{base}/edit").text
    r = browser.post(base, fields | {"occurred_at": "2021-03", "description": "", "tags": "", "disputed": "on"})
    assert r.status_code == 303
    saved = alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").json()
    assert (saved["date_display"], saved["tags"], saved["disputed"]) == ("March 2021", [], True)

    # A derived event takes only `disputed`; it goes with its exhibit, not from here.
    alice.upload(case["id"], b"shot", kind="review_screenshot", title="Review", occurred_at="2021-05-01T09:00:00")
    [derived] = [e for e in all_pages(alice, case["id"]) if e["source"] == "derived"]
    form = browser.htmx("GET", f"{_tab(case['id'])}/events/{derived['id']}/edit").text
    assert "comes from its exhibit" in form and 'name="title"' not in form
    r = browser.htmx("POST", f"{_tab(case['id'])}/events/{derived['id']}", data={"disputed": "on"})
    assert r.status_code == 200 and alice.get(f"/api/v1/cases/{case['id']}/events/{derived['id']}").json()["disputed"]
    rows = _rows(browser.get(_tab(case["id"])).text)
    assert "/delete" not in rows[derived["id"]] and "/delete" in rows[event["id"]]
    assert 'hx-confirm="Delete the event “Order, corrected” (March 2021)?' in rows[event["id"]]

    # An event citing evidence the exhibit list does not offer keeps its citation through a save.
    item = alice.upload(case["id"], b"receipt", kind="order_record", title="Receipt").json()
    cited = add_event(alice, case["id"], title="Cited", evidence_id=item["id"], page=2)
    assert alice.delete(f"/api/v1/cases/{case['id']}/exhibits/{item['exhibit']['id']}").status_code == 204
    form = browser.htmx("GET", f"{_tab(case['id'])}/events/{cited['id']}/edit").text
    assert f'<option value="{item["id"]}" selected>The evidence cited now (no exhibit label)</option>' in form
    fields = {"occurred_at": "2021-03-04T12:00-05:00", "title": "Cited, kept", "evidence_id": item["id"], "page": "2"}
    assert browser.htmx("POST", f"{_tab(case['id'])}/events/{cited['id']}", data=fields).status_code == 200
    kept = alice.get(f"/api/v1/cases/{case['id']}/events/{cited['id']}").json()
    assert (kept["title"], kept["evidence_id"], kept["page"]) == ("Cited, kept", item["id"], 2)

    question = browser.get(f"{base}/delete")
    assert "Delete this event?" in question.text and "Order, corrected" in question.text
    r = browser.post(f"{base}/delete")
    assert r.status_code == 303 and alice.get(f"/api/v1/cases/{case['id']}/events/{event['id']}").status_code == 404
    other = add_event(alice, case["id"], title="Gone with htmx")
    r = browser.htmx("POST", f"{_tab(case['id'])}/events/{other['id']}/delete")
    assert r.status_code == 200 and "Deleted “Gone with htmx”." in r.text
    assert alice.get(f"/api/v1/cases/{case['id']}/events/{other['id']}").status_code == 404


def test_viewers_see_no_forms_and_are_refused_and_others_see_nothing(app, alice, bob, make_user):
    case = alice.make_case(**NY)
    event = add_event(alice, case["id"], title="Listed")
    r = alice.post(f"/api/v1/cases/{case['id']}/members", json={"email": bob.email, "role": "viewer"})
    assert r.status_code in (200, 201), r.text
    viewer = sign_in(app, bob.email)
    page = viewer.get(_tab(case["id"]))
    assert page.status_code == 200 and "Listed" in page.text and "timeline.csv" in page.text
    for control in ("Add an event", "Import events", "/edit", "/delete", 'name="csrf_token" value="'):
        assert control not in page.text.split('<form method="post" action="/logout">')[0].split("</header>")[-1]
    base = f"{_tab(case['id'])}/events"
    refused = [
        viewer.post(base, {"occurred_at": "2021", "title": "x"}),
        viewer.post(f"{base}/{event['id']}", {"occurred_at": "2021", "title": "x"}),
        viewer.post(f"{base}/{event['id']}/delete"),
        viewer.post(
            f"{_tab(case['id'])}/import?csrf_token={viewer.csrf}",
            files={"file": ("e.csv", b"occurred_at,title\n2021,x\n")},
        ),
        viewer.get(f"{base}/{event['id']}/edit"),
        viewer.htmx("POST", f"{base}/{event['id']}/delete"),
    ]
    assert [r.status_code for r in refused] == [403] * len(refused)
    assert [e["title"] for e in all_pages(alice, case["id"])] == ["Listed"]

    stranger = sign_in(app, make_user().email)
    for path in ("", ".csv", ".pdf", f"/events/{event['id']}/row", f"/events/{event['id']}/edit"):
        r = stranger.get(f"{_tab(case['id'])}{path}")
        assert r.status_code == 404 and "Page not found" in r.text, path
    assert stranger.post(base, {"occurred_at": "2021", "title": "x"}).status_code == 404
    # An event of another case, through this case's address, is not found either.
    elsewhere = alice.make_case()
    assert viewer.get(f"/cases/{elsewhere['id']}/timeline").status_code == 404
    owner = sign_in(app, alice.email)
    assert owner.get(f"/cases/{elsewhere['id']}/timeline/events/{event['id']}/edit").status_code == 404


def test_the_pages_exports_are_the_apis_and_are_audited(app, alice):
    case = alice.make_case(docket_number="2:21-cv-04417", **NY)
    add_event(alice, case["id"], occurred_at="2021-03", title="=SUM(A1) refund", kind="refund_issued", disputed=True)
    add_event(alice, case["id"], occurred_at="2021-03-09T08:00", title="返金済み", kind="refund_issued")
    add_event(alice, case["id"], occurred_at="2021-04-01", title="Order", kind="order_placed")
    browser = sign_in(app, alice.email)
    page_csv = browser.get(f"{_tab(case['id'])}.csv")
    api_csv = alice.get(f"/api/v1/cases/{case['id']}/timeline", params={"format": "csv"})
    assert page_csv.status_code == 200 and page_csv.content == api_csv.content
    assert page_csv.headers["content-disposition"] == 'attachment; filename="chronology-2-21-cv-04417.csv"'
    assert page_csv.headers["x-cited-bundle"] == "none"
    filtered = browser.get(
        f"{_tab(case['id'])}.csv", params={"from": "2021-03", "to": "2021-03", "kind": "refund_issued"}
    )
    api = {"start": "2021-03", "end": "2021-04", "kind": "refund_issued", "format": "csv"}
    assert filtered.content == alice.get(f"/api/v1/cases/{case['id']}/timeline", params=api).content
    assert filtered.content.count(b"\r\n") == 3  # the header and the two March refunds

    pdf = browser.get(f"{_tab(case['id'])}.pdf", params={"disputed": "yes"})
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    with pikepdf.open(io.BytesIO(pdf.content)) as opened:
        assert len(opened.pages) >= 1
    text = " ".join(page_texts(pdf.content))
    assert "=SUM(A1) refund" in text and "返金済み" not in text and "March 2021" in text
    assert "=SUM(A1) refund" in " ".join(pdf_text(pdf.content))

    audit = alice.get(f"/api/v1/cases/{case['id']}/audit", params={"action": "timeline.export"}).json()["items"]
    details = [(e["actor_email"], e["details"]["format"], e["details"]["filter"]) for e in audit]
    assert (alice.email, "csv", {"order": "asc"}) in details
    assert (alice.email, "pdf", {"disputed": True, "order": "asc"}) in details
    recorded = {"start": "2021-03", "end": "2021-04", "kind": ["refund_issued"], "order": "asc"}
    assert details.count((alice.email, "csv", recorded)) == 2  # the page's export and the API's, recorded alike


def test_an_import_names_the_row_at_fault_and_stores_nothing_until_it_is_fixed(app, alice):
    case = alice.make_case(**NY)
    browser = sign_in(app, alice.email)
    url = f"{_tab(case['id'])}/import?csrf_token={browser.csrf}"  # as the form's action carries it
    bad = b"occurred_at,title,kind\n2021-03,Fine,refund_issued\n2021-13,Bad date,refund_issued\n2021,No kind,nonsense\n"
    r = browser.post(url, files={"file": ("events.csv", bad, "application/vnd.ms-excel")})
    assert r.status_code == 422
    assert "Nothing was imported: 2 rows with errors." in r.text
    rows = re.findall(r'<tr><td class="num">(\d+)</td><td>([^<]*)</td><td class="wrap">([^<]*)</td></tr>', r.text)
    assert [(row, column) for row, column, _ in rows] == [("3", "occurred_at"), ("4", "kind")]
    assert "is not a date" in html.unescape(rows[0][2])
    assert all_pages(alice, case["id"]) == []

    good = b'{"occurred_at": "2021-03", "title": "From JSON Lines", "kind": "filing"}\n'
    r = browser.htmx("POST", url, files={"file": ("events.jsonl", good)}, data={})
    assert r.status_code == 200 and "Imported 1 event from" in r.text and r.headers["HX-Trigger"] == "timeline-added"
    assert [e["title"] for e in all_pages(alice, case["id"])] == ["From JSON Lines"]
    r = browser.post(url, files={"file": ("empty.csv", b"")})
    assert r.status_code == 422 and "Nothing was imported: the file is empty." in r.text
    r = browser.post(url, files={"file": ("", b"")})  # no file chosen
    assert r.status_code == 422 and "Choose a CSV or JSON Lines file to import." in r.text
    # The token is never looked for in the body, which the import reads itself.
    body_only = browser.post(f"{_tab(case['id'])}/import", files={"file": ("events.jsonl", good)})
    assert body_only.status_code == 403
    assert [e["title"] for e in all_pages(alice, case["id"])] == ["From JSON Lines"]


def test_a_big_import_runs_as_a_job_the_page_follows_to_its_end(app, alice, settings, monkeypatch):
    monkeypatch.setattr(settings, "import_job_threshold_bytes", 1024)
    case = alice.make_case(**NY)
    browser = sign_in(app, alice.email)
    body = "occurred_at,title,kind\n" + "".join(f"2021-03-{1 + n % 28:02d},Row {n},other\n" for n in range(200))
    r = browser.htmx("POST", f"{_tab(case['id'])}/import", files={"file": ("big.csv", body.encode())})
    assert r.status_code == 202
    polled = re.search(r'hx-get="(/cases/[^"]+/timeline/imports/[0-9a-f-]+)" hx-trigger="every 1s"', r.text)
    assert polled, r.text
    from tests.server_process import wait_for

    done = wait_for(
        lambda: "Imported 200 events" in (page := browser.htmx("GET", polled.group(1))).text and page,
        seconds=120,
        what="the import job to end",
        interval=0.1,
    )
    assert done.headers["HX-Trigger"] == "timeline-added" and "every 1s" not in done.text
    assert len(all_pages(alice, case["id"], limit=1000)) == 200
    assert "Imported 200 events" in browser.get(polled.group(1)).text  # and without htmx, a page of its own


def test_fifty_events_a_page_in_the_apis_order(app, alice):
    case = alice.make_case(**NY)
    body = "occurred_at,title\n" + "".join(f"2021-01-{1 + n % 28:02d}T{n % 24:02d}:00,Event {n}\n" for n in range(120))
    assert import_file(alice, case["id"], body.encode()).status_code == 201
    browser = sign_in(app, alice.email)
    listed, path = [], _tab(case["id"])
    while path:
        page = browser.get(path).text
        listed.append(len(_rows(page)))
        more = re.search(r'<p class="pager"><a class="button" href="([^"]+)"', page)
        path = html.unescape(more.group(1)) if more else None
    assert listed == [50, 50, 20]
    titles = [re.search(r'class="event-title" dir="auto">([^<]*)<', row).group(1) for row in _rows(page).values()]
    assert titles == [e["title"] for e in all_pages(alice, case["id"])][100:]


HOSTILE = [
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "ביקורת מזויפת — שלום",
    "返金済み：レビュー後に全額返金",
    "x" * 3000,
]


def test_hostile_text_is_shown_as_text(app, alice):
    case = alice.make_case(**NY)
    ids = []
    for n, title in enumerate(HOSTILE):
        ids.append(
            add_event(
                alice,
                case["id"],
                occurred_at=f"2021-0{n + 1}",
                title=title,
                tags=["<b>tag</b>"],
                description='</textarea><script>alert("d")</script>',
            )["id"]
        )
    browser = sign_in(app, alice.email)
    page = browser.get(_tab(case["id"])).text
    assert "<script>alert" not in page and "<img src=x" not in page and "<b>tag</b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page and "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;" in page
    assert '<span class="event-title" dir="auto">ביקורת מזויפת — שלום</span>' in page
    assert '<span class="event-title" dir="auto">返金済み：レビュー後に全額返金</span>' in page
    form = browser.htmx("GET", f"{_tab(case['id'])}/events/{ids[1]}/edit").text
    assert "</textarea><script>" not in form and "&lt;/textarea&gt;&lt;script&gt;" in form
    assert 'value="&lt;img src=x onerror=&#34;alert(1)&#34;&gt;"' in form
    r = browser.post(f"{_tab(case['id'])}/events", {"occurred_at": "2021", "title": "<svg onload=alert(1)>"})
    assert r.status_code == 303
    assert "&lt;svg onload=alert(1)&gt;" in browser.get(_tab(case["id"])).text
