"""The Text section of the evidence page: how the item's text was read and a screen of its pages.

A screen holds PAGE_SIZE pages, each cut to PAGE_CHARS characters, so a 2,000-page item's page loads and renders
as fast as a one-page one; the rest is a "more pages" link away, and all of it is in the .txt download. Showing
the text is reading it, so a screen that shows pages is recorded in the item's custody, as the API's text is.
"""

from dataclasses import dataclass, field
from urllib.parse import quote

from markupsafe import Markup, escape
from sqlmodel import Session

from api.errors import UnprocessableEntity
from api.services import evidence as evidence_service
from api.services import text as text_service
from api.services.text import ShownPage
from api.text import ocr
from api.web import text_marks
from api.web import text_words as words
from models.evidence import EvidenceItem
from models.user import User

PAGE_SIZE = 10  # pages on one screen
PAGE_CHARS = 20_000  # characters of one page shown; the download has all of them
LAST_PAGE = 1_000_000
BUSY = ("pending", "running")


@dataclass
class TextSection:
    fields: dict  # the API's text_* fields of the item
    pages: list[ShownPage]
    first: int  # the number of the first page on this screen
    total: int  # pages the item's text has
    languages: list[tuple[str, str]] = field(default_factory=list)  # (code, name) a rerun may choose from
    q: str = ""  # the search whose words are marked (a search hit's link passes it on)
    marked: dict[int, tuple[Markup, int]] = field(default_factory=dict)  # page -> (its text marked, words marked)

    @property
    def status(self) -> str | None:
        return self.fields.get("text_status")

    @property
    def busy(self) -> bool:
        return self.status in BUSY

    @property
    def words(self) -> str:
        return words.how_read(self.fields)

    @property
    def left_out(self) -> str | None:
        return words.left_out(self.fields)

    @property
    def language(self) -> str:
        return self.fields.get("text_language") or ""

    @property
    def unit(self) -> tuple[str, str]:
        return words.unit(self.fields.get("text_engine"))

    @property
    def mixed(self) -> bool:
        """A PDF read partly from its own text, partly by OCR: each page says which."""
        return " + " in (self.fields.get("text_engine") or "")

    def source(self, page: ShownPage) -> str:
        return words.SOURCES.get(page.source, page.source)

    @property
    def last(self) -> int:
        return self.pages[-1].page if self.pages else 0

    @property
    def earlier(self) -> int | None:
        return max(1, self.first - PAGE_SIZE) if self.first > 1 and self.total else None

    @property
    def later(self) -> int | None:
        return self.last + 1 if self.pages and self.last < self.total else None

    @property
    def later_last(self) -> int:
        """The last page the "more pages" screen shows."""
        return min(self.total, (self.later or 0) + PAGE_SIZE - 1)

    @property
    def chars(self) -> str:
        return f"{self.fields.get('text_chars') or 0:,}"

    def shown(self, page: ShownPage) -> Markup:
        """The page's text as the page shows it: escaped, with the search's words marked when there is a search."""
        return self.marked[page.page][0] if page.page in self.marked else escape(page.text)

    @property
    def marks(self) -> int:
        """Words of the search marked on this screen."""
        return sum(n for _, n in self.marked.values())

    @property
    def keep(self) -> str:
        """What the screen's links carry on to the next screen: the search whose words are marked."""
        return f"&q={quote(self.q, safe='')}" if self.q else ""


def first_page(value: str | None) -> int:
    """The first page a screen shows, from the address's `text_from` (1 when not given)."""
    value = (value or "").strip()
    if not value:
        return 1
    if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= LAST_PAGE:
        raise UnprocessableEntity(f"the page of the text to show (text_from) must be a number from 1 to {LAST_PAGE:,}")
    return int(value)


def choices(current: str) -> list[tuple[str, str]]:
    """The installed OCR languages, named, and the item's own when it is a combination such as eng+chi_sim."""
    found = [(code, f"{words.language_name(code)} ({code})") for code in sorted(ocr.installed_languages())]
    if current and current not in dict(found):
        found.insert(0, (current, f"{words.languages(current)} ({current})"))
    return found


def build(
    session: Session,
    item: EvidenceItem,
    reader: User,
    *,
    first: int = 1,
    pages: bool = True,
    can_edit: bool = False,
    q: str | None = None,
) -> TextSection:
    """The section for `reader`, from page `first` (or the last screen, past the end); `pages`: False for the
    status alone (what a page polls while the text is read), which shows no text and so records no access; `q`: a
    search whose words are marked in the text (none when it cannot be read)."""
    fields = text_service.status_fields(session, item.id) or {"text_status": None}
    total = text_service.page_count(session, item.id)
    if first > total:  # past the end (a page number typed, say): the last screen
        first = max(1, total - PAGE_SIZE + 1)
    shown = text_service.page_window(session, item.id, first, PAGE_SIZE, PAGE_CHARS) if total and pages else []
    if shown:
        details = {"via": "web", "pages": [shown[0].page, shown[-1].page]}
        evidence_service.record_access(session, "evidence.text", item, reader, details)
    language = fields.get("text_language") or ""
    found = text_marks.phrases(q)
    marked = {p.page: text_marks.marked(p.text, found) for p in shown} if found else {}
    q = (q or "").strip() if found else ""
    return TextSection(fields, shown, first, total, choices(language) if can_edit else [], q, marked)
