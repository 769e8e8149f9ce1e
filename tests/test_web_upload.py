"""The Exhibits tab's uploader: real multipart uploads through `POST /cases/{id}/upload` with the session cookie,
as the page's script sends them (CSRF header, Accept: application/json) and as the plain form does (token in the
action's URL, 303 back to the tab); refusals leave nothing behind; file names come back escaped."""

import re
import uuid
from html import unescape

import pytest

from api.db import session_scope
from api.request_body import upload_slots
from api.services import users as user_service
from tests.conftest import count_rows, staged_files
from tests.helpers import add_member, unique_bytes
from tests.web_support import Browser, sign_in

SCRIPT = {"Accept": "application/json"}


@pytest.fixture
def owner(app, alice):
    browser = sign_in(app, alice.email)
    yield browser
    browser.close()


def send(browser: Browser, case_id: str, content: bytes, filename: str = "evidence.bin", **fields):
    """A file as the page's script sends it: kind (and no title), the CSRF header, asking for JSON."""
    data = {"kind": "other"} | fields
    headers = SCRIPT | {"X-CSRF-Token": browser.csrf}
    return browser.client.post(
        f"/cases/{case_id}/upload", files={"file": (filename, content)}, data=data, headers=headers
    )


def exhibits(actor, case_id: str) -> list[dict]:
    r = actor.get(f"/api/v1/cases/{case_id}/exhibits")
    assert r.status_code == 200, r.text
    return r.json()["items"]


def test_a_file_is_added_as_the_next_exhibit_titled_with_its_name(owner, alice):
    case = alice.make_case()
    r = send(owner, case["id"], unique_bytes("refund email"), "Refund email 2021-03.eml", kind="email")
    assert r.status_code == 201, r.text
    body = r.json()
    [exhibit] = exhibits(alice, case["id"])
    assert body == {
        "status": "added",
        "label": exhibit["label"],
        "evidence_id": exhibit["evidence_id"],
        "exhibit_id": exhibit["id"],
        "url": f"/evidence/{exhibit['evidence_id']}?case={case['id']}",
        "message": f"Added as {exhibit['label']}",
    }
    item = alice.get(f"/api/v1/evidence/{body['evidence_id']}").json()
    assert (item["title"], item["kind"], item["original_filename"]) == (
        "Refund email 2021-03",
        "email",
        "Refund email 2021-03.eml",
    )


def test_the_same_bytes_again_are_already_in_the_case_under_the_first_label(owner, alice, blob_root):
    case = alice.make_case()
    content = unique_bytes("screenshot")
    first = send(owner, case["id"], content, "review.png").json()
    again = send(owner, case["id"], content, "review (copy).png", kind="review_screenshot")
    assert again.status_code == 200, again.text
    assert again.json() == first | {"status": "duplicate", "message": f"Already in this case as {first['label']}"}
    assert len(exhibits(alice, case["id"])) == 1
    assert staged_files(blob_root) == []


def test_bytes_of_another_case_are_added_to_this_one_as_the_api_does(owner, alice):
    first, second = alice.make_case(), alice.make_case()
    content = unique_bytes("order record")
    there = send(owner, first["id"], content, "order.csv").json()
    here = send(owner, second["id"], content, "order.csv")
    assert here.status_code == 201 and here.json()["status"] == "added"
    assert here.json()["evidence_id"] != there["evidence_id"]
    assert [e["evidence_id"] for e in exhibits(alice, second["id"])] == [here.json()["evidence_id"]]


@pytest.mark.parametrize(
    ("content", "fields", "status", "words"),
    [
        (b"", {}, 422, "The file is empty"),
        (b"x" * 5000, {}, 413, "File is larger than the limit of 4,096 bytes"),
        (b"some bytes", {"kind": "fake_review"}, 422, "Unknown kind 'fake_review'"),
    ],
    ids=["empty", "too-large", "unknown-kind"],
)
def test_a_refused_file_fails_with_the_servers_words_and_leaves_nothing(
    owner, alice, blob_root, settings, monkeypatch, content, fields, status, words
):
    monkeypatch.setattr(settings, "max_upload_bytes", 4096)
    case = alice.make_case()
    rows = count_rows("evidence_items")
    r = send(owner, case["id"], content, "bad.bin", **fields)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["status"] == "failed" and words in body["message"], body
    assert {k: body[k] for k in ("label", "evidence_id", "exhibit_id", "url")} == dict.fromkeys(
        ("label", "evidence_id", "exhibit_id", "url")
    )
    assert count_rows("evidence_items") == rows and exhibits(alice, case["id"]) == []
    assert staged_files(blob_root) == []


def test_the_uploader_takes_one_of_the_users_upload_slots(owner, alice, settings, monkeypatch):
    monkeypatch.setattr(settings, "max_concurrent_uploads_per_user", 1)
    case = alice.make_case()
    with session_scope() as session:
        user = user_service.get_by_email(session, alice.email)
    with upload_slots.hold(user.id):  # an upload of theirs in flight elsewhere
        busy = send(owner, case["id"], unique_bytes("busy"))
    assert busy.status_code == 429 and busy.json()["status"] == "failed"
    assert "uploads in progress" in busy.json()["message"] and busy.headers["Retry-After"]
    assert send(owner, case["id"], unique_bytes("free")).status_code == 201


def test_a_viewer_is_refused_and_sees_no_upload_panel(app, alice, bob):
    case = alice.make_case()
    add_member(alice, case["id"], bob, "viewer")
    viewer = sign_in(app, bob.email)
    try:
        page = viewer.get(f"/cases/{case['id']}/exhibits")
        assert page.status_code == 200 and 'id="upload"' not in page.text and "upload.js" not in page.text
        r = send(viewer, case["id"], unique_bytes("viewer"))
        assert r.status_code == 403 and r.json()["status"] == "failed"
        assert "needs the editor role" in r.json()["message"]
        form = viewer.client.post(
            f"/cases/{case['id']}/upload?csrf_token={viewer.csrf}",
            files={"file": ("x.txt", b"x")},
            data={"kind": "other"},
            follow_redirects=False,
        )
        assert form.status_code == 403 and "You do not have access to this" in form.text
    finally:
        viewer.close()
    assert exhibits(alice, case["id"]) == []


def test_a_non_member_gets_404(app, alice, bob):
    case = alice.make_case()
    stranger = sign_in(app, bob.email)
    try:
        r = send(stranger, case["id"], unique_bytes("stranger"))
        assert r.status_code == 404 and r.json()["message"] == "Case not found."
        assert send(stranger, str(uuid.uuid4()), unique_bytes("nowhere")).status_code == 404
    finally:
        stranger.close()
    assert exhibits(alice, case["id"]) == []


def test_without_the_csrf_token_nothing_is_read(owner, alice, blob_root):
    case = alice.make_case()
    files = {"file": ("x.txt", unique_bytes("no token"))}
    bare = owner.client.post(f"/cases/{case['id']}/upload", files=files, data={"kind": "other"}, headers=SCRIPT)
    assert bare.status_code == 403 and bare.json()["status"] == "failed"
    # The token in the body is not looked for: reading the body's form would spool the whole file first.
    in_body = owner.client.post(
        f"/cases/{case['id']}/upload",
        files=files,
        data={"kind": "other", "csrf_token": owner.csrf},
        follow_redirects=False,
    )
    assert in_body.status_code == 403 and "expired or did not come from casebinder" in unescape(in_body.text)
    forged = ("1" if owner.csrf[0] == "0" else "0") + owner.csrf[1:]  # one digit off, never the token itself
    wrong = owner.client.post(f"/cases/{case['id']}/upload?csrf_token={forged}", files=files, data={"kind": "other"})
    assert wrong.status_code == 403
    assert exhibits(alice, case["id"]) == [] and staged_files(blob_root) == []


def test_signed_out_the_script_is_told_to_sign_in_again(app, alice):
    case = alice.make_case()
    browser = sign_in(app, alice.email)
    browser.post("/logout")
    r = send(browser, case["id"], unique_bytes("late"))
    assert r.status_code == 401 and "signed out" in r.json()["message"]
    browser.close()


def test_the_plain_form_comes_back_to_the_exhibits_tab_naming_the_exhibit(owner, alice):
    case = alice.make_case()
    page = owner.get(f"/cases/{case['id']}/exhibits")
    action = re.search(
        r'<form class="upload-form" method="post" enctype="multipart/form-data" action="([^"]+)"', page.text
    )
    assert action, page.text
    content = unique_bytes("insert card")
    r = owner.client.post(
        unescape(action.group(1)),
        files={"file": ("insert card front.jpg", content)},
        data={"kind": "product_insert_card", "title": ""},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    [exhibit] = exhibits(alice, case["id"])
    assert r.headers["location"] == f"/cases/{case['id']}/exhibits?added={exhibit['id']}"
    assert exhibit["evidence"]["title"] == "insert card front"
    assert exhibit["evidence"]["kind"] == "product_insert_card"
    back = owner.get(r.headers["location"])
    assert (
        f'Added as <a href="/evidence/{exhibit["evidence_id"]}?case={case["id"]}">{exhibit["label"]}</a>' in back.text
    )
    # The same file again: back to the tab, naming the exhibit it already is; a title given is kept.
    again = owner.client.post(
        unescape(action.group(1)),
        files={"file": ("copy.jpg", content)},
        data={"kind": "other", "title": "Ignored, as the bytes are known"},
        follow_redirects=True,
    )
    assert f'Already in this case as <a href="/evidence/{exhibit["evidence_id"]}' in again.text
    titled = owner.client.post(
        unescape(action.group(1)),
        files={"file": ("scan.pdf", unique_bytes("titled"))},
        data={"kind": "other", "title": "Refund offer, page 1"},
        follow_redirects=False,
    )
    assert titled.status_code == 303
    assert {e["evidence"]["title"] for e in exhibits(alice, case["id"])} == {
        "insert card front",
        "Refund offer, page 1",
    }


def test_a_refused_form_upload_is_a_page_with_the_way_back(owner, alice):
    case = alice.make_case()
    r = owner.client.post(
        f"/cases/{case['id']}/upload?csrf_token={owner.csrf}",
        files={"file": ("empty.txt", b"")},
        data={"kind": "other"},
        follow_redirects=False,
    )
    assert r.status_code == 422
    assert "The file is empty" in r.text and f'href="/cases/{case["id"]}/exhibits">Back to the exhibits' in r.text


HOSTILE = {
    "<img src=x onerror=alert(1)>.png": "<img src=x onerror=alert(1)>",
    "\u202etxt.exe‮ تقرير الاسترداد.pdf": "\u202etxt.exe‮ تقرير الاسترداد",
    "退款记录 2021.csv": "退款记录 2021",
    "<script>alert('x')<script>.txt": "<script>alert('x')<script>",
}


def test_hostile_file_names_come_back_escaped_on_the_exhibits_page(owner, alice):
    case = alice.make_case()
    for name in HOSTILE:
        r = send(owner, case["id"], unique_bytes(name), name)
        assert r.status_code == 201, r.text
    page = owner.get(f"/cases/{case['id']}/exhibits").text
    assert "<img src=x" not in page and "<script>alert" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;script&gt;" in page
    titles = {unescape(t) for t in re.findall(r'<a href="/evidence/[^"]+"[^>]*>([^<]*)</a>', page)}
    assert titles == set(HOSTILE.values())


def test_the_panel_is_for_editors_and_works_without_script(owner, alice):
    case = alice.make_case()
    page = owner.get(f"/cases/{case['id']}/exhibits")
    assert page.status_code == 200
    html = page.text
    assert '<script src="/static/upload.js" defer></script>' in html
    assert f'data-upload-url="/cases/{case["id"]}/upload"' in html
    assert re.search(
        r'<label for="upload-file"[^>]*>File</label>\s*<input type="file" id="upload-file" name="file"', html
    )
    assert '<label for="upload-kind">Kind for this batch</label>' in html
    assert "style=" not in html and " onclick" not in html
    assert owner.get("/static/upload.js").status_code == 200


@pytest.mark.parametrize(
    ("filename", "title"),
    [("C:\\Users\\pat\\notes.final.txt", "notes.final"), (".env", ".env"), ("README", "README")],
)
def test_the_default_title_is_the_name_without_folder_or_extension(owner, alice, filename, title):
    case = alice.make_case()
    r = send(owner, case["id"], unique_bytes(filename), filename)
    assert r.status_code == 201, r.text
    assert alice.get(f"/api/v1/evidence/{r.json()['evidence_id']}").json()["title"] == title


def test_the_exhibits_table_the_script_refreshes_lists_the_new_exhibit(owner, alice):
    case = alice.make_case()
    added = send(owner, case["id"], unique_bytes("refresh"), "chat log.txt", kind="chat_log").json()
    fragment = owner.htmx("GET", f"/cases/{case['id']}/exhibits", headers={"HX-Target": "exhibit-results"})
    assert fragment.status_code == 200, fragment.text
    assert 'id="exhibit-table"' in fragment.text and "<html" not in fragment.text
    assert f'tabindex="-1">{added["label"]}</th>' in fragment.text and ">chat log</a>" in fragment.text
