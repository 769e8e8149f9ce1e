"""The texts search indexes, written the same way when they are indexed and when a snippet is made from them: a
page of an item's text as read; an item's title, description and facts as one text (`Metadata`); an event's title
and description."""

from collections.abc import Iterator
from dataclasses import dataclass

FACT_SEPARATOR = "; "


def _values(value) -> Iterator[str]:
    """The values of facts, depth first; their keys are names of fields, not words of the evidence."""
    if isinstance(value, dict):
        for inner in value.values():
            yield from _values(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _values(inner)
    elif value is not None and not isinstance(value, bool):
        yield str(value)


def facts_text(facts: dict | None) -> str:
    return FACT_SEPARATOR.join(v for v in _values(facts or {}) if v.strip())


@dataclass(frozen=True)
class Metadata:
    """An item's title, description and facts, indexed as one text: a search for words of its title and of its
    facts finds the item. `fields` names where each part lies in `text`."""

    text: str
    fields: tuple[tuple[str, int, int], ...]

    @classmethod
    def of(cls, title: str, description: str | None, facts: dict | None) -> "Metadata":
        parts = [("title", title), ("description", description or ""), ("facts", facts_text(facts))]
        fields, at = [], 0
        for name, part in parts:
            fields.append((name, at, at + len(part)))
            at += len(part) + 1
        return cls("\n".join(part for _, part in parts), tuple(fields))


def event_text(title: str, description: str | None) -> str:
    return f"{title}\n{description}" if description else title
