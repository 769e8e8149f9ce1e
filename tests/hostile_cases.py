"""Targeted hostile requests for every operation of the app's OpenAPI schema, made from the schema itself.

For each input an operation takes (path, query, JSON body, multipart or urlencoded form, import file): a NUL
character, an unpaired surrogate (JSON only: nothing else can carry one), text one character over its
maxLength, a list one item over its maxItems, integers past their maximum, past 64 bits and past Python's
4,300-digit limit, `true` where a number goes, NaN, dates that leave the calendar in some timezone, JSON
nested thousands deep, and bytes that are not text where JSON goes. Everything else in the request is a valid
baseline, so the hostile value is what the server has to deal with.
"""

import copy
import json
import uuid
from dataclasses import dataclass, field

NUL, LONE = "a\x00b", "a\ud800b"
HUGE_INT = "9" * 5000
DEEP = "[" * 5000 + "]" * 5000
FAR_DATES = ("9999-12-31T23:59:59", "9999-12-31", "0001-01-01T00:00:00Z")
DATE_NAMES = {"occurred_at", "captured_at", "start", "end"}
RAW = "__hostile_raw_json__"  # stands for raw JSON text (a 5,000-digit number, NaN) in a body until it is written
MAX_COPIES = 20_000  # the longest list sent to go one over a maxItems
# Valid values for required fields whose schema alone does not say what one looks like.
KNOWN = {
    "occurred_at": "2021-03-04",
    "captured_at": "2021-03-04",
    "password": "a long enough password",
    "hash": "0" * 64,
    "timezone": "UTC",
    "title": "Hostile",
    "reason": "Hostile",
    "name": "Party",
    "username": "nobody@firm.example",
}


@dataclass
class Hostile:
    what: str  # e.g. "body.parties[0].name: nul"
    path_parameters: dict = field(default_factory=dict)
    query: dict = field(default_factory=dict)
    body: object = None
    media_type: str | None = None


class Builder:
    def __init__(self, schema: dict, ids: dict):
        self.schema, self.ids = schema, ids

    def resolve(self, node: dict) -> dict:
        while "$ref" in node:
            node = self.schema["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        if "anyOf" in node:  # an optional value: its non-null form
            node = self.resolve(next(n for n in node["anyOf"] if n.get("type") != "null"))
        return node

    def sample(self, name: str | None, node: dict):
        """A valid value for a field."""
        node = self.resolve(node)
        if name in self.ids:
            return self.ids[name]
        if name in KNOWN:
            return KNOWN[name]
        if "enum" in node:
            return node["enum"][0]
        kind = node.get("type")
        if kind == "object":
            return {k: self.sample(k, node["properties"][k]) for k in node.get("required", [])}
        if kind == "array":
            return []
        if kind == "integer":
            return node.get("minimum", 1)
        if kind == "number":
            return 1
        if kind == "boolean":
            return False
        if node.get("format") == "uuid":
            return str(uuid.uuid4())
        return "x" * max(1, node.get("minLength", 1))

    def place(self, node: dict, path: tuple, value, name: str | None = None):
        """A valid value of `node` with `value` at `path` (keys and list indexes)."""
        if not path:
            return value
        node = self.resolve(node)
        head, rest = path[0], path[1:]
        if node.get("type") == "array":
            return [self.place(node["items"], rest, value)]
        out = self.sample(name, node)
        out[head] = self.place(node["properties"][head], rest, value, head)
        return out

    def leaves(self, node: dict, path: tuple = ()):
        """(path, schema) of every value inside a body that a client chooses."""
        node = self.resolve(node)
        if node.get("type") == "object" and "properties" in node:
            for name, prop in node["properties"].items():
                yield from self.leaves(prop, (*path, name))
            return
        yield path, node
        if node.get("type") == "array":
            yield from self.leaves(node["items"], (*path, 0))

    def values(self, name: str, node: dict, *, json_body: bool) -> list[tuple[str, object]]:
        """(name, value) of the hostile values for one field; raw JSON text is ("raw ...", text)."""
        node, kind, out = self.resolve(node), self.resolve(node).get("type"), []
        if kind == "string" and node.get("format") == "date-time":
            out += [(f"date {d}", d) for d in FAR_DATES]
        elif kind == "string" and "enum" not in node and node.get("format") != "binary":
            out += [("nul", NUL)] + ([("surrogate", LONE)] if json_body else [])
            if "maxLength" in node and node.get("format") != "uuid":
                out.append(("one too long", "x" * (node["maxLength"] + 1)))
            if name in DATE_NAMES:
                out += [(f"date {d}", d) for d in FAR_DATES]
        elif kind == "integer":
            out += [("past 64 bits", 2**63)] + (
                [("past its maximum", node["maximum"] + 1)] if "maximum" in node else []
            )
            out += [("true", True), ("raw 5000 digits", HUGE_INT)] if json_body else []
        elif kind == "number" and json_body:
            out += [("true", True), ("raw NaN", "NaN"), ("raw 1e999", "1e999")]
        elif kind == "array":
            if node.get("maxItems", MAX_COPIES) < MAX_COPIES:
                out.append(("one item too many", [self.sample(None, node["items"])] * (node["maxItems"] + 1)))
            if not json_body:  # a repeated query parameter: its values are not walked as a body's are
                out += [(f"a value {label}", [v]) for label, v in self.values(name, node["items"], json_body=False)]
        elif kind == "object" and json_body:  # free-form (facts)
            out += [("nul", {"k": NUL}), ("surrogate", {"k": LONE}), ("nul key", {NUL: 1})]
            out += [("raw deep", f'{{"k": {DEEP}}}'), ("raw 5000 digits", f'{{"k": {HUGE_INT}}}')]
        return out

    def operation(self, op: dict, path_template: str) -> list[Hostile]:
        """Every hostile request for one operation."""
        params = op.get("parameters", [])
        path_values = {p["name"]: self.sample(p["name"], p["schema"]) for p in params if p["in"] == "path"}
        query = {p["name"]: self.sample(p["name"], p["schema"]) for p in params if p["in"] == "query" and p["required"]}
        content = op.get("requestBody", {}).get("content", {})
        media = next(iter(content), None)
        body_schema = content[media]["schema"] if media else None
        body = self.sample(None, body_schema) if body_schema else None
        if media == "multipart/form-data":
            body["file"] = b"hostile bytes"
        out: list[Hostile] = []

        def add(what: str, **kw) -> None:
            kw = {"path_parameters": path_values, "query": query, "body": body, "media_type": media} | kw
            out.append(Hostile(what, **kw))

        for p in params:
            for label, value in self.values(p["name"], p["schema"], json_body=False):
                if p["in"] == "path":
                    add(f"path {p['name']}: {label}", path_parameters=path_values | {p["name"]: value})
                elif p["in"] == "query":
                    add(f"query {p['name']}: {label}", query=query | {p["name"]: value})
        if media in ("application/json", "multipart/form-data", "application/x-www-form-urlencoded"):
            json_body = media == "application/json"
            for path, node in self.leaves(body_schema):
                for label, value in self.values(str(path[-1]) if path else "", node, json_body=json_body):
                    if json_body:
                        placed = self.place(body_schema, path, RAW if label.startswith("raw") else value)
                    else:  # a form: flat fields, and the file part
                        placed = body | {path[0]: value}
                    where = ".".join(map(str, path))
                    add(f"body {where}: {label}", body=_raw(placed, value) if label.startswith("raw") else placed)
            if json_body:
                add("body: nested 5,000 deep", body=DEEP.encode())
                add("body: bytes that are not UTF-8, as text/plain", body=b"\xff\xfe", media_type="text/plain")
            if media == "multipart/form-data" and "facts" in body_schema.get("properties", {}):
                for label, facts in [("deep", f'{{"k": {DEEP}}}'), ("5000 digits", f'{{"k": {HUGE_INT}}}')]:
                    add(f"body facts: JSON {label}", body=body | {"facts": facts})
                for label, facts in [("NaN", '{"k": NaN}'), ("nul", '{"k": "a\\u0000"}'), ("surrogate", '["\\ud800"]')]:
                    add(f"body facts: JSON {label}", body=body | {"facts": facts})
        elif media:  # an import file: JSON Lines
            for label, value in [("nul", '"a\\u0000"'), ("surrogate", '"a\\ud800"'), ("deep", DEEP)]:
                add(f"import title: {label}", body=_line(value), media_type="application/x-ndjson")
            for label, value in [("5000 digits", HUGE_INT), ("NaN", "NaN"), ("past 32 bits", str(2**31))]:
                add(f"import page: {label}", body=_line('"x"', page=value), media_type="application/x-ndjson")
        return out


def _raw(body, text: str) -> bytes:
    """The body as JSON with the RAW marker replaced by raw JSON text no json.dumps would write."""
    return json.dumps(copy.deepcopy(body)).replace(json.dumps(RAW), text).encode()


def _line(title: str, page: str | None = None) -> bytes:
    extra = f', "page": {page}, "evidence_id": "{uuid.uuid4()}"' if page else ""
    return f'{{"occurred_at": "2021-03", "title": {title}{extra}}}\n'.encode()
