"""Search in the web app: the box in the header of every page, the results page (best first, a page at a time, with
its filters), a result followed to the evidence page with the words marked, or to the event on the timeline. Each
test makes its own people and its own unlikely words, so only what it made can be found."""

import html
import re
from urllib.parse import parse_qs, urlencode, urlsplit

from api.web.search_view import snippet_markup
from tests.helpers import add_member
from tests.test_search import event, text_item, word
from tests.web_support import sign_in

HOSTILE = "<script>alert(1)</script> <img src=x onerror=alert(2)> </mark><b>bold</b> & \"quoted\" 'single'"
RESULT = re.compile(r'<li class="hit">.*?</li>', re.S)
SNIPPET = re.compile(r'<p class="snippet" dir="auto">(.*?)</p>', re.S)
HREF = re.compile(r'<h2 class="hit-title"><a href="([^"]+)"')


def results(html_text: str) -> list[str]:
    return RESULT.findall(html_text)


def link(result: str) -> str:
    match = HREF.search(result)
    assert match, result
    return html.unescape(match.group(1))


def searched(browser, status: int = 200, **params) -> str:
    """The results page of a search, as its form sends it."""
    response = browser.get("/search?" + urlencode(params))
    assert response.status_code == status, response.text[-2000:]
    return response.text


def test_the_search_box_is_in_the_header_of_every_page_kind(app, make_user):
    admin = make_user(admin=True)
    case = admin.make_case(title="Acme v. Mpow")
    item = text_item(admin, case["id"], "a refund was promised")
    browser = sign_in(app, admin.email)
    box = re.compile(
        r'<form class="topsearch" role="search" aria-label="Search evidence and events" method="get" action="/search">'
        r'\s*<label class="visually-hidden" for="site-search">Search evidence and events</label>'
        r'\s*<input id="site-search" [^>]*name="q" value="" [^>]*aria-keyshortcuts="/"'
    )
    scope = f'<input type="checkbox" name="case_id" value="{case["id"]}" checked> Only this case'
    for path, in_case in (
        ("/", False),
        ("/cases/new", False),
        (f"/cases/{case['id']}", True),
        (f"/cases/{case['id']}/timeline", True),
        (f"/cases/{case['id']}/members", True),
        (f"/evidence/{item['id']}?case={case['id']}", True),
        ("/admin", False),
    ):
        page = browser.get(path).text
        assert box.search(page), path
        # On a case's pages the box searches that case, unless unticked; elsewhere, every case.
        assert (scope in page) is in_case, path
    # The sign-in page has none: nothing can be searched before signing in.
    assert 'role="search"' not in sign_in(app, admin.email).client.get("/login").text
    browser.close()


def test_a_member_finds_the_words_and_follows_them_to_the_page_they_are_on(app, alice, bob):
    case, tag = alice.make_case(title="Acme v. شركة"), word()
    pages = "".join(f"section {n} filler words, " * 170 + "\n" for n in range(1, 4)) + f"the refund of {tag} was paid\n"
    item = text_item(alice, case["id"], pages, "chat.txt", kind="chat_log", title="Chat with the seller")
    browser = sign_in(app, alice.email)
    page = searched(browser, q=f"{tag} refunded")
    # The query stays in the box, which on this page belongs to the filters' form.
    assert re.search(rf'<input id="site-search" [^>]*value="{tag} refunded"[^>]*form="search-form"', page)
    [result] = results(page)
    assert f'<span class="label">{item["exhibit"]["label"]}</span>' in result
    assert '<span dir="auto">Chat with the seller</span>' in result
    assert '<span class="hit-case" dir="auto">Acme v. شركة</span>' in result
    assert '<span class="hit-where">Section 4</span>' in result and "Chat log" in result  # a decoded file's sections
    assert f"<mark>refund</mark> of <mark>{tag}</mark>" in SNIPPET.search(result).group(1)
    href = link(result)
    assert href.startswith(f"/evidence/{item['id']}?") and href.endswith("#text")
    assert parse_qs(urlsplit(href).query) == {"case": [case["id"]], "text_from": ["4"], "q": [f"{tag} refunded"]}

    # Followed: the evidence page from that section, the words of the search marked in it.
    shown = browser.get(href).text
    assert 'id="text-page-4"' in shown and 'id="text-page-3"' not in shown
    assert f"<mark>refund</mark> of <mark>{tag}</mark> was paid" in shown
    assert "are marked: 2 on this screen." in shown
    assert shown.count("<mark>") == 2

    # Someone who is not a member finds nothing, and a case filter on the case is the 404 page.
    other = sign_in(app, bob.email)
    empty = searched(other, q=tag)
    assert results(empty) == [] and "No results" in empty and tag in empty
    refused = other.get("/search?" + urlencode({"q": tag, "case_id": case["id"]}))
    assert refused.status_code == 404 and "Page not found" in refused.text and "Acme" not in refused.text
    assert other.get("/search?" + urlencode({"q": tag, "case_id": "not-a-case"})).status_code == 404
    # A member that joins finds it.
    add_member(alice, case["id"], bob, "viewer")
    assert len(results(searched(other, q=tag))) == 1
    browser.close()
    other.close()


def test_hostile_text_comes_back_escaped_with_only_the_marks_as_markup(app, alice):
    case, tag = alice.make_case(title=f"Case {HOSTILE}"), word()
    item = text_item(alice, case["id"], f"{HOSTILE} {tag}\n", title=f"Title {HOSTILE} {tag}")
    browser = sign_in(app, alice.email)
    page = searched(browser, q=tag)
    assert "<script>alert(1)" not in page and "<img src=x" not in page and "<b>bold" not in page
    found = results(page)
    assert len(found) == 2  # the text and the title
    for result in found:
        snippet = SNIPPET.search(result).group(1)
        assert f"<mark>{tag}</mark>" in snippet
        assert "&lt;script&gt;alert(1)&lt;/script&gt; &lt;img src=x onerror=alert(2)&gt;" in snippet
        assert "&lt;/mark&gt;&lt;b&gt;bold&lt;/b&gt; &amp;" in snippet  # a </mark> in the text is text too
        assert "<" not in snippet.replace("<mark>", "").replace("</mark>", "")
        assert "&lt;script&gt;" in result  # the title and case title, escaped by the template
    # A snippet that held any other tag would be shown as text, never as markup.
    assert str(snippet_markup("<mark>a</mark> <img src=x onerror=alert(1)>")) == (
        "&lt;mark&gt;a&lt;/mark&gt; &lt;img src=x onerror=alert(1)&gt;"
    )
    assert str(snippet_markup("a &lt;b&gt; <mark>c</mark>")) == "a &lt;b&gt; <mark>c</mark>"
    # The evidence page marks the words and escapes the rest.
    shown = browser.get(f"/evidence/{item['id']}?case={case['id']}&q={tag}").text
    assert "<script>alert(1)" not in shown and "<img src=x" not in shown
    assert f"&lt;/mark&gt;&lt;b&gt;bold&lt;/b&gt; &amp; &#34;quoted&#34; &#39;single&#39; <mark>{tag}</mark>" in shown
    browser.close()


def test_more_results_a_page_at_a_time(app, alice):
    case, tag = alice.make_case(), word()
    made = {event(alice, case["id"], title=f"{tag} call number {n}")["id"] for n in range(23)}
    browser = sign_in(app, alice.email)
    first = searched(browser, q=tag)
    assert len(results(first)) == 20 and "Results for" in first
    more = re.search(r'<a class="button" href="(/search\?[^"]+)" hx-get="[^"]+" hx-target="#search-more"', first)
    assert more, first[-3000:]
    second = browser.get(html.unescape(more.group(1))).text
    assert len(results(second)) == 3 and "More results for" in second and "Back to the first results" in second
    assert 'hx-target="#search-more"' not in second
    seen = [re.search(r"/timeline/events/([0-9a-f-]+)", link(r)).group(1) for r in results(first) + results(second)]
    assert len(seen) == 23 and set(seen) == made

    # With htmx, the next page comes as a list and the link after it, in place of the link, its first result focused.
    part = browser.htmx("GET", html.unescape(more.group(1))).text
    assert part.lstrip().startswith('<ol class="search-results">') and "<html" not in part
    assert len(results(part)) == 3 and part.count("autofocus") == 1 and 'id="search-more"' in part
    assert "No more results." in part and "3 more results shown." in part

    # A cursor of another search is refused in words.
    cursor = parse_qs(urlsplit(html.unescape(more.group(1))).query)["cursor"][0]
    stale = searched(browser, 400, q=f"{tag} call", cursor=cursor)
    assert "That page of results belongs to another search, or is out of date" in stale
    assert "belongs to another search" in searched(browser, 400, q=tag, cursor="garbage")
    # With htmx, in the page's alert area: the results shown so far stay.
    refused = browser.htmx("GET", "/search?" + urlencode({"q": f"{tag} call", "cursor": cursor}))
    assert refused.status_code == 400 and refused.headers["hx-retarget"] == "#alerts"
    assert "belongs to another search" in refused.text and "<html" not in refused.text
    browser.close()


def test_the_filters_narrow_the_results(app, alice):
    tag = word()
    one, two = alice.make_case(title="One v. Two"), alice.make_case(title="Three v. Four")
    refund = text_item(
        alice, one["id"], f"{tag} refund receipt", "r.txt", kind="refund_record", tags="paypal",
        occurred_at="2021-03-31T12:00:00",
    )  # fmt: skip
    chat = text_item(alice, one["id"], f"{tag} chat", "c.txt", kind="chat_log", occurred_at="2021-04-02")
    other = text_item(alice, two["id"], f"{tag} in Tokyo", "t.txt", kind="chat_log", occurred_at="2021-04-01")
    march = event(alice, one["id"], occurred_at="2021-03", title=f"{tag} refunds paid")
    exhibit = f"/api/v1/cases/{one['id']}/exhibits/{refund['exhibit']['id']}"
    r = alice.patch(exhibit, json={"designation": "confidential"})
    assert r.status_code == 200, r.text
    browser = sign_in(app, alice.email)

    def found(**filters) -> set[str]:
        ids = set()
        for result in results(searched(browser, q=tag, **filters)):
            ids.add(re.search(r"/(?:evidence|timeline/events)/([0-9a-f-]{36})", link(result)).group(1))
        return ids

    items = {refund["id"], chat["id"], other["id"]}
    assert found(type="evidence") == items
    assert march["id"] in found(type="event") and not found(type="event") & items
    assert found(type="evidence", case_id=two["id"]) == {other["id"]}
    assert found(type="evidence", kind="chat_log") == {chat["id"], other["id"]}
    assert found(type="evidence", tag="paypal") == {refund["id"]}
    assert found(type="evidence", **{"from": "2021-04-01", "to": "2021-04-02"}) == {chat["id"], other["id"]}
    assert found(type="evidence", designation="confidential") == {refund["id"]}
    # The form shows the filters chosen, the user's cases to choose from, and a way to clear them.
    page = searched(browser, q=tag, case_id=two["id"], kind="chat_log", tag="paypal")
    assert f'<option value="{two["id"]}" selected>Three v. Four</option>' in page
    assert f'<option value="{one["id"]}">One v. Two</option>' in page
    assert '<option value="chat_log" selected>Chat log</option>' in page and 'name="tag" value="paypal"' in page
    assert "No results" in page and f'href="/search?q={tag}">Search without the filters</a>' in page
    assert f'<a class="button subtle" href="/search?q={tag}">Clear filters</a>' in page
    browser.close()


def test_an_event_is_followed_to_its_row_on_the_timeline(app, alice, make_user):
    case, tag = alice.make_case(timezone="America/New_York"), word()
    item = text_item(alice, case["id"], "an order", title=f"Review by {tag}", occurred_at="2021-05-06T23:30:00")
    manual = event(alice, case["id"], occurred_at="2021-03", title=f"{tag} refunds paid")
    browser = sign_in(app, alice.email)
    found = {link(r): r for r in results(searched(browser, q=tag, type="event"))}
    to_manual = f"/cases/{case['id']}/timeline/events/{manual['id']}"
    assert to_manual in found and "Timeline event" in found[to_manual]
    # The item's derived event cites it.
    [derived] = [r for href, r in found.items() if href != to_manual]
    assert f'Cites <a href="/evidence/{item["id"]}?case={case["id"]}">{item["exhibit"]["label"]}</a>' in derived

    # The event's link: the timeline showing its month (a month event), scrolled to its row.
    response = browser.get(to_manual, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == (
        f"/cases/{case['id']}/timeline?from=2021-03&to=2021-03#event-{manual['id']}"
    )
    assert f'<tr id="event-{manual["id"]}">' in browser.get(response.headers["location"]).text
    # A timed event is shown among its day's, in the case's time zone.
    derived_href = link(derived)
    location = browser.get(derived_href, follow_redirects=False).headers["location"]
    assert location.startswith(f"/cases/{case['id']}/timeline?from=2021-05-06&to=2021-05-06#event-")
    # Someone else's event, or no event, is the 404 page.
    stranger = sign_in(app, make_user().email)
    assert stranger.get(to_manual).status_code == 404
    assert browser.get(f"/cases/{case['id']}/timeline/events/not-an-event").status_code == 404
    browser.close()
    stranger.close()


def test_an_empty_search_shows_how_to_search_and_a_bad_one_says_why(app, alice):
    case, tag = alice.make_case(), word()
    text_item(alice, case["id"], f"{tag} refund")
    browser = sign_in(app, alice.email)
    empty = searched(browser)
    assert "Search every case you are a member of" in empty and results(empty) == []
    for syntax in ("refund OR rebate", "refund NOT amazon", '"five star"', "refund*", "(refund OR rebate)"):
        assert syntax in empty, syntax
    box = re.search(r'<input id="site-search"[^>]*>', empty).group(0)
    assert 'value=""' in box and "autofocus" in box  # the page is for searching: the cursor waits in the box

    for params, field, said in (
        ({"q": '"refund'}, "q", "The query has an unmatched double quote (&#34;): close the phrase, or leave it out."),
        ({"q": "refund NOT"}, "q", "NOT needs a word, phrase or group after it."),
        ({"q": "a*"}, "q", "A prefix needs at least 2 letters or digits before its *"),
        ({"q": "refund\x00"}, "q", "The query contains a NUL character"),
        ({"q": "refund " * 200}, "q", "The query is 1,399 characters long; at most 1,000 are taken."),
        ({"q": tag, "from": "March"}, "from", "From: "),
        ({"q": tag, "from": "2021-05", "to": "2021-04"}, "to", "To (2021-04) is before from (2021-05)"),
        ({"q": tag, "kind": "selfie"}, "kind", "Kind: unknown value &#39;selfie&#39;"),
        ({"q": tag, "designation": "secret"}, "designation", "Designation must be one of none, confidential"),
        ({"q": tag, "type": "bundle"}, "type", "Type must be evidence or event."),
    ):
        page = searched(browser, 422, **params)
        assert "The search could not be run." in page and said in page, (params, page[-3000:])
        assert "How to write a search" in page and results(page) == []
        if field != "q":
            assert re.search(rf'id="s-{field}" name="{field}"[^>]*aria-invalid="true"', page), field

    # A hostile query is shown as the text it is, in the box, the title and the message.
    hostile = searched(browser, 422, q='<script>alert(1)</script> "x')
    assert "<script>alert(1)" not in hostile
    assert 'value="&lt;script&gt;alert(1)&lt;/script&gt; &#34;x"' in hostile
    assert "<title>&lt;script&gt;alert(1)&lt;/script&gt; &#34;x · Search · casebinder</title>" in hostile

    none = searched(browser, q=f"{tag} nowhereword")
    assert "No results" in none and "Try fewer words" in none
    browser.close()


def test_words_in_other_scripts_are_found_marked_and_set_in_their_direction(app, alice):
    case = alice.make_case(title="شركة النور ضد متجر الصقر")
    tag = word()
    chinese = text_item(alice, case["id"], f"{tag} 订单已退款，五星好评返现五元\n", "cn.txt", title="好评返现卡片")
    arabic = text_item(alice, case["id"], f"{tag} مراجعة خمس نجوم مدفوعة\n", "ar.txt", title="رسالة من البائع")
    browser = sign_in(app, alice.email)

    page = searched(browser, q=f'{tag} "好评返现"')
    assert f'value="{tag} &#34;好评返现&#34;"' in page  # the query kept in the box
    [result] = results(page)
    assert link(result).startswith(f"/evidence/{chinese['id']}?")
    assert "五星<mark>好评返现</mark>五元" in SNIPPET.search(result).group(1)
    assert '<span dir="auto">好评返现卡片</span>' in result

    page = searched(browser, q=f"{tag} نجوم")
    [result] = results(page)
    assert link(result).startswith(f"/evidence/{arabic['id']}?")
    assert "مراجعة خمس <mark>نجوم</mark> مدفوعة" in SNIPPET.search(result).group(1)
    assert '<span class="hit-case" dir="auto">شركة النور ضد متجر الصقر</span>' in result
    shown = browser.get(link(result)).text
    assert "مراجعة خمس <mark>نجوم</mark> مدفوعة" in shown
    browser.close()
