"""An e-mail original (RFC 5322, as a .eml file holds it) read as its headers, its text parts and the names of its
attachments. Nothing of it is run or drawn: an HTML part is text to whoever reads it from here."""

from dataclasses import dataclass, field
from email import policy
from email.parser import BytesParser
from typing import cast

HEADERS = ("From", "To", "Cc", "Date", "Subject", "Message-ID")


@dataclass
class TextPart:
    subtype: str  # "plain", "html", ...
    body: str


@dataclass
class EmailParts:
    headers: list[tuple[str, str]]  # those of HEADERS the message has, in that order
    parts: list[TextPart] = field(default_factory=list)  # in the message's order
    attachments: list[str] = field(default_factory=list)  # file names (or types, for attachments without one)


def read_email(data: bytes) -> EmailParts:
    message = BytesParser(policy=policy.default).parsebytes(data)
    found = EmailParts([(name, str(message[name])) for name in HEADERS if message[name]])
    for part in message.walk():
        if part.is_multipart():
            continue
        if part.get_content_disposition() == "attachment":
            found.attachments.append(part.get_filename() or part.get_content_type())
            continue
        if part.get_content_maintype() == "text":
            try:
                body = part.get_content()
            except (LookupError, ValueError):
                # Decoded, a part that is not multipart is bytes (the stubs allow for a multipart's messages).
                body = cast(bytes, part.get_payload(decode=True)).decode("utf-8", errors="replace")
            found.parts.append(TextPart(part.get_content_subtype(), body))
    return found
