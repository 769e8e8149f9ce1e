"""JSON as the API accepts it, wherever it comes from (a request body, the upload's facts, a JSON Lines import,
a cursor): json.loads, then refused with where it is (JSONRefused) if it holds what no field can: a NUL or an
unpaired surrogate, nesting past JSON_DEPTH_MAX, an integer past 64 bits (or past Python's 4,300-digit
conversion limit), NaN or Infinity.
"""

import json
import math
from typing import Any

from models.inputs import JSON_DEPTH_MAX, JSON_INT_MAX, JSON_INT_MIN, text_problem


class JSONRefused(ValueError):
    """Well-formed JSON holding something no field can: `path` leads to it (keys and list indexes)."""

    def __init__(self, path: tuple, message: str, kind: str):
        super().__init__(message)
        self.path, self.message, self.kind = path, message, kind

    def where(self, root: str = "") -> str:
        """The path as text, e.g. facts.size[0]."""
        out = root
        for step in self.path:
            out += f"[{step}]" if isinstance(step, int) else f"{'.' if out else ''}{step}"
        return out

    def __str__(self) -> str:
        return f"{self.where() or 'the JSON'} {self.message}"


class _Unstorable:
    """A number json.loads met that no field can hold: reported, with where it is, once the walk reaches it."""

    def __init__(self, message: str, kind: str):
        self.message, self.kind = message, kind


def _int(text: str) -> int | _Unstorable:
    digits = len(text.lstrip("-"))
    if digits <= 18 or (digits == 19 and JSON_INT_MIN <= int(text) <= JSON_INT_MAX):
        return int(text)
    return _Unstorable(
        f"is a number of {digits:,} digits, too large to store (at most {JSON_INT_MAX:,}): write long numbers "
        "such as ids as text",
        "json_int_too_large",
    )


def _float(text: str) -> float | _Unstorable:
    value = float(text)
    return value if math.isfinite(value) else _Unstorable("is a number too large to store", "json_float_too_large")


def _constant(name: str) -> _Unstorable:
    return _Unstorable(f"is {name}, which is not a JSON number: send a number or text", "json_not_a_number")


_DECODER = json.JSONDecoder(parse_int=_int, parse_float=_float, parse_constant=_constant)


def load_json(raw: str | bytes) -> Any:
    """json.loads, refusing (JSONRefused) what no field can hold; malformed JSON raises json.JSONDecodeError."""
    if isinstance(raw, bytes | bytearray):  # as json.loads reads bytes: UTF-8, -16 or -32, by their first bytes
        raw = raw.decode(json.detect_encoding(raw), "surrogatepass")
    try:
        value = _DECODER.decode(raw)
    except RecursionError:
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        raise JSONRefused(
            _too_deep(text), f"is nested more than {JSON_DEPTH_MAX} levels deep", "json_too_deep"
        ) from None
    check_json(value)
    return value


def _too_deep(text: str) -> tuple:
    """Where in JSON text (too deep for json.loads) a container first opens below JSON_DEPTH_MAX levels."""
    path: list = []
    open_kinds: list[str] = []
    i, expecting_key = 0, False
    while i < len(text):
        c = text[i]
        if c == '"':
            end = i + 1
            while end < len(text) and text[end] != '"':
                end += 2 if text[end] == "\\" else 1
            if expecting_key and open_kinds and open_kinds[-1] == "{":
                path[-1] = text[i + 1 : end]
            i = end + 1
            continue
        if c in "[{":
            if len(open_kinds) == JSON_DEPTH_MAX:
                break
            open_kinds.append(c)
            path.append(0 if c == "[" else "")
            expecting_key = c == "{"
        elif c in "]}" and open_kinds:
            open_kinds.pop()
            path.pop()
        elif c == "," and open_kinds:
            if open_kinds[-1] == "[":
                path[-1] += 1
            expecting_key = open_kinds[-1] == "{"
        elif c == ":":
            expecting_key = False
        i += 1
    return tuple(path)


def check_json(value: Any, path: tuple = ()) -> None:
    """Raise JSONRefused at the first string, number or nesting in a decoded JSON value that no field can hold."""
    if not _storable(value, len(path)):  # the quick walk; only a refusal walks again to say where
        _locate(value, path)


def _storable(value: Any, depth: int) -> bool:
    kind = type(value)
    if kind is str:
        return "\x00" not in value and (value.isascii() or text_problem(value) is None)
    if kind is dict:
        if depth >= JSON_DEPTH_MAX:
            return False
        for key, item in value.items():
            if "\x00" in key or not (key.isascii() or text_problem(key) is None):
                return False
            if type(item) is str:  # the common case, without a call
                if "\x00" in item or not (item.isascii() or text_problem(item) is None):
                    return False
            elif not _storable(item, depth + 1):
                return False
        return True
    if kind is list:
        if depth >= JSON_DEPTH_MAX:
            return False
        for item in value:
            if not _storable(item, depth + 1):
                return False
        return True
    return kind is not _Unstorable


def _locate(value: Any, path: tuple) -> None:
    if len(path) > JSON_DEPTH_MAX:
        raise JSONRefused(path[:JSON_DEPTH_MAX], f"is nested more than {JSON_DEPTH_MAX} levels deep", "json_too_deep")
    if isinstance(value, str):
        if problem := text_problem(value):
            raise JSONRefused(path, problem, "string_nul" if "NUL" in problem else "string_surrogate")
    elif isinstance(value, _Unstorable):
        raise JSONRefused(path, value.message, value.kind)
    elif isinstance(value, dict):
        for key, item in value.items():
            if problem := text_problem(key):
                raise JSONRefused(
                    path, f"has a key that {problem}", "string_nul" if "NUL" in problem else "string_surrogate"
                )
            _locate(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _locate(item, (*path, index))
