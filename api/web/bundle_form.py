"""The bundle builder's form, read into the API's own BundleRequest.

The form also carries the exhibits the person chose and their order, as rows: each listed exhibit's id (`row`),
whether it is ticked (`include`) and its position number (`position-<id>`). Without JavaScript the position numbers,
the Move up and down buttons and "Show more" are applied by posting the form back, and it comes back as it was
sent, changed only by that step; with JavaScript the page does the same without a round trip.
"""

import math
import uuid
from dataclasses import dataclass, field

from starlette.datastructures import FormData

from api.web.bundle_words import VOLUME_PRESETS
from api.web.forms import parse
from models.bundle import BundleRequest, WithheldTitles
from models.inputs import BATES_PREFIX_CHARS

TEXT_FIELDS = ("title", "legend", "bates_prefix", "bates_start", "bates_digits", "volume", "volume_other")
FRONT_MATTER = ("cover", "index", "slip_sheets", "certificate")
WHOLE = "Enter a whole number, such as 1"
PREFIX_RULE = (
    f"Use only letters A to Z, digits, “-” and “_”, up to {BATES_PREFIX_CHARS} of them, and do not end in a digit"
)


@dataclass
class BuilderForm:
    """What the builder shows and sends: its fields as typed, the chosen rows in bundle order, and which are ticked."""

    values: dict = field(default_factory=dict)
    rows: list[uuid.UUID] = field(default_factory=list)
    included: set[uuid.UUID] = field(default_factory=set)
    cursor: str | None = None  # where "Show more" goes on from

    @classmethod
    def blank(cls, bates_prefix: str) -> "BuilderForm":
        values: dict[str, object] = dict.fromkeys(TEXT_FIELDS, "")
        values |= {"bates_prefix": bates_prefix, "bates_digits": "6"}
        values |= dict.fromkeys(FRONT_MATTER, True) | {"allow_incomplete": False, "redact": [], "selection": "all"}
        return cls(values)

    @classmethod
    def read(cls, form: FormData) -> "BuilderForm":
        values: dict[str, object] = {name: str(form.get(name, "")).strip() for name in TEXT_FIELDS}
        values |= {name: name in form for name in (*FRONT_MATTER, "allow_incomplete")}
        values["redact"] = [v for v in form.getlist("redact") if v in {w.value for w in WithheldTitles}]
        values["selection"] = "chosen" if form.get("selection") == "chosen" else "all"
        listed = [i for i in map(_uuid, form.getlist("row")) if i is not None]
        listed = list(dict.fromkeys(listed))
        order = {row: (_position(form.get(f"position-{row}"), index + 1), index) for index, row in enumerate(listed)}
        included = {i for i in map(_uuid, form.getlist("include")) if i is not None} & set(listed)
        cursor = str(form.get("cursor") or "") or None
        return cls(values, sorted(listed, key=order.__getitem__), included, cursor)

    def move(self, instruction: str) -> None:
        """Apply a Move up or Move down button ("up:<id>", "down:<id>")."""
        way, _, target = instruction.partition(":")
        row = _uuid(target)
        if row not in self.rows or way not in ("up", "down"):
            return
        at = self.rows.index(row)
        to = at - 1 if way == "up" else at + 1
        if 0 <= to < len(self.rows):
            self.rows[at], self.rows[to] = self.rows[to], self.rows[at]

    def request(self) -> tuple[BundleRequest | None, dict[str, str]]:
        """The BundleRequest this form asks for, or each field's problem in words."""
        v, errors = self.values, {}
        data: dict = {
            "title": v["title"],
            "legend": v["legend"],
            "bates_prefix": v["bates_prefix"].upper(),
            "allow_incomplete": v["allow_incomplete"],
            "redact_titles_of": v["redact"],
        } | {name: v[name] for name in FRONT_MATTER}
        for name in ("bates_start", "bates_digits"):
            if v[name]:
                try:
                    data[name] = int(v[name])
                except ValueError:
                    errors[name] = WHOLE
        size = v["volume_other"] if v["volume"] == "other" else v["volume"]
        if v["volume"] not in VOLUME_PRESETS:
            errors["max_volume_mb"] = "Choose one of the sizes offered"
        elif v["volume"] == "other" and not size:
            errors["max_volume_mb"] = "Enter the size in MB, such as 20, or choose one of the sizes offered"
        elif size:
            try:
                data["max_volume_mb"] = float(size)
            except ValueError:
                errors["max_volume_mb"] = "Enter the size in MB as a number, such as 20"
        if v["selection"] == "chosen":
            chosen = [row for row in self.rows if row in self.included]
            if not chosen:
                errors["exhibit_ids"] = "Tick at least one exhibit, or choose to bundle all of them"
            data["exhibit_ids"] = chosen or None
        request, problems = parse(BundleRequest, data)
        if "bates_prefix" in problems:  # the model names its field; the page names what to type
            problems["bates_prefix"] = PREFIX_RULE
        errors = problems | errors
        return (request if not errors else None), errors


def _uuid(value) -> uuid.UUID | None:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        return None


def _position(value, listed_at: int) -> float:
    """Where a row goes: the number typed (a blank or unreadable one counts as the place the row was listed at).
    A row given another row's number lands at that number: after it when moved down, before it when moved up."""
    try:
        number = float(str(value))
    except ValueError:
        return listed_at
    if not math.isfinite(number):
        return listed_at
    return number + (0.5 if number > listed_at else -0.5 if number < listed_at else 0)
