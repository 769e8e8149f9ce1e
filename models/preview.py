"""What the evidence page shows of an original: the original itself (an image), page images (a PDF), its text, a
table, an e-mail's headers and text, or nothing, with the reason why. Every string is text to be escaped where it
is shown, never markup: an HTML e-mail comes as the text a reader sees."""

from enum import StrEnum

from sqlmodel import Field, SQLModel


class PreviewMode(StrEnum):
    image = "image"  # show the original (GET /evidence/{id}/content) as it is
    pdf = "pdf"  # show page images (GET /evidence/{id}/pages/{page}.png)
    text = "text"
    table = "table"
    email = "email"
    none = "none"  # nothing to show: `reason` says why


class EmailHeader(SQLModel):
    name: str = Field(description="From, To, Cc, Date, Subject or Message-ID.")
    value: str


class Preview(SQLModel):
    mode: PreviewMode
    media_type: str = Field(description="The original's type, as sniffed at upload.")
    reason: str | None = Field(
        default=None, description="Why nothing is shown (mode none), in words for the person looking."
    )
    note: str | None = Field(
        default=None, description="What the reader should know about what is shown: the encoding it was read in, "
        "where a CSV stops being CSV, what is left off."
    )  # fmt: skip
    truncated: bool = Field(default=False, description="Only part of the original is shown: download it for all.")
    page_count: int | None = Field(default=None, description="pdf: pages in the PDF.")
    pages_shown: int | None = Field(
        default=None, description="pdf: the first this many pages have page images (pages 1 to pages_shown)."
    )
    text: str | None = Field(
        default=None, description="text: the file's start, decoded; email: the message text (plain text, or the "
        "words of its HTML part, never the HTML)."
    )  # fmt: skip
    columns: list[str] | None = Field(default=None, description="table: the column names.")
    rows: list[list[str]] | None = Field(default=None, description="table: the first rows, as many cells as columns.")
    row_numbers: list[int] | None = Field(
        default=None, description="table: each row's number: its row in a spreadsheet (a CSV's row 1 holds the "
        "column names) or its line in the file (JSON Lines)."
    )  # fmt: skip
    headers: list[EmailHeader] | None = Field(default=None, description="email: the message's headers.")
    attachments: list[str] | None = Field(default=None, description="email: its attachments' names (not shown).")
