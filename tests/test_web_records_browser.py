"""The Records tab in Chromium, against the real `casebinder serve`: an editor runs the review-for-refund finder from
its form, watches it reach done, reads the findings and a record set's records; the pages pass axe and fit a phone."""

import httpx
from playwright.sync_api import expect

from tests.browser import assert_no_horizontal_scroll, axe_check, sign_in
from tests.test_review_for_refund import MESSAGES, _sets
from tests.test_web_records import PAYPAL_ACTIVITY_CSV, PAYPAL_CSV, PAYPAL_MAPPING

ANALYSIS_SECONDS = 300  # a wait for a background job on a shared machine, not a performance limit


def test_run_the_finder_watch_it_finish_and_read_the_findings(web_server, account, page, open_page, tmp_path):
    email, password = account()
    token = httpx.post(f"{web_server.base_url}/api/v1/auth/token", data={"username": email, "password": password})
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with httpx.Client(base_url=web_server.base_url, headers=headers, timeout=60) as api:
        case = api.post("/api/v1/cases", json={"title": "Acme v. 深圳 Audio", "case_type": "lanham_act"}).json()
        sets = _sets(api, case["id"])
    sign_in(page, web_server.base_url, email, password)
    page.goto(f"/cases/{case['id']}/records")
    expect(page.get_by_role("heading", name="Record sets")).to_be_visible()
    expect(page.locator("#record-sets tbody tr")).to_have_count(len(sets))
    axe_check(page)

    for box in page.locator(".finder-form input[type=checkbox]").all():
        box.check()
    page.get_by_label("Rated at least").fill("5")
    page.get_by_role("button", name="Run the analysis").click()
    expect(page.get_by_role("heading", name="Reviews paid for")).to_be_visible()
    expect(page.locator("#findings tbody tr")).to_have_count(3, timeout=ANALYSIS_SECONDS * 1000)
    expect(page.locator("#analysis[hx-trigger]")).to_have_count(0)  # the polling has stopped
    expect(page.get_by_role("link", name="Summary for court (PDF)")).to_be_visible()
    expect(page.locator("#findings")).to_contain_text("F-000001")
    axe_check(page)
    analysis_url = page.url
    # A finding's review citation opens the record it cites, with its exact line.
    page.locator("#findings tbody tr").first.locator("td").nth(2).get_by_role("link").click()
    expect(page.get_by_role("heading", name="The line in the file")).to_be_visible()
    axe_check(page)
    page.goto(analysis_url)

    page.get_by_role("link", name="← Record sets and analyses").click()
    page.locator(f"#set-{sets['messages']} a").click()
    expect(page.locator("#records tbody tr")).to_have_count(len(MESSAGES))
    expect(page.locator("#records")).to_contain_text("好评返现")
    page.get_by_label("Words in the line").fill("screenshot")
    page.get_by_role("button", name="Find").click()
    expect(page.locator("#records tbody tr")).to_have_count(1)
    axe_check(page)

    # A record set imported from the tab's form: its page follows the import to its records.
    page.goto(f"/cases/{case['id']}/records")
    export = tmp_path / "paypal.csv"
    export.write_bytes(PAYPAL_CSV.encode())
    page.get_by_label("Name").fill("PayPal export 2021")
    page.get_by_label("Its records are").select_option("payments")
    page.get_by_label("Mapping").fill(PAYPAL_MAPPING)
    page.get_by_label("File").set_input_files(export)
    columns = page.locator("#import-column-list li")  # the file's header, read in the browser, to write the mapping
    expect(columns).to_have_text(["Date", "Name", "Gross", "From Email Address", "To Email Address", "Transaction ID",
                                  "Type", "Note"])  # fmt: skip
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="PayPal export 2021")).to_be_visible()
    expect(page.locator("#records tbody tr")).to_have_count(2, timeout=ANALYSIS_SECONDS * 1000)
    expect(page.locator("#records")).to_contain_text("张伟")
    axe_check(page)

    # A PayPal activity export's header offers to fill the mapping in; the date order is the person's to choose.
    page.goto(f"/cases/{case['id']}/records")
    activity = tmp_path / "Download.CSV"
    activity.write_bytes(PAYPAL_ACTIVITY_CSV.encode())
    page.get_by_label("Name").fill("PayPal activity, day first")
    page.get_by_label("File").set_input_files(activity)
    page.get_by_role("button", name="Fill in the mapping for a PayPal activity export").click()
    expect(page.get_by_label("Mapping")).to_have_value(
        "Date = paid_at\nTime = paid_at\nTimeZone = paid_at\nType = type\nGross = amount\n"
        "To Email Address = payee_email\nTransaction ID = txn_id"
    )
    expect(page.get_by_label("Its records are")).to_have_value("payments")
    expect(page.get_by_label("Its dates like 03/04/2021")).to_be_focused()
    axe_check(page)
    page.get_by_label("Its dates like 03/04/2021").select_option("dmy")
    page.get_by_role("button", name="Import").click()
    expect(page.get_by_role("heading", name="PayPal activity, day first")).to_be_visible()
    expect(page.locator("#records tbody tr")).to_have_count(2, timeout=ANALYSIS_SECONDS * 1000)
    expect(page.locator("#records")).to_contain_text("2021-03-05T01:30:00Z")  # 17:30 PST on 4 March
    expect(page.locator("main")).to_contain_text("Read day first: 03/04/2021 is 3 April 2021")

    phone = open_page("phone")
    sign_in(phone, web_server.base_url, email, password)
    for where in (f"/cases/{case['id']}/records", analysis_url, f"/cases/{case['id']}/record-sets/{sets['messages']}"):
        phone.goto(where)
        assert_no_horizontal_scroll(phone)
    axe_check(phone)
