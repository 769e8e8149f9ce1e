"""A record set's mapping, from the file's fields to the canonical fields of its role, and the canonical values
made from what a line holds: times in UTC (a time without an offset is in the case's timezone), amounts as exact
decimals, ratings as numbers, e-mail addresses in lower case, phone numbers in E.164, enumerated values in lower
case whatever case the file wrote them in.
"""

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson
import phonenumbers

from api.dates import parse_instant
from api.records import written_times
from models.inputs import MAX_YEAR, MIN_YEAR
from models.record_set import (
    CANONICAL,
    EMAIL_FIELDS,
    ENUMS,
    KEYS,
    REQUIRED,
    TIME_FIELD,
    TIME_FIELDS,
    RecordFormat,
    RecordRole,
)

KEY_CHARS = 1000  # the longest id, address or URL kept as a key (an index entry must stay well under a page)
MAPPING_FIELDS = 200
TIME_SOURCES = 3  # fields a role's time may be put together from: a date, a time of day, a zone
_GROUPED = re.compile(r"^-?\d{1,3}(,\d{3})+(\.\d+)?$")
_CURRENCY_SIGNS = "$€£¥₹₩₪"
_PLAUSIBLE_YEARS = (MIN_YEAR, MAX_YEAR)  # outside these a time takes the full check, which says what is wrong


class MappingRefused(ValueError):
    """The mapping cannot be used: the message names the field."""


class RowProblem(ValueError):
    """A value of a line cannot be its canonical field: the line is refused with this message."""


def check_mapping(sent: Any, role: RecordRole) -> dict[str, str]:
    """The mapping as sent (decoded JSON), checked against the role: every target a canonical field of the role
    (any name for `other`), each at most once but the role's time, which may come from up to TIME_SOURCES fields
    (a date, a time of day and a zone in columns of their own), and the role's required fields all mapped."""
    if not isinstance(sent, dict) or not sent:
        raise MappingRefused(
            'mapping must be a JSON object {"<source path>": "<canonical field>"} with one entry or more'
        )
    if len(sent) > MAPPING_FIELDS:
        raise MappingRefused(f"mapping has {len(sent)} entries; at most {MAPPING_FIELDS}")
    allowed = CANONICAL[role]
    seen: dict[str, str] = {}
    for path, target in sent.items():
        if not isinstance(target, str) or not target.strip():
            raise MappingRefused(f"mapping[{path!r}] must name a canonical field as a string")
        if not path.strip() or len(path) > 500 or any(not step for step in path.split(".")):
            raise MappingRefused(f"mapping: {path[:100]!r} is not a source field or dotted path (e.g. _source.user.id)")
        if allowed and target not in allowed:
            raise MappingRefused(
                f"mapping[{path!r}]: {target[:100]!r} is not a field of {role.value} records; "
                f"they are {', '.join(allowed)}"
            )
        if not allowed and not re.fullmatch(r"[a-z][a-z0-9_]{0,62}", target):
            raise MappingRefused(f"mapping[{path!r}]: {target[:100]!r} must be a lower-case name (a-z, 0-9, _)")
        if target in seen and target == TIME_FIELD[role]:
            sources = [p for p, t in sent.items() if t == target]
            if len(sources) > TIME_SOURCES:
                raise MappingRefused(
                    f"mapping: {target} is mapped from {len(sources)} fields; at most {TIME_SOURCES} (a date, a time "
                    "of day and a zone), read in the mapping's order"
                )
        elif target in seen:
            raise MappingRefused(f"mapping: {target} is mapped twice, from {seen[target]!r} and {path!r}")
        seen.setdefault(target, path)
    missing = [name for name in REQUIRED[role] if name not in seen]
    if missing:
        raise MappingRefused(f"mapping: {role.value} records need {', '.join(missing)} mapped from a field of the file")
    return {str(path): str(target) for path, target in sent.items()}


def _walk(value: Any, steps: tuple[str, ...]) -> Any:
    for step in steps:
        if isinstance(value, dict):
            value = value.get(step)
        elif isinstance(value, list) and step.isdigit() and int(step) < len(value):
            value = value[int(step)]
        else:
            return None
        if value is None:
            return None
    return value


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """A JSON object's leaves by dotted path (lists are leaves)."""
    out: dict[str, Any] = {}
    for key, item in value.items():
        path = f"{prefix}{key}"
        if isinstance(item, dict) and item:
            out.update(flatten(item, path + "."))
        else:
            out[path] = item
    return out


@dataclass(frozen=True)
class Mapping:
    """A checked mapping, ready to take the canonical fields out of a record's values."""

    role: RecordRole
    fmt: RecordFormat
    targets: tuple[tuple[str, tuple[str, ...], str], ...]  # (path, its steps, canonical field)

    @classmethod
    def of(cls, mapping: dict[str, str], role: RecordRole, fmt: RecordFormat) -> "Mapping":
        flat = fmt == RecordFormat.csv
        return cls(role, fmt, tuple((p, (p,) if flat else tuple(p.split(".")), t) for p, t in mapping.items()))

    def unmapped(self, values: Any) -> dict[str, Any]:
        mapped = {path for path, _, _ in self.targets}
        leaves = values if self.fmt == RecordFormat.csv else flatten(values)
        return {k: v for k, v in leaves.items() if k not in mapped}

    def missing_columns(self, header: list[str]) -> list[str]:
        names = set(header)
        return [path for path, _, _ in self.targets if path not in names]


def _text(path: str, target: str, value: Any) -> str:
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool) or value is None:
        return str(value).lower()
    if isinstance(value, int | float):
        return str(value)
    return orjson.dumps(value).decode()


def _decimal(path: str, target: str, value: Any) -> str:
    text = value if isinstance(value, str) else str(value)
    clean = text.strip().replace(" ", "")
    negative = clean.startswith("-") or (clean.startswith("(") and clean.endswith(")"))
    clean = clean.strip("()").lstrip("-+").lstrip(_CURRENCY_SIGNS)
    if _GROUPED.match(clean):
        clean = clean.replace(",", "")
    try:
        amount = Decimal(clean)
    except InvalidOperation:
        raise RowProblem(f"{target} (from {path}): {text[:60]!r} is not an amount") from None
    if not amount.is_finite() or abs(amount) >= Decimal(10) ** 15:
        raise RowProblem(f"{target} (from {path}): {text[:60]!r} is not an amount")
    return str(-amount if negative else amount)


def _rating(path: str, target: str, value: Any) -> int | float:
    try:
        number = Decimal(value.strip() if isinstance(value, str) else str(value))
    except InvalidOperation:
        raise RowProblem(f"{target} (from {path}): {str(value)[:60]!r} is not a number") from None
    if not number.is_finite() or not 0 <= number <= 100:
        raise RowProblem(f"{target} (from {path}): {str(value)[:60]!r} is not a rating")
    return int(number) if number == number.to_integral_value() else float(number)


Converted = tuple[dict[str, Any], datetime | None, tuple[str | None, ...]]


class Converter:
    """Canonical values of one line of a record set, by its role and the case's timezone."""

    def __init__(self, mapping: Mapping, *, timezone: str, phone_region: str, date_order: str | None = None):
        self.mapping, self.role, self.timezone, self.region = mapping, mapping.role, timezone, phone_region
        self.date_order = date_order
        self.keys = KEYS[self.role]
        self.time_field = TIME_FIELD[self.role]
        self.required = REQUIRED[self.role]
        self._convert: dict[str, Callable[[str, str, Any], Any]] = {}
        for _, _, target in mapping.targets:
            self._convert[target] = self._converter(target)
        # (canonical fields, the record's time, its key columns) of a line's values; RowProblem if it cannot be.
        self.convert: Callable[[Any], Converted] = _compiled(self)

    def _converter(self, target: str) -> Callable[[str, str, Any], Any]:
        if target in TIME_FIELDS:
            return self._time
        if target == "amount":
            return _decimal
        if target == "rating":
            return _rating
        if target in ENUMS and target in CANONICAL[self.role]:
            return self._enum
        if target in EMAIL_FIELDS:
            return lambda p, t, v: _text(p, t, v).lower()
        if target == "phone":
            return self._phone
        if target == "currency":
            return lambda p, t, v: _text(p, t, v).upper()
        return _text

    def _time(self, path: str, target: str, value: Any) -> str:
        return self._instant(path, target, value).isoformat().replace("+00:00", "Z")

    def _instant(self, path: str, target: str, value: Any) -> datetime:
        if isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 100_000_000_000 else value  # epoch milliseconds, as ES stores them
            try:
                return datetime.fromtimestamp(seconds, UTC)
            except (OverflowError, OSError, ValueError):
                raise RowProblem(f"{target} (from {path}): {value!r} is not a time") from None
        text = str(value)
        iso = text[:4].isdigit() and text[4:5] != "/"  # ISO 8601's shape; a processor's own is read after it
        if iso and len(text) > 10:
            try:  # the common case first: a full time with its offset
                at = datetime.fromisoformat(text)
            except ValueError:
                at = None
            if at is not None and at.tzinfo is not None and _PLAUSIBLE_YEARS[0] <= at.year <= _PLAUSIBLE_YEARS[1]:
                return at.astimezone(UTC)
        if iso:
            try:
                return parse_instant(text, self.timezone, field=f"{target} (from {path})")
            except ValueError:
                pass
        try:  # as an export writes it: 03/04/2021 17:30:00 PST, March 4, 2021
            return written_times.read(text, self.timezone, self.date_order)
        except written_times.NotATime as exc:
            raise RowProblem(f"{target} (from {path}): {exc}") from None

    def _enum(self, path: str, target: str, value: Any) -> str:
        text = _text(path, target, value).lower()
        if text in ENUMS[target]:
            return text
        if (read := _AS_WRITTEN[target](text)) is None:
            raise RowProblem(f"{target} (from {path}): {str(value)[:60]!r} is not one of {', '.join(ENUMS[target])}")
        return read

    def _phone(self, path: str, target: str, value: Any) -> str:
        text = _text(path, target, value)
        try:
            number = phonenumbers.parse(text, self.region)
        except phonenumbers.NumberParseException:
            return re.sub(r"[^\d+]", "", text) or text
        if not phonenumbers.is_possible_number(number):
            return re.sub(r"[^\d+]", "", text) or text
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)

    def canonical(self, name: str, value: str) -> Any:
        """A value as a filter sends it, made canonical as the import makes the file's."""
        convert = self._convert.get(name) or self._converter(name)
        return convert(name, name, value)


# Enumerated values as exports write them, read by their words: PayPal's "Payment Refund", "Express Checkout
# Payment", "Chargeback", "General Currency Conversion"; an order history's "Canceled", "Partially shipped".
_NOT_MONEY_SENT = ("hold", "authorization", "conversion", "withdrawal", "deposit", "fee")
_SENT = ("payment", "purchase", "checkout", "payout", "mass pay", "money sent", "send money", "sent money", "donation")
_STATUS_WORDS = (
    ("cancel", "cancelled"), ("return", "returned"), ("deliver", "delivered"), ("unship", "placed"),
    ("ship", "shipped"), ("pending", "placed"), ("placed", "placed"), ("ordered", "placed"), ("processing", "placed"),
)  # fmt: skip


def _payment_type(text: str) -> str:
    """A payment's type as a processor writes it: reversal (a chargeback too), refund, payment, or other for a
    line of the export that sends no money (a hold, a currency conversion, a withdrawal, a fee, an invoice sent),
    which the finder passes over; the line keeps the type as written."""
    if any(word in text for word in _NOT_MONEY_SENT):
        return "other"
    if "reversal" in text or "chargeback" in text or "reversed" in text:
        return "reversal"
    if "refund" in text:
        return "refund"
    return "payment" if any(word in text for word in _SENT) else "other"


def _order_status(text: str) -> str | None:
    return next((status for word, status in _STATUS_WORDS if word in text), None)


_AS_WRITTEN: dict[str, Callable[[str], str | None]] = {"type": _payment_type, "status": _order_status}


def _step(value: Any, step: str) -> Any:
    """One step of a dotted path into a value that is not an object: a list's item by its index, else nothing."""
    if isinstance(value, list) and step.isdigit() and int(step) < len(value):
        return value[int(step)]
    return None


def _compiled(converter: "Converter") -> Callable[[Any], Converted]:
    """The converter's mapping as one Python function: each node of the paths walked once, each field converted
    in line, the required fields and the keys checked, all in the mapping's order (so the first problem of a line
    is the one reported, as a loop over the mapping would report it). A leaked database has millions of lines, and
    a loop over the mapping with a function per field cost three times what the line's own JSON parsing does.

    The mapping's paths and names are the user's: they reach the code only as `repr` literals, never as code."""
    mapping, role = converter.mapping, converter.role
    flat = mapping.fmt == RecordFormat.csv
    names: dict[str, Any] = {"_step": _step, "_text": _text, "RowProblem": RowProblem}
    code = ["def convert(values):", "    fields = {}", "    at = None"]
    nodes: dict[tuple[str, ...], str] = {(): "values"}

    def node(steps: tuple[str, ...]) -> str:
        if steps not in nodes:
            parent = node(steps[:-1])
            nodes[steps] = name = f"n{len(nodes)}"
            step = repr(steps[-1])
            code.append(f"    {name} = {parent}.get({step}) if {parent}.__class__ is dict else _step({parent}, {step})")
        return nodes[steps]

    # A time put together from several fields (a date, a time of day, a zone): their values joined by a space in
    # the mapping's order, read once the last is taken, and named by all of them.
    time_sources = [p for p, _, t in mapping.targets if t == converter.time_field]
    time_label = " + ".join(time_sources)
    if len(time_sources) > 1:
        code.append("    parts = []")
    for n, (path, steps, target) in enumerate(mapping.targets):
        leaf = "values" if flat or len(steps) == 1 else node(tuple(steps[:-1]))
        last = repr(path if flat else steps[-1])
        if leaf == "values":
            code.append(f"    v = values.get({last})")
        else:
            code.append(f"    v = {leaf}.get({last}) if {leaf}.__class__ is dict else _step({leaf}, {last})")
        code.append("    if v is not None and v != '':")
        quoted = (repr(path), repr(target))
        if target == converter.time_field and len(time_sources) > 1:
            code.append(
                f"        parts.append(v.strip() if v.__class__ is str else _text({quoted[0]}, {quoted[1]}, v))"
            )
            if path == time_sources[-1]:
                names["time_of_parts"] = converter._instant
                code.append("    if parts := [part for part in parts if part]:")
                code.append(f"        at = time_of_parts({time_label!r}, {quoted[1]}, ' '.join(parts))")
                code.append(f"        fields[{quoted[1]}] = at.isoformat().replace('+00:00', 'Z')")
            continue
        if target == converter.time_field:
            names[f"time{n}"] = converter._instant
            code.append(f"        at = time{n}({quoted[0]}, {quoted[1]}, v)")
            code.append(f"        fields[{quoted[1]}] = at.isoformat().replace('+00:00', 'Z')")
            continue
        convert = converter._convert[target]
        as_text = f"(v.strip() if v.__class__ is str else _text({quoted[0]}, {quoted[1]}, v))"
        if convert is _text:
            code.append(f"        c = {as_text}")
        elif target in EMAIL_FIELDS:
            code.append(f"        c = {as_text}.lower()")
        elif target == "currency":
            code.append(f"        c = {as_text}.upper()")
        else:
            names[f"convert{n}"] = convert
            code.append(f"        c = convert{n}({quoted[0]}, {quoted[1]}, v)")
        code.append(f"        if c != '':\n            fields[{quoted[1]}] = c")
    for name in REQUIRED[role]:
        source = time_label if name == converter.time_field else next(p for p, _, t in mapping.targets if t == name)
        message = repr(f"{name} (from {source}) is missing")
        code.append(f"    if {name!r} not in fields:\n        raise RowProblem({message})")
    keys = [f"k{n}" for n in range(len(converter.keys))]
    for var, name in zip(keys, converter.keys, strict=True):
        code.append(f"    {var} = fields.get({name!r})")
        names[f"long_{var}"] = _too_long(name)
        code.append(f"    if {var} is not None and len({var}) > {KEY_CHARS}:\n        long_{var}({var})")
    code.append(f"    return fields, at, ({''.join(f'{k}, ' for k in keys)})")
    exec("\n".join(code), names)  # noqa: S102 - the code is made above, the user's strings in it as repr literals
    return names["convert"]


def _too_long(name: str) -> Callable[[str], None]:
    def refuse(value: str) -> None:
        raise RowProblem(f"{name} is {len(value):,} characters long; an id or address may have {KEY_CHARS:,}")

    return refuse
