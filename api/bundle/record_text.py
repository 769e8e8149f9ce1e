"""Plain text, JSON pretty-printed and e-mail as the bundle prints them: up to the character limit, in blocks the
renderer lays out quickly, and what is not printed said in words."""

from api.bundle.spec import RecordLimits
from api.originals.email_parts import read_email
from api.originals.text import CUT_MARK, cut


def text_view(text: str, limits: RecordLimits, total_lines: int | None = None) -> dict:
    """Text up to the character limit. `total_lines` counts the file's lines when only its start was read."""
    losses = []
    if len(text) > limits.text_chars or total_lines is not None:
        total = total_lines or text.count("\n") + (not text.endswith("\n"))
        text = text[: limits.text_chars]
        shown = text.count("\n") + 1
        losses.append(
            f"the text is longer than the {limits.text_chars:,}-character limit for printed text: from line "
            f"{shown:,} of {total:,} on, it is not printed"
        )
    # Pages, roughly (8 pt monospace: about 75 lines of about 95 characters), to tell a long text from a short one.
    pages = text.count("\n") // 75 + len(text) // 7000
    return {"type": "text", "text": text, "blocks": blocks(text), "losses": losses, "pages": pages}


BLOCK_LINES, BLOCK_CHARS = 40, 4000


def blocks(text: str) -> list[str]:
    """The text in pieces of at most BLOCK_LINES lines and about BLOCK_CHARS characters, one <pre> each: the
    renderer lays out one long block in time that grows with the square of its length. A line longer than that
    is divided at a space where it has one (where it would wrap anyway), else where it must be."""
    lines: list[str]
    out, lines, size = [], [], 0
    for line in text.split("\n"):
        while len(line) > BLOCK_CHARS:
            cut = line.rfind(" ", BLOCK_CHARS // 2, BLOCK_CHARS) + 1 or BLOCK_CHARS
            out.append("\n".join([*lines, line[:cut]]))
            lines, size, line = [], 0, line[cut:]
        if lines and (len(lines) == BLOCK_LINES or size + len(line) > BLOCK_CHARS):
            out.append("\n".join(lines))
            lines, size = [], 0
        lines.append(line)
        size += len(line) + 1
    if lines:
        out.append("\n".join(lines))
    return out


def email_view(data: bytes, size: int, limits: RecordLimits) -> dict:
    message = read_email(data)
    long_headers = [name for name, value in message.headers if len(value) > limits.cell_chars]
    headers = [(name, cut(value, limits.cell_chars)) for name, value in message.headers]
    parts, losses = [], []
    if len(data) < size:
        losses.append(f"only the first {len(data):,} of the message's {size:,} bytes are read")
    for part in message.parts:
        label = "Message text" if part.subtype == "plain" else "HTML part, shown as source"
        if len(part.body) > limits.text_chars:
            losses.append(f"the {label.split(',')[0].lower()} is cut at {limits.text_chars:,} characters")
        parts.append({"label": label, "blocks": blocks(part.body[: limits.text_chars])})
    if attachments := message.attachments:
        parts.append({"label": "Attachments (listed, not reproduced)", "blocks": blocks("\n".join(attachments))})
        count = len(attachments)
        losses.append(f"its {count} attachment{'s are' if count > 1 else ' is'} listed by name, not reproduced")
    if long_headers:
        losses.append(
            f"headers longer than {limits.cell_chars:,} characters ({', '.join(long_headers)}) are cut short, "
            f"marked {CUT_MARK.strip()}"
        )
    return {"type": "email", "headers": headers, "parts": parts, "losses": losses}
