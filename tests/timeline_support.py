"""Helpers for the timeline tests: events through the API, every page of a listing, a PDF's text via pikepdf."""

import io
import re

import pikepdf


def add_event(actor, case_id: str, **fields) -> dict:
    body = {"occurred_at": "2021-03-04T12:00:00", "title": "An event"} | fields
    r = actor.post(f"/api/v1/cases/{case_id}/events", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def timeline(actor, case_id: str, **params):
    return actor.get(f"/api/v1/cases/{case_id}/timeline", params=params)


def titles(actor, case_id: str, **params) -> list[str]:
    r = timeline(actor, case_id, **params)
    assert r.status_code == 200, r.text
    return [e["title"] for e in r.json()["items"]]


def all_pages(actor, case_id: str, **params) -> list[dict]:
    items, cursor = [], None
    while True:
        r = timeline(actor, case_id, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        items += r.json()["items"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return items


def import_file(
    actor, case_id: str, body: bytes, content_type: str = "text/csv", headers: dict | None = None, **params
):
    return actor.post(
        f"/api/v1/cases/{case_id}/events:import",
        content=body,
        headers={"Content-Type": content_type} | (headers or {}),
        params=params,
    )


def _cmap(font) -> dict[int, str]:
    """A font's ToUnicode map: glyph code -> text (bfchar and bfrange entries)."""
    if "/ToUnicode" not in font:
        return {}
    data = font.ToUnicode.read_bytes().decode("latin-1")
    table: dict[int, str] = {}

    def text(hexa: str) -> str:
        return bytes.fromhex(hexa).decode("utf-16-be")

    for block in re.findall(r"beginbfchar(.*?)endbfchar", data, re.S):
        for src, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            table[int(src, 16)] = text(dst)
    for block in re.findall(r"beginbfrange(.*?)endbfrange", data, re.S):
        for lo, hi, dst in re.findall(r"<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>\s*<([0-9A-Fa-f]+)>", block):
            start = int(dst, 16)
            for i, code in enumerate(range(int(lo, 16), int(hi, 16) + 1)):
                table[code] = chr(start + i)
    return table


def pdf_text(content: bytes) -> list[str]:
    """The text of each page, decoded through the fonts' ToUnicode maps; text runs joined by spaces."""
    pages = []
    with pikepdf.open(io.BytesIO(content)) as pdf:
        for page in pdf.pages:
            fonts = {name: _cmap(font) for name, font in (page.Resources.get("/Font") or {}).items()}
            cmap, runs = {}, []
            for operands, operator in pikepdf.parse_content_stream(page):
                op = str(operator)
                if op == "Tf":
                    cmap = fonts.get(str(operands[0]), {})
                elif op in ("Tj", "TJ"):
                    parts = operands[0] if op == "TJ" else [operands[0]]
                    raw = b"".join(bytes(p) for p in parts if isinstance(p, pikepdf.String))
                    # WeasyPrint embeds fonts as CID fonts (Identity-H): two bytes per glyph.
                    codes = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
                    runs.append("".join(cmap.get(c, "") for c in codes))
            pages.append(" ".join(runs))
    return pages


def squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def finished_import(actor, response, *, seconds: float = 120) -> dict:
    """Follow an import answered 202 to its end (succeeded or failed); the job as JSON."""
    from tests.server_process import wait_for

    assert response.status_code == 202, response.text
    location = response.headers["Location"]
    assert location == f"/api/v1/imports/{response.json()['id']}"
    return wait_for(
        lambda: (job := actor.get(location).json())["status"] in ("succeeded", "failed") and job,
        seconds=seconds,
        what=f"import {location} to end",
        interval=0.05,
    )
