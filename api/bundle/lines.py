"""User text on generated pages: cut to a length that lays out quickly, with an ellipsis where it was cut."""

ELLIPSIS = "\u2026"
# The longest piece of one user string (a title, a file name, a custodian) that generated pages show: WeasyPrint
# lays out a long unbroken string in time that grows with its square, and nobody reads past this on paper.
MAX_SHOWN = 1_000


def shown(text: str | None, limit: int = MAX_SHOWN) -> str | None:
    """`text`, cut to `limit` characters with an ellipsis when longer."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 1] + ELLIPSIS
