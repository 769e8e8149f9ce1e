"""The `casebinder` command line."""

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import typer
from sqlalchemy.engine import make_url

from api.config import get_settings
from api.db import session_scope
from models.inputs import TOKEN_DAYS_MAX, TokenName, describe_errors

app = typer.Typer(
    help="casebinder: evidence locker for fake-review litigation.", no_args_is_help=True, pretty_exceptions_enable=False
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
text_app = typer.Typer(help="Evidence text: OCR and text extraction.", no_args_is_help=True)
search_app = typer.Typer(help="The full-text search index.", no_args_is_help=True)
app.add_typer(user_app, name="user")
app.add_typer(token_app, name="token")
app.add_typer(text_app, name="text")
app.add_typer(search_app, name="search")


@app.command()
def migrate() -> None:
    """Bring the database schema up to date."""
    from api.migrate import upgrade

    settings = get_settings()
    _queue_needs_postgres()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    _ensure_sqlite_dir(settings.database_url)
    upgrade(settings.database_url)
    _index_if_behind()
    _queue_tables()
    typer.echo("database is up to date", err=True)


def _queue_needs_postgres() -> None:
    """Exit 2, saying why, when the job queue is configured on a database that cannot hold it."""
    from api.db import get_engine
    from api.jobqueue import handoff

    try:
        handoff.check(get_engine())
    except handoff.QueueNeedsPostgres as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _queue_tables() -> None:
    """The job queue's tables (and the queue's own migrations), when the queue is configured."""
    from api.db import get_engine
    from api.jobqueue import handoff
    from api.jobqueue import schema as queue_schema

    if handoff.queued_elsewhere():
        applied = queue_schema.apply(get_engine())
        if applied:
            typer.echo(f"job queue: applied {', '.join(applied)}", err=True)


def _index_if_behind() -> None:
    """Index what a database from before search holds (a few seconds for tens of thousands of items)."""
    from api.services.search import index as search_index

    with session_scope() as session:
        if search_index.is_behind(session):
            typer.echo("indexing the stored evidence and timelines for search", err=True)
            _reindex(session, None)


def _reindex(session, case_id) -> dict[str, int]:
    from api.db import engine_of, on_commit
    from api.services.search import index as search_index

    with typer.progressbar(length=1, label="indexing", file=sys.stderr) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        counts = search_index.reindex(session, case_id=case_id, progress=progress)
    on_commit(session, lambda: search_index.tidy(engine_of(session)))
    return counts


def _open_store():
    """The blob store the settings name; exit 2 with the reason when it cannot be used (a missing bucket)."""
    from api.storage import BucketUnusable, open_store

    try:
        return open_store(_existing_data_dir())
    except BucketUnusable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None


def _existing_data_dir() -> Path:
    """The configured data dir; exit 2 when it is missing (a typo must not look like an empty store). With the S3
    backend it holds only this process's work files, and may well be new."""
    data_dir = get_settings().data_dir
    if not data_dir.is_dir() and get_settings().blob_backend == "local":
        typer.echo(f"error: the data dir {data_dir} does not exist", err=True)
        raise typer.Exit(2)
    return data_dir


@contextmanager
def _database_or_exit() -> Iterator[None]:
    """Exit 2 with a one-line reason when the database cannot be used (unreachable, or not migrated)."""
    from sqlalchemy.exc import SQLAlchemyError

    try:
        yield
    except SQLAlchemyError as exc:
        typer.echo(f"error: cannot use the database (is it migrated?): {type(exc).__name__}", err=True)
        raise typer.Exit(2) from None


def _ensure_sqlite_dir(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)


@app.command()
def serve(host: str = "127.0.0.1", port: int = 8000, workers: int = 1) -> None:
    """Serve the HTTP API (OpenAPI docs at /docs). Behind a reverse proxy, CASEBINDER_FORWARDED_ALLOW_IPS names the
    proxies whose forwarded client address is believed."""
    import uvicorn

    trusted = [part.strip() for part in get_settings().forwarded_allow_ips.split(",") if part.strip()]
    uvicorn.run(
        "api.app:app",
        host=host,
        port=port,
        workers=workers,
        proxy_headers=bool(trusted),
        forwarded_allow_ips=trusted or None,
    )


@app.command()
def worker(name: str = typer.Option(None, help="This worker's name in the queue (default: host-pid).")) -> None:
    """Run the jobs of the PostgreSQL job queue (CASEBINDER_JOB_QUEUE=procrastinate): bundle builds, verify runs,
    event imports and text. Run as many as wanted, on any hosts; stop with SIGTERM."""
    import asyncio

    from api.jobqueue import workers

    with _database_or_exit():
        refused = workers.refusal()
    if refused:
        typer.echo(f"error: {refused}", err=True)
        raise typer.Exit(2)
    asyncio.run(workers.serve(name))


@app.command()
def verify(
    anchor: list[str] = typer.Option(
        [], "--anchor", metavar="SEQ:SHA256", help="An audit event and its hash kept from an earlier run or report."
    ),
) -> None:
    """Re-hash every stored original and bundle volume, list rows without blobs and blobs without rows, walk
    the audit chain, naming its first broken link, and compare every evidence row and exhibit with what the
    chain says was acquired and linked (MISMATCH names a row that disagrees).

    Prints an anchor (the newest audit event and its hash): kept outside this system and given back with
    --anchor, it proves that no event up to it was changed since, even by someone able to rewrite the
    database. Deletes nothing; records its own run in the audit trail. Exits 0 when everything matches, 1 on
    any finding, 2 when it cannot run.
    """
    from api.services import audit
    from api.services import verify as verify_service

    try:
        anchors = [audit.Anchor.parse(text) for text in anchor]
    except ValueError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    store = _open_store()
    with _database_or_exit(), session_scope() as session:
        report = verify_service.run(session, store, anchors=anchors)
    for line in verify_service.render(report):
        typer.echo(line)
    raise typer.Exit(0 if report.ok else 1)


@user_app.command("create")
def user_create(
    email: str,
    password: str = typer.Option(..., prompt=True, hide_input=True, confirmation_prompt=True),
    full_name: str = typer.Option(None, "--name", help="Full name shown to other members."),
    admin: bool = typer.Option(False, "--admin", help="May create other accounts over the API."),
) -> None:
    """Create a user account."""
    from pydantic import ValidationError

    from api.errors import DomainError
    from api.services import users as user_service
    from models.user import UserCreate

    try:
        data = UserCreate(email=email, password=password, full_name=full_name, is_admin=admin)
        with session_scope() as session:
            user = user_service.create_user(session, data)
    except ValidationError as exc:
        typer.echo(f"error: {describe_errors(exc)}", err=True)
        raise typer.Exit(1) from None
    except (DomainError, ValueError) as exc:
        typer.echo(f"error: {getattr(exc, 'message', exc)}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"created {user.email}{' (admin)' if user.is_admin else ''}", err=True)


@user_app.command("unlock")
def user_unlock(email: str) -> None:
    """Let an account that failed too many logins log in again at once (recorded in the audit trail)."""
    from api.services import ratelimit
    from api.services import users as user_service

    with _database_or_exit(), session_scope() as session:
        user = user_service.get_by_email(session, email)
        if user is None:
            typer.echo(f"error: no user with email {email}", err=True)
            raise typer.Exit(1)
        cleared = ratelimit.unlock(session, user.email)
    typer.echo(f"unlocked {user.email}: {cleared} failed login(s) no longer count", err=True)


@token_app.command("create")
def token_create(
    email: str,
    days: int = typer.Option(90, min=1, max=TOKEN_DAYS_MAX, help="Days until the token expires."),
    name: str = typer.Option(
        "cli", help="A name to recognise the token by.", callback=lambda v: _checked(TokenName, v)
    ),
) -> None:
    """Print a new API token for a user on stdout (and nothing else)."""
    from api.services import users as user_service

    with session_scope() as session:
        user = user_service.get_by_email(session, email)
        if user is None:
            typer.echo(f"error: no user with email {email}", err=True)
            raise typer.Exit(1)
        token, _ = user_service.issue_token(session, user, ttl=timedelta(days=days), name=name)
    typer.echo(token)


def _checked(kind, value):
    """A command-line value held to the same type the API holds it to; a usage error (exit 2) saying why."""
    from pydantic import TypeAdapter, ValidationError

    try:
        return TypeAdapter(kind).validate_python(value)
    except ValidationError as exc:
        raise typer.BadParameter(describe_errors(exc)) from None


@app.command()
def demo(
    host: str = typer.Option("127.0.0.1", help="Host the printed URLs point at (and --serve binds)."),
    port: int = typer.Option(8000, help="Port the printed URLs point at (and --serve binds)."),
    serve_after: bool = typer.Option(False, "--serve", help="Start the server once seeded."),
) -> None:
    """Migrate, then seed a demo account and a demo fake-review case; print the login and a token."""
    from api.demo import seed_demo

    migrate()
    login = seed_demo(say=lambda line: typer.echo(line, err=True))
    typer.echo("")
    typer.echo("casebinder demo is ready")
    typer.echo(f"  open:     http://{host}:{port}/ and sign in with the login and password below")
    typer.echo(f"  login:    {login.email}")
    typer.echo(f"  password: {login.password}")
    typer.echo(f"  token:    {login.token}")
    typer.echo(f"  case:     {login.case_title} ({login.exhibit_count} exhibits)  id {login.case_id}")
    typer.echo(f"  try:      curl -H 'Authorization: Bearer {login.token}' http://{host}:{port}/api/v1/cases")
    if login.bundle_id:
        typer.echo(f"  bundle:   http://{host}:{port}/api/v1/bundles/{login.bundle_id}/pdf (built by the server)")
    typer.echo(f"  timeline: http://{host}:{port}/api/v1/cases/{login.case_id}/timeline.pdf")
    typer.echo(f"  docs:     http://{host}:{port}/docs")
    if serve_after:
        serve(host=host, port=port)


@app.command("import")
def import_case(
    file: Path = typer.Argument(..., help="A ZIP from GET /api/v1/cases/{id}/export."),
    as_email: str = typer.Option(None, "--as", help="An active user here who becomes an owner of the case."),
    again: bool = typer.Option(
        False, "--again", help="Import an export that was imported here before, as another, independent case."
    ),
) -> None:
    """Restore an exported case as a new case. Every file and hash is checked first; any problem refuses the
    whole import.

    Every id in the export is replaced by a new one (the source ids are kept in the `case.import` audit
    event), so an import never touches anything already here. Members are matched by email; missing accounts
    are created inactive, without a usable password. Exits 0 when imported, 1 when refused (nothing written),
    2 when it cannot run (a database it cannot use, a full disk: nothing written).
    """
    from api.deps import get_blob_store
    from api.services.transfer import importer as case_import

    try:
        with _database_or_exit():
            plan = case_import.check(file, as_email=as_email, again=again)
            result = case_import.restore(plan, get_blob_store())
    except case_import.ImportRefused as exc:
        typer.echo(f"error: import of {file} refused; nothing was written:", err=True)
        for problem in exc.problems:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1) from None
    except case_import.ImportFailed as exc:
        typer.echo(f"error: import of {file} failed; nothing was written: {exc}", err=True)
        raise typer.Exit(2) from None
    counts = ", ".join(f"{n} {name.replace('_', ' ')}" for name, n in result.counts.items())
    typer.echo(f"imported case {result.title!r} ({result.case_id}, exported as {result.source_case_id}): {counts}")
    if result.created_users:
        typer.echo(f"created inactive accounts: {', '.join(result.created_users)}")
    if result.rehomed_evidence:
        typer.echo(f"evidence from cases not imported here now belongs to this case: {len(result.rehomed_evidence)}")
    typer.echo(f"manifest sha256 {result.manifest_sha256}")


@text_app.command("backfill")
def text_backfill(
    case: str = typer.Option(None, "--case", metavar="ID", help="Only the evidence of this case."),
    failed: bool = typer.Option(False, "--failed", help="Read again the items whose reading failed."),
) -> None:
    """Read the text of every item still waiting for it (evidence stored before text was read, or queued), now,
    with a progress bar. A server running meanwhile may read some of the same items: each is read once, by
    whichever claims it first. Exits 0 once done (items that failed or were skipped are counted, not errors), 2 when
    it cannot run."""
    import uuid

    from api.deps import get_blob_store
    from api.services import text as text_service

    try:
        case_id = uuid.UUID(case) if case else None
    except ValueError:
        typer.echo(f"error: --case must be a case id (a UUID), not {case!r}", err=True)
        raise typer.Exit(2) from None
    with _database_or_exit():
        with session_scope() as session:
            ids = text_service.backlog(session, case_id, failed=failed)
        with typer.progressbar(length=len(ids), label=f"reading the text of {len(ids)} item(s)") as bar:
            text_service.read_now(get_blob_store(), ids, done=lambda: bar.update(1))
        with session_scope() as session:
            found = text_service.counts(session, ids)
    typer.echo(", ".join(f"{n} {status}" for status, n in sorted(found.items())) or "nothing to read")


@search_app.command("reindex")
def search_reindex(
    case: str = typer.Option(None, "--case", metavar="CASE_ID", help="Only this case's items and events."),
) -> None:
    """Rebuild the search index from the stored evidence (metadata and text read so far) and timeline events:
    for data stored before search existed, or after restoring a database backup taken without it. Searches keep
    working meanwhile and see the new index when it is done. Exits 2 when it cannot run."""
    import uuid

    from models.case import Case

    case_id = None
    if case is not None:
        try:
            case_id = uuid.UUID(case)
        except ValueError:
            typer.echo(f"error: --case {case[:64]!r} is not a case id", err=True)
            raise typer.Exit(2) from None
    with _database_or_exit(), session_scope() as session:
        if case_id is not None and session.get(Case, case_id) is None:
            typer.echo(f"error: no case {case_id}", err=True)
            raise typer.Exit(2)
        counts = _reindex(session, case_id)
    typer.echo(
        f"indexed {counts['items']} items ({counts['pages']} pages of text) and {counts['events']} timeline events: "
        f"{counts['documents']} search documents"
    )


@app.command()
def purge(
    dry_run: bool = typer.Option(False, "--dry-run", help="Report what would go; change nothing."),
    orphans: bool = typer.Option(
        False, "--orphans", help="Instead: remove the blobs nothing uses (what verify reports as orphans)."
    ),
) -> None:
    """Remove the originals of soft-deleted evidence that no live item or bundle volume still uses.

    Items under legal hold are skipped (each refusal is recorded in the audit trail). Prints a line per item
    and a summary. Safe to run again. Exits 0 once done (holds are not errors), 2 when it cannot run.

    With --orphans, removes instead the files in the store that no evidence row, bundle volume or legal hold
    uses, and records the run (with their hashes) in the audit trail. Files written in the last hour, and files
    that are not blobs of this store, are listed and kept.
    """
    from api.services import orphans as orphan_service
    from api.services import purge as purge_service

    store = _open_store()
    with _database_or_exit(), session_scope() as session:
        if orphans:
            orphan_report = orphan_service.purge_orphans(session, store, actor_email="command line", dry_run=dry_run)
            lines = orphan_service.render(orphan_report)
        else:
            purge_report = purge_service.purge(session, store, actor_email="command line", dry_run=dry_run)
            lines = purge_service.render(purge_report)
    for line in lines:
        typer.echo(line)


if __name__ == "__main__":
    app()
