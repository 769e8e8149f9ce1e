"""Helpers shared by test modules: building and reading bundles, raw multipart uploads, legal holds and the
audit trail, other server instances and the command line."""

import io
import json
import os
import subprocess
import time
import uuid
import zipfile
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

import pikepdf
import sqlalchemy as sa
from pikepdf import Matrix, Name
from sqlalchemy import inspect, text, update
from sqlmodel import select

from api.db import make_engine, session_scope
from api.services import audit
from api.services import users as user_service
from api.worker import runner
from models.audit import GENESIS_HASH, AuditEvent, AuditHead
from models.evidence import EvidenceItem
from models.user import UserCreate
from tests.conftest import PASSWORD, Actor, count_rows, staged_files, stored_blobs
from tests.server_process import BIN, Instance, fresh_database

# Bundles


def wait_done(actor, job_id: str, *, seconds: float = 180, path: str = "bundles") -> dict:
    """Poll until the build (or the job at /api/v1/<path>/<id>) finishes: a wait for a background job, not a
    performance limit."""
    deadline = time.monotonic() + seconds
    while True:
        body = actor.get(f"/api/v1/{path}/{job_id}").json()
        if body["status"] in ("done", "failed") or time.monotonic() > deadline:
            return body
        time.sleep(0.1)


def page_texts(data: bytes) -> list[str]:
    """Text of every page in the order it is drawn (pypdf, through the fonts' ToUnicode maps), whitespace run
    together: the lines of a table cell stay together, as they do not in pdftotext's reading order."""
    return [" ".join(text.split()) for text in extract(data)]


def extract(data: bytes) -> list[str]:
    """Every page's text, including the WeasyPrint pages (their fonts carry ToUnicode maps)."""
    from pypdf import PdfReader

    return [page.extract_text() or "" for page in PdfReader(io.BytesIO(data)).pages]


def build(actor, case_id: str, **body) -> dict:
    r = actor.post(f"/api/v1/cases/{case_id}/bundles", json=body)
    assert r.status_code == 202, r.text
    assert r.json()["status"] in ("queued", "running", "done")
    done = wait_done(actor, r.json()["id"])
    assert done["status"] == "done", done
    return done


def download(actor, bundle: dict, volume: int | None = None) -> bytes:
    path = f"/api/v1/bundles/{bundle['id']}/" + (f"volumes/{volume}/pdf" if volume else "pdf")
    r = actor.get(path)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf"
    return r.content


BARE = {"slip_sheets": False, "cover": False, "index": False, "certificate": False}


def placed_images(page: pikepdf.Page) -> list[tuple[pikepdf.Object, float, float, float, float]]:
    """Every image drawn on the page, through any forms that draw it: (image, x0, y0, x1, y1) in page points."""
    found = []

    def walk(stream, resources, ctm: Matrix) -> None:
        saved = []
        xobjects = resources.get("/XObject", {}) if resources is not None else {}
        for operands, operator in pikepdf.parse_content_stream(stream):
            op = str(operator)
            if op == "q":
                saved.append(ctm)
            elif op == "Q":
                ctm = saved.pop()
            elif op == "cm":
                ctm = Matrix(*(float(v) for v in operands)) @ ctm
            elif op == "Do":
                xobject = xobjects[operands[0]]
                if xobject.Subtype == Name.Image:
                    corners = [ctm.transform(p) for p in ((0, 0), (1, 0), (0, 1), (1, 1))]
                    xs, ys = [c[0] for c in corners], [c[1] for c in corners]
                    found.append((xobject, min(xs), min(ys), max(xs), max(ys)))
                elif xobject.Subtype == Name.Form:
                    own = Matrix(*(float(v) for v in xobject.get("/Matrix", [1, 0, 0, 1, 0, 0])))
                    walk(xobject, xobject.get("/Resources"), own @ ctm)

    walk(page, page.obj.get("/Resources"), Matrix())
    return found


@dataclass
class TunedInstance(Instance):
    """A server process with extra CASEBINDER_* settings."""

    extra: dict = field(default_factory=dict)

    @property
    def env(self) -> dict:
        return super().env | self.extra


def tuned_server(tmp_path_factory, name: str, extra: dict):
    """A started server of its own (database, blobs, a user) with these settings; for a module-scoped fixture to
    yield from."""
    root = tmp_path_factory.mktemp(name)
    url, drop = fresh_database(root)
    instance = TunedInstance(url, root / "blobs", extra=extra)
    instance.add_user()
    instance.start()
    yield instance
    instance.kill()
    drop()


@contextmanager
def worker_held_off(bundle_id: str):
    """Hold the bundle's build lease, as another server building it would: the build waits until the block ends."""
    lease = runner.lease(uuid.UUID(bundle_id))
    deadline = time.monotonic() + 30
    while not lease.acquire():  # the runner lets go of it just after recording the last build
        assert time.monotonic() < deadline, "the runner kept the build lease"
        time.sleep(0.05)
    try:
        yield
    finally:
        lease.release()
        runner.wake()


def rebuild(actor, bundle: dict) -> dict:
    r = actor.post(f"/api/v1/bundles/{bundle['id']}/rebuild")
    assert r.status_code == 202, r.text
    return r.json()


# Uploads


def png_claiming(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


BOUNDARY = b"hostileBOUNDARY"  # 15 characters: a test repeats it into a boundary too long to read


def multipart_part(name: bytes, value: bytes, filename: bytes | None = None) -> bytes:
    disposition = b'form-data; name="' + name + b'"' + (b'; filename="' + filename + b'"' if filename else b"")
    return b"--" + BOUNDARY + b"\r\nContent-Disposition: " + disposition + b"\r\n\r\n" + value + b"\r\n"


def multipart_headers(actor, **extra) -> dict:
    return {
        "Authorization": f"Bearer {actor.token}",
        "Content-Type": f"multipart/form-data; boundary={BOUNDARY.decode()}",
    } | extra


def blob_snapshot(blob_root):
    return stored_blobs(blob_root), count_rows("evidence_items")


def settled(blob_root, before, *, wait: float = 10.0) -> bool:
    """True once nothing new is stored and no staged file remains (cleanup runs as the request ends)."""
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        if blob_snapshot(blob_root) == before and staged_files(blob_root) == []:
            return True
        time.sleep(0.05)
    return False


def send(actor, method: str, path: str, body) -> object:
    """JSON as raw text: json.dumps writes a lone surrogate as the escape \\ud800, as a hostile client would."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return actor.request(method, f"/api/v1{path}", content=raw, headers={"Content-Type": "application/json"})


def refused(response, field: str, *words: str) -> None:
    """A 422 whose detail names the field and says what is wrong with it."""
    assert response.status_code == 422, f"{response.status_code}: {response.text[:500]}"
    text = json.dumps(response.json()["detail"]).lower()
    assert field.lower() in text, text[:500]
    for word in words:
        assert word.lower() in text, text[:500]


def upload(actor, case_id: str, **fields):
    data = {"kind": "other", "title": "Evidence"} | fields
    content = f"evidence {uuid.uuid4()}".encode()  # new bytes each time: never a duplicate of an earlier upload
    return actor.post(f"/api/v1/cases/{case_id}/evidence", files={"file": ("e.txt", content)}, data=data)


# Cases, holds and the audit trail


REASON = "Preservation letter from Mpow Direct's counsel, 2024-03-01"


def events(action: str, **where) -> list[AuditEvent]:
    with session_scope() as session:
        stmt = select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        for name, value in where.items():
            stmt = stmt.where(getattr(AuditEvent, name) == value)
        return list(session.exec(stmt))


def row(evidence_id) -> EvidenceItem:
    with session_scope() as session:
        return session.get(EvidenceItem, uuid.UUID(str(evidence_id)))


def blob(root, sha256: str):
    return root / "sha256" / sha256[:2] / sha256[2:4] / sha256


def unique_bytes(label: str) -> bytes:
    return f"{label} {uuid.uuid4()}\n".encode()


def add_member(owner, case_id: str, actor, role: str) -> None:
    r = owner.post(f"/api/v1/cases/{case_id}/members", json={"email": actor.email, "role": role})
    assert r.status_code == 201, r.text


def hold(actor, case_id: str, reason: str = REASON):
    return actor.post(f"/api/v1/cases/{case_id}/legal-hold", json={"reason": reason})


def audit_rows(engine) -> list[dict]:
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.select(AuditEvent.__table__).order_by(AuditEvent.seq)).mappings()]


def rechain(db, seq: int, details: dict | None = None) -> list[dict]:
    """Recompute every hash from event `seq` on, and the head, after changing that event's details: what someone
    able to write the database and read this code could do. Returns the rows as they were."""
    table, head = AuditEvent.__table__, AuditHead.__table__
    rows = audit_rows(db)
    before = [r for r in rows if r["seq"] >= seq]
    prev = next((r["hash"] for r in rows if r["seq"] == seq - 1), GENESIS_HASH)
    with db.begin() as conn:
        for row in before:
            changed = row | ({"details": details} if details and row["seq"] == seq else {}) | {"prev_hash": prev}
            prev = changed["hash"] = audit.chain_hash(prev, changed)
            conn.execute(update(table).where(table.c.seq == row["seq"]).values(changed))
        conn.execute(update(head).where(head.c.id == 1).values(hash=prev))
    return before


def restore_chain(db, rows: list[dict]) -> None:
    """Put rechain()'s rows back, and link the events recorded since (verify runs) to them again."""
    table = AuditEvent.__table__
    with db.begin() as conn:
        for row in rows:
            conn.execute(update(table).where(table.c.seq == row["seq"]).values(row))
    rechain(db, rows[-1]["seq"] + 1)


# Other server instances and the command line


def new_actor(client) -> Actor:
    email = f"export-{uuid.uuid4().hex[:12]}@firm.example"
    with session_scope() as session:
        user = user_service.create_user(session, UserCreate(email=email, password=PASSWORD))
        token, _ = user_service.issue_token(session, user, ttl=timedelta(hours=2))
    return Actor(client, email, token)


def rezip(data: bytes, *, drop=(), add=None, edit=None) -> bytes:
    """A copy of an export with members dropped or added, and the manifest changed by `edit`."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            if info.filename in drop:
                continue
            body = src.read(info.filename)
            if info.filename == "manifest.json" and edit is not None:
                manifest = json.loads(body)
                edit(manifest)
                body = json.dumps(manifest).encode()
            dst.writestr(info.filename, body)
        for name, body in (add or {}).items():
            dst.writestr(name, body)
    return out.getvalue()


def snapshot(instance: Instance) -> tuple[dict[str, int], list[str]]:
    """Rows in every table, and every file under the data dir: what "nothing written" is checked against."""
    engine = make_engine(instance.database_url)
    try:
        with engine.connect() as conn:
            tables = sorted(inspect(conn).get_table_names())
            rows = {t: conn.execute(text(f'SELECT count(*) FROM "{t}"')).scalar_one() for t in tables}
    finally:
        engine.dispose()
    root = instance.data_dir
    files = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return rows, files


def rows(instance: Instance, sql: str) -> list:
    engine = make_engine(instance.database_url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text(sql)))
    finally:
        engine.dispose()


def run_cli(*args, env_extra=None, input_text=None):
    """`casebinder` with the session's settings and `env_extra`; on a database of its own (no worker of the session
    watches it, tests/production.py) without the job queue unless `env_extra` gives it."""
    extra = env_extra or {}
    own = {"CASEBINDER_JOB_QUEUE": "inprocess"} if "CASEBINDER_DATABASE_URL" in extra else {}
    env = os.environ | own | extra
    return subprocess.run([str(BIN), *args], capture_output=True, text=True, env=env, input=input_text, timeout=300)
