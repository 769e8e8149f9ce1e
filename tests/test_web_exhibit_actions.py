"""Acting on exhibits from the Exhibits tab: moving them (buttons, a typed position, a drop), designating them and
removing them with a reason, as a person would through the page's forms, plain and with htmx; checked through the
API's own view of the case and its audit trail."""

import html
import re
from concurrent.futures import ThreadPoolExecutor

from markupsafe import escape

from tests.helpers import add_member, hold
from tests.web_support import sign_in

SCRIPT_TITLE = "<script>alert('title')</script>"
IMG_TITLE = '<img src=x onerror="alert(1)">'
RTL_TITLE = "مراجعة مدفوعة من البائع"
CJK_TITLE = "五星好评返现卡 리뷰"


def _case(actor, count: int = 4, **fields) -> tuple[str, dict[str, str]]:
    """A case with `count` exhibits; their ids by label."""
    case = actor.make_case(**fields)
    titles = [SCRIPT_TITLE, IMG_TITLE, RTL_TITLE, CJK_TITLE]
    ids = {}
    for n in range(count):
        item = actor.upload(case["id"], f"exhibit {n} of {case['id']}".encode(), title=titles[n % 4] + f" #{n + 1}")
        assert item.status_code == 201, item.text
        ids[item.json()["exhibit"]["label"]] = item.json()["exhibit"]["id"]
    return case["id"], ids


def _exhibits(actor, case_id: str) -> list[dict]:
    found, cursor = [], None
    while True:
        params = {"limit": 1000} | ({"cursor": cursor} if cursor else {})
        page = actor.get(f"/api/v1/cases/{case_id}/exhibits", params=params).json()
        found += page["items"]
        if not (cursor := page["next_cursor"]):
            return found


def _order(actor, case_id: str) -> list[str]:
    exhibits = _exhibits(actor, case_id)
    assert [e["position"] for e in exhibits] == list(range(1, len(exhibits) + 1))
    return [e["label"] for e in exhibits]


def _url(case_id: str, exhibit_id: str, action: str) -> str:
    return f"/cases/{case_id}/exhibits/{exhibit_id}/{action}"


def _status(fragment: str) -> str:
    """What a fragment says in #status."""
    match = re.search(r'<div hx-swap-oob="innerHTML:#status">(.*?)</div>', fragment, re.S)
    assert match, fragment
    return html.unescape(match.group(1))


def _row_labels(page: str) -> list[str]:
    return [html.unescape(label) for label in re.findall(r'<th scope="row"[^>]*>(.*?)</th>', page)]


def test_moving_up_down_and_to_a_position_changes_the_order_the_api_shows(app, alice):
    case_id, ids = _case(alice)
    web = sign_in(app, alice.email)
    page = web.get(f"/cases/{case_id}/exhibits").text
    assert 'aria-label="Move PX-003 up"' in page and 'aria-label="Move PX-003 down"' in page
    assert re.search(r'id="up-{}"[^>]*aria-disabled="true"'.format(ids["PX-001"]), page)  # nothing above the first
    assert re.search(r'id="down-{}"[^>]*aria-disabled="true"'.format(ids["PX-004"]), page)
    assert 'src="/static/reorder.js"' in page and 'class="drag-handle" draggable="true"' in page

    moved = web.post(_url(case_id, ids["PX-003"], "move"), {"step": "up"})
    assert moved.status_code == 303
    assert moved.headers["location"] == f"/cases/{case_id}/exhibits#exhibit-{ids['PX-003']}"
    assert _order(alice, case_id) == ["PX-001", "PX-003", "PX-002", "PX-004"]

    fragment = web.htmx("POST", _url(case_id, ids["PX-003"], "move"), data={"step": "down"})
    assert fragment.status_code == 200
    assert _status(fragment.text) == "PX-003 moved to position 3."
    assert f'data-focus="down-{ids["PX-003"]}"' in fragment.text  # the keyboard stays on the button pressed
    assert f'id="down-{ids["PX-003"]}"' in fragment.text and "<html" not in fragment.text
    assert _order(alice, case_id) == ["PX-001", "PX-002", "PX-003", "PX-004"]

    assert web.post(_url(case_id, ids["PX-003"], "move"), {"position": "1"}).status_code == 303
    assert _order(alice, case_id) == ["PX-003", "PX-001", "PX-002", "PX-004"]
    dropped = web.htmx("POST", _url(case_id, ids["PX-003"], "move"), data={"position": "99"})  # past the end: last
    assert _status(dropped.text) == "PX-003 moved to position 4."
    assert f'data-focus="moveto-{ids["PX-003"]}"' in dropped.text
    assert _row_labels(dropped.text) == ["PX-001", "PX-002", "PX-004", "PX-003"]
    assert _order(alice, case_id) == ["PX-001", "PX-002", "PX-004", "PX-003"]

    first = web.htmx("POST", _url(case_id, ids["PX-001"], "move"), data={"step": "up"})
    assert _status(first.text) == "PX-001 is already first."
    for typed in ("0", "-1", "two", "", "1000001"):
        refused = web.post(_url(case_id, ids["PX-002"], "move"), {"position": typed})
        assert refused.status_code == 422, typed
        assert "whole number" in html.unescape(refused.text)
    assert _order(alice, case_id) == ["PX-001", "PX-002", "PX-004", "PX-003"]


def test_two_people_pressing_up_at_once_move_it_two_places(app, alice, make_user):
    case_id, ids = _case(alice, count=4)
    carol = make_user()
    add_member(alice, case_id, carol, "editor")
    people = [sign_in(app, alice.email), sign_in(app, carol.email)]
    url = _url(case_id, ids["PX-004"], "move")
    with ThreadPoolExecutor(max_workers=2) as pool:
        pressed = list(pool.map(lambda web: web.post(url, {"step": "up"}), people))
    assert [r.status_code for r in pressed] == [303, 303]
    assert _order(alice, case_id) == ["PX-001", "PX-004", "PX-002", "PX-003"]


def test_a_moved_exhibit_is_shown_on_the_page_it_lands_on(app, alice):
    case_id, ids = _case(alice, count=52)
    web = sign_in(app, alice.email)
    moved = web.post(_url(case_id, ids["PX-050"], "move"), {"step": "down"})
    assert moved.status_code == 303
    second_page = web.get(moved.headers["location"].split("#")[0])
    assert _row_labels(second_page.text) == ["PX-050", "PX-052"]
    assert 'aria-label="Move PX-050 up"' in second_page.text

    fragment = web.htmx("POST", _url(case_id, ids["PX-050"], "move"), data={"position": "1"})
    assert fragment.headers["hx-replace-url"] == f"/cases/{case_id}/exhibits"
    assert _row_labels(fragment.text)[:3] == ["PX-050", "PX-001", "PX-002"]
    back = web.htmx("POST", _url(case_id, ids["PX-050"], "move"), data={"position": "52"})
    assert "cursor=" in back.headers["hx-replace-url"]
    assert _row_labels(back.text) == ["PX-052", "PX-050"]
    assert _order(alice, case_id)[-3:] == ["PX-051", "PX-052", "PX-050"]


def test_moving_needs_exhibit_order_and_says_so_elsewhere(app, alice):
    case_id, ids = _case(alice, count=3)
    web = sign_in(app, alice.email)
    for view in ("sort=label", "direction=desc", "kind=other", "sort=date&direction=desc"):
        page = web.get(f"/cases/{case_id}/exhibits?{view}").text
        assert "Move PX-001 up" not in page and "drag-handle" not in page and "Move to" not in page, view
        assert "To move exhibits, show them in exhibit order" in page, view
    page = web.get(f"/cases/{case_id}/exhibits?sort=label").text
    assert f'id="designation-{ids["PX-002"]}"' in page and "Remove PX-002" in page  # the rest still works
    fragment = web.htmx("GET", f"/cases/{case_id}/exhibits?sort=title", headers={"HX-Target": "exhibit-results"})
    assert "To move exhibits" in fragment.text and "Move PX-001 up" not in fragment.text
    assert "Move PX-001 up" in web.get(f"/cases/{case_id}/exhibits").text


def test_designation_set_on_the_page_shows_in_the_api(app, alice):
    case_id, ids = _case(alice, count=2)
    web = sign_in(app, alice.email)
    url = _url(case_id, ids["PX-002"], "designation")
    saved = web.post(url + "?sort=label&direction=desc", {"designation": "confidential"})
    assert saved.status_code == 303
    assert saved.headers["location"] == f"/cases/{case_id}/exhibits?sort=label&direction=desc#exhibit-{ids['PX-002']}"
    assert {e["label"]: e["designation"] for e in _exhibits(alice, case_id)} == {
        "PX-001": "none",
        "PX-002": "confidential",
    }
    page = web.get(f"/cases/{case_id}/exhibits").text
    assert re.search(r'<option value="confidential" selected>Confidential</option>', page)
    assert (
        '<label class="visually-hidden" for="designation-{}">Designation of PX-002</label>'.format(ids["PX-002"])
        in page
    )

    said = web.htmx("POST", url, data={"designation": "attorneys_eyes_only"})
    assert said.status_code == 200
    assert _status(said.text) == "PX-002 is now attorneys' eyes only."
    assert f'id="designation-saved-{ids["PX-002"]}" hx-swap-oob="true">Saved' in said.text
    assert web.post(url, {"designation": "secret"}).status_code == 422
    assert web.post(url, {}).status_code == 422
    assert _exhibits(alice, case_id)[1]["designation"] == "attorneys_eyes_only"


def test_removing_with_a_reason_unlinks_it_and_the_audit_trail_keeps_the_reason(app, alice):
    case_id, ids = _case(alice, count=4)
    evidence_of = {e["label"]: e["evidence_id"] for e in _exhibits(alice, case_id)}
    web = sign_in(app, alice.email)
    page = web.get(f"/cases/{case_id}/exhibits").text
    assert f'<form class="remove-form disclosure-form stack" id="remove-{ids["PX-002"]}"' in page
    assert re.search(r'<textarea id="reason-{}" name="reason"[^>]*required'.format(ids["PX-002"]), page)

    reason = "Duplicate of PX-004 <script>alert(1)</script> — نسخة مكررة"
    removed = web.post(_url(case_id, ids["PX-002"], "remove"), {"reason": reason})
    assert removed.status_code == 303 and removed.headers["location"] == f"/cases/{case_id}/exhibits#exhibit-results"
    assert _order(alice, case_id) == ["PX-001", "PX-003", "PX-004"]
    events = alice.get(f"/api/v1/cases/{case_id}/audit", params={"action": "exhibit.unlink"}).json()["items"]
    assert [(e["object_id"], e["details"]["reason"], e["details"]["label"]) for e in events] == [
        (ids["PX-002"], reason, "PX-002")
    ]

    fragment = web.htmx("POST", _url(case_id, ids["PX-003"], "remove"), data={"reason": "Not relied on"})
    assert fragment.status_code == 200
    assert _status(fragment.text) == "PX-003 removed from the case."
    assert _row_labels(fragment.text) == ["PX-001", "PX-004"]
    assert f'data-focus="label-{ids["PX-004"]}"' in fragment.text  # the exhibit that took its place
    assert _order(alice, case_id) == ["PX-001", "PX-004"]
    # The evidence stays: only the exhibit left the case.
    for label in ("PX-002", "PX-003"):
        evidence = alice.get(f"/api/v1/evidence/{evidence_of[label]}")
        assert evidence.status_code == 200 and evidence.json()["exhibit"] is None


def test_a_remove_without_a_reason_asks_for_one(app, alice):
    case_id, ids = _case(alice, count=2)
    web = sign_in(app, alice.email)
    url = _url(case_id, ids["PX-001"], "remove")
    confirm = web.get(url + "?sort=label")
    assert confirm.status_code == 200 and "Remove PX-001 from the case?" in confirm.text
    assert f'href="/cases/{case_id}/exhibits?sort=label#exhibit-{ids["PX-001"]}"' in confirm.text
    assert str(escape(SCRIPT_TITLE)) + " #1" in confirm.text and SCRIPT_TITLE not in confirm.text

    blank = web.post(url, {"reason": "   "})
    assert blank.status_code == 422
    assert "This field is required" in blank.text and 'aria-invalid="true"' in blank.text
    assert "Remove PX-001 from the case?" in blank.text  # the confirmation again, on its own page
    again = web.htmx("POST", url, data={"reason": ""})
    assert again.status_code == 422 and again.headers["hx-retarget"] == f"#remove-{ids['PX-001']}"
    assert again.text.lstrip().startswith(
        f'<form class="remove-form disclosure-form stack" id="remove-{ids["PX-001"]}"'
    )
    too_long = web.post(url, {"reason": "x" * 2001})
    assert too_long.status_code == 422 and "at most 2000 characters" in too_long.text
    assert _order(alice, case_id) == ["PX-001", "PX-002"]


def test_a_remove_under_legal_hold_is_refused_in_words_and_changes_nothing(app, alice):
    case_id, ids = _case(alice, count=2)
    assert hold(alice, case_id).status_code == 200
    web = sign_in(app, alice.email)
    refused = web.post(_url(case_id, ids["PX-001"], "remove"), {"reason": "Duplicate"})
    assert refused.status_code == 409
    text = html.unescape(refused.text)
    assert "Cannot unlink exhibit PX-001" in text and "is on legal hold" in text
    assert "An owner of the case must release the hold first." in text

    notice = web.htmx("POST", _url(case_id, ids["PX-002"], "remove"), data={"reason": "Duplicate"})
    assert notice.status_code == 409 and notice.headers["hx-retarget"] == "#alerts"
    assert "is on legal hold" in html.unescape(notice.text) and '<div class="notice error">' in notice.text
    assert _order(alice, case_id) == ["PX-001", "PX-002"]
    attempts = alice.get(f"/api/v1/cases/{case_id}/audit", params={"action": "delete.refused"}).json()["items"]
    assert [e["details"]["attempted"] for e in attempts] == ["exhibit.unlink", "exhibit.unlink"]
    assert alice.get(f"/api/v1/cases/{case_id}/audit", params={"action": "exhibit.unlink"}).json()["items"] == []


def test_a_remove_is_refused_while_the_timeline_cites_evidence_from_another_case(app, alice):
    home, _ = _case(alice, count=1)
    item = {"id": _exhibits(alice, home)[0]["evidence_id"]}
    other = alice.make_case()["id"]
    linked = alice.post(f"/api/v1/cases/{other}/exhibits", json={"evidence_id": item["id"]})
    assert linked.status_code == 201, linked.text
    cited = alice.post(
        f"/api/v1/cases/{other}/events", json={"occurred_at": "2021-03", "title": "Refund", "evidence_id": item["id"]}
    )
    assert cited.status_code == 201, cited.text
    web = sign_in(app, alice.email)
    refused = web.post(_url(other, linked.json()["id"], "remove"), {"reason": "Wrong case"})
    assert refused.status_code == 409
    assert "this case's timeline cites" in html.unescape(refused.text)
    assert _order(alice, other) == ["PX-001"]


def test_editors_act_and_viewers_see_no_controls_and_are_refused(app, alice, bob, make_user):
    case_id, ids = _case(alice, count=3)
    carol = make_user()
    add_member(alice, case_id, bob, "viewer")
    add_member(alice, case_id, carol, "editor")
    editor = sign_in(app, carol.email)
    assert editor.post(_url(case_id, ids["PX-003"], "move"), {"step": "up"}).status_code == 303
    assert editor.post(_url(case_id, ids["PX-001"], "designation"), {"designation": "confidential"}).status_code == 303

    viewer = sign_in(app, bob.email)
    page = viewer.get(f"/cases/{case_id}/exhibits").text
    assert "PX-001" in page and "Confidential" in page
    for control in (
        "Move PX-001",
        "drag-handle",
        "reorder.js",
        'name="designation"',
        "Remove",
        "/move",
        '<select id="desig',
    ):
        assert control not in page, control
    assert "To move exhibits" not in page
    forced = [
        viewer.post(_url(case_id, ids["PX-001"], "move"), {"step": "down"}),
        viewer.post(_url(case_id, ids["PX-001"], "move"), {"position": "3"}),
        viewer.post(_url(case_id, ids["PX-001"], "designation"), {"designation": "none"}),
        viewer.post(_url(case_id, ids["PX-001"], "remove"), {"reason": "Mine now"}),
        viewer.get(_url(case_id, ids["PX-001"], "remove")),
        viewer.htmx("POST", _url(case_id, ids["PX-001"], "move"), data={"step": "down"}),
    ]
    assert [r.status_code for r in forced] == [403] * 6
    assert "needs the editor role in the case; you are viewer" in html.unescape(forced[0].text)
    assert _order(alice, case_id) == ["PX-001", "PX-003", "PX-002"]
    assert _exhibits(alice, case_id)[0]["designation"] == "confidential"


def test_non_members_get_not_found_and_unknown_exhibits_too(app, alice, make_user):
    case_id, ids = _case(alice, count=2)
    other_case, other_ids = _case(alice, count=1)
    stranger = sign_in(app, make_user().email)
    assert stranger.get(f"/cases/{case_id}/exhibits").status_code == 404
    for action, data in (
        ("move", {"step": "up"}),
        ("designation", {"designation": "none"}),
        ("remove", {"reason": "x"}),
    ):
        assert stranger.post(_url(case_id, ids["PX-002"], action), data).status_code == 404, action
    web = sign_in(app, alice.email)
    # An exhibit of another case, a made-up id and no id at all are all "not found" here.
    for exhibit_id in (other_ids["PX-001"], "00000000-0000-0000-0000-000000000000", "not-an-id"):
        assert web.post(_url(case_id, exhibit_id, "move"), {"step": "up"}).status_code == 404, exhibit_id
        assert web.post(_url(case_id, exhibit_id, "remove"), {"reason": "x"}).status_code == 404, exhibit_id
    assert _order(alice, case_id) == ["PX-001", "PX-002"] and _order(alice, other_case) == ["PX-001"]


def test_forms_without_the_csrf_token_are_refused(app, alice):
    case_id, ids = _case(alice, count=2)
    web = sign_in(app, alice.email)
    refused = [
        web.post(_url(case_id, ids["PX-002"], "move"), {"step": "up"}, csrf=False),
        web.post(_url(case_id, ids["PX-002"], "designation"), {"designation": "confidential"}, csrf=False),
        web.post(_url(case_id, ids["PX-002"], "remove"), {"reason": "x"}, csrf=False),
        web.post(_url(case_id, ids["PX-002"], "remove"), {"reason": "x", "csrf_token": "forged"}, csrf=False),
        web.htmx("POST", _url(case_id, ids["PX-002"], "move"), data={"step": "up"}, headers={"X-CSRF-Token": ""}),
    ]
    assert [r.status_code for r in refused] == [403] * 5
    assert _order(alice, case_id) == ["PX-001", "PX-002"]
    assert all(e["designation"] == "none" for e in _exhibits(alice, case_id))


def test_hostile_titles_and_labels_come_back_escaped(app, alice):
    case_id, ids = _case(alice, count=4)
    label = "<b>PX</b>\"'"
    relabelled = alice.patch(f"/api/v1/cases/{case_id}/exhibits/{ids['PX-003']}", json={"label": label})
    assert relabelled.status_code == 200, relabelled.text
    web = sign_in(app, alice.email)
    page = web.get(f"/cases/{case_id}/exhibits").text
    fragment = web.htmx("POST", _url(case_id, ids["PX-003"], "move"), data={"step": "up"}).text
    for shown in (page, fragment):
        assert SCRIPT_TITLE not in shown and IMG_TITLE not in shown and "<b>PX</b>" not in shown
        assert str(escape(SCRIPT_TITLE)) in shown and str(escape(IMG_TITLE)) in shown
        assert RTL_TITLE in shown and CJK_TITLE in shown
        assert 'aria-label="Move &lt;b&gt;PX&lt;/b&gt;&#34;&#39; up"' in shown
        assert re.search(r'<a href="/evidence/[^"]+" dir="auto">' + RTL_TITLE, shown)
    assert _status(fragment) == f"{label} moved to position 2."
