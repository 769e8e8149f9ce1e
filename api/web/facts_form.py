"""The fact form of each evidence kind, made from the kind's facts model (models/facts.py) so the page asks for
exactly what the API validates; and a submitted form back into the facts the API takes (the model checks them)."""

import datetime as dt
import typing
from dataclasses import dataclass
from decimal import Decimal

from models.evidence import EvidenceKind
from models.facts import FACTS_SCHEMAS

LONG_TEXT = {"review_text", "offer_text", "review_title"}
LABELS = {"asin": "ASIN", "order_id": "Order ID", "transaction_id": "Transaction ID", "message_id": "Message ID"}


@dataclass
class FactField:
    name: str
    label: str
    input: str  # text | textarea | lines | number | decimal | date | datetime | yesno
    value: str


def _shape(annotation) -> str:
    """What kind of value a facts field holds, through Optional and Annotated."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)] or [annotation]
    inner = args[0]
    if typing.get_origin(inner) is typing.Annotated:
        inner = typing.get_args(inner)[0]
    if typing.get_origin(inner) is list:
        return "lines"
    if inner is bool:
        return "yesno"
    if inner is int:
        return "number"
    if inner is Decimal:
        return "decimal"
    if inner is dt.datetime:
        return "datetime"
    if inner is dt.date:
        return "date"
    return "text"


def _label(name: str) -> str:
    return LABELS.get(name) or name.replace("_", " ").capitalize()


def _shown(value, shape: str) -> str:
    if value is None:
        return ""
    if shape == "lines":
        return "\n".join(str(v) for v in value)
    if shape == "yesno":
        return "yes" if value else "no"
    return str(value)


def fields_for(kind: EvidenceKind, facts: dict) -> list[FactField]:
    """The kind's fields with their current values; empty for `other`, whose facts are free-form."""
    if kind is EvidenceKind.other:
        return []
    fields = []
    for name, info in FACTS_SCHEMAS[kind].model_fields.items():
        shape = _shape(info.annotation)
        if shape == "text" and name in LONG_TEXT:
            shape = "textarea"
        fields.append(FactField(name, _label(name), shape, _shown(facts.get(name), shape)))
    return fields


def read(kind: EvidenceKind, form: typing.Mapping[str, typing.Any]) -> dict:
    """The facts a submitted form states, typed as the model wants them; blank fields are left out. A value the
    model refuses comes back to the page with the API's own message."""
    facts: dict = {}
    for field in fields_for(kind, {}):
        raw = form.get(f"fact_{field.name}")
        text = raw.strip() if isinstance(raw, str) else ""
        if not text:
            continue
        if field.input == "lines":
            facts[field.name] = [line.strip() for line in text.splitlines() if line.strip()]
        elif field.input == "yesno":
            facts[field.name] = text == "yes"
        elif field.input == "number":
            facts[field.name] = int(text) if text.lstrip("-").isdigit() else text
        else:
            facts[field.name] = text
    return facts
