"""Domain errors: raised by services, rendered in one place as {"detail": ..., "code": ...}.

`detail` is written for a person and may change; `code` is stable and is what a client branches on. Each kind of
conflict is its own class with its own code, defined beside the service that raises it; `error_responses` puts
the codes a route can answer with into its OpenAPI responses, one schema per error class. A 400, 401, 403, 404 or
500 says all there is to branch on with its status, and keeps the body clients compare whole: {"detail": ...}.
"""

import logging
import uuid
from functools import cache
from typing import Annotated, Any, Literal, Union

from fastapi import FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, create_model
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.routing import Match

# What a client is told to wait when every database connection is busy: a burst is usually over by then.
BUSY_RETRY_AFTER_SECONDS = 5
log = logging.getLogger("casebinder.errors")


class DomainError(Exception):
    status_code = 400
    code: str | None = None  # stable and machine-readable, sent beside the detail; None: no code in the body
    headers: dict[str, str] | None = None  # sent with the error's response

    # The body's detail: a sentence, or (a 422) the problems found, as a list or a dict, like FastAPI's own.
    def __init__(self, message: str | list | dict, status_code: int | None = None):
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadRequest(DomainError):
    status_code = 400


class Unauthorized(DomainError):
    status_code = 401


class Forbidden(DomainError):
    status_code = 403


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class RequestTimeout(DomainError):
    status_code = 408
    code = "request_timeout"
    headers = {"Connection": "close"}  # the rest of the body is not read: the connection cannot be reused


class Gone(DomainError):
    status_code = 410
    code = "deleted"


class PayloadTooLarge(DomainError):
    status_code = 413
    code = "payload_too_large"


class UnsupportedMediaType(DomainError):
    status_code = 415
    code = "unsupported_media_type"


class UnprocessableEntity(DomainError):
    status_code = 422
    code = "validation_error"


class TooManyRequests(DomainError):
    status_code = 429
    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class ServerFault(DomainError):
    """Our failure, not the client's: 500 with an error id, logged under the same id for an administrator."""

    status_code = 500

    def __init__(self, message: str, *, error_id: str | None = None):
        self.error_id = error_id or new_error_id()
        super().__init__(f"{message} (error {self.error_id}): tell your administrator")


class BundleNotDone(Conflict):
    """The bundle has no finished build to serve or cite: it is queued, building, failed, or being rebuilt."""

    code = "bundle_not_done"


class BundleNotFinished(Conflict):
    """A bundle build is queued or running: try again once it has finished."""

    code = "bundle_not_finished"


def new_error_id() -> str:
    return str(uuid.uuid4())


class InsufficientStorage(DomainError):
    """The server's disk is full: nothing of the request was kept."""

    status_code = 507
    code = "insufficient_storage"


class DigestMismatch(UnprocessableEntity):
    """The file that arrived is not the one whose SHA-256 the client declared: nothing was stored."""

    code = "digest_mismatch"


class ObjectStoreUnavailable(DomainError):
    """The S3 object store holding the blobs did not answer: nothing of the request was kept, and the same
    request may simply be sent again."""

    status_code = 503
    code = "object_store_unavailable"
    headers = {"Retry-After": "10"}


def error_responses(*errors: int | type[DomainError]) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries for the errors a route can raise: a status (its generic error, 404 say), or
    an error class (a kind of conflict). Each status is documented with the schema of each error class it can
    carry, so the document lists every code the route can answer with."""
    classes: dict[int, list[type[DomainError]]] = {}
    for error in errors:
        if isinstance(error, int):
            classes.setdefault(error, [])
            cls = _GENERIC.get(error)
        else:
            cls = error
        if cls is not None and cls not in classes.setdefault(cls.status_code, []):
            classes[cls.status_code].append(cls)
    return {
        status: {"description": _DESCRIPTIONS.get(status, "Error"), "model": _status_model(tuple(found))}
        for status, found in sorted(classes.items())
    }


def _status_model(classes: tuple[type[DomainError], ...]):
    if not classes:
        return ErrorBody
    if len(classes) == 1:
        return error_model(classes[0])  # type: ignore[arg-type]  # mypy takes a class for not Hashable
    models = tuple(error_model(c) for c in classes)  # type: ignore[arg-type]  # as above
    return Annotated[Union[models], Field(discriminator="code")]  # noqa: UP007


@cache
def error_model(error: type[DomainError]) -> type[BaseModel]:
    """The body of one error class, named after it: its `code` as a constant."""
    if error.code is None:
        raise TypeError(f"{error.__name__} has no code to document")
    detail = str | list | dict if issubclass(error, UnprocessableEntity) else str
    # Types made at run time (a Literal of this class's code): to a checker they are values, not type expressions.
    fields: dict[str, Any] = {"detail": (detail, ...), "code": (Literal[error.code], ...)}
    return create_model(error.__name__, __doc__=(error.__doc__ or "").strip() or None, **fields)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _render(request: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else exc.headers
        body = {"detail": exc.message} | ({"code": exc.code} if exc.code else {})
        if isinstance(exc, ServerFault):
            log.error("error %s on %s %s: %s", exc.error_id, request.method, request.url.path, exc.message)
            body["error_id"] = exc.error_id
        elif exc.status_code >= 500:  # the server's trouble (a full disk), not the client's: an operator must know
            log.error("%s on %s %s: %s", exc.status_code, request.method, request.url.path, exc.message)
        return JSONResponse(body, status_code=exc.status_code, headers=headers)

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        # A bug: JSON like every other error, with an id that finds its traceback in the log.
        error_id = new_error_id()
        log.error("error %s on %s %s", error_id, request.method, request.url.path, exc_info=exc)
        detail = f"internal error (error {error_id}): tell your administrator"
        return JSONResponse({"detail": detail, "error_id": error_id}, status_code=500)

    @app.exception_handler(405)
    async def _method_not_allowed(request: Request, _: Exception) -> Response:
        # Starlette names only the methods of the first route matching the path; a path has a route per method.
        allow = ", ".join(allowed_methods(request))
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"Allow": allow})
        detail = f"{request.method} is not allowed here: this path takes {allow}"
        return JSONResponse({"detail": detail}, status_code=405, headers={"Allow": allow})

    @app.exception_handler(PoolTimeout)
    async def _busy(_: Request, __: PoolTimeout) -> JSONResponse:
        message = "the server is busy: every database connection is in use; try again in a few seconds"
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        return JSONResponse({"detail": message}, status_code=503, headers=headers)

    @app.exception_handler(OperationalError)
    async def _database_away(request: Request, exc: OperationalError) -> JSONResponse:
        if not database_unavailable(exc):
            return await _crash(request, exc)
        # Refused (too many clients, a restart), dropped mid-request or locked: the client can simply try again.
        log.error("503 on %s %s: the database is not answering: %s", request.method, request.url.path, exc.orig)
        message = "the database is not answering just now, so nothing was done: try again in a few seconds"
        headers = {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)}
        return JSONResponse({"detail": message, "code": "database_unavailable"}, status_code=503, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, but the values echoed back as `input` are made printable first: a body that is
        # not text (bytes that are not UTF-8) or holds an unpaired surrogate would otherwise fail to encode.
        errors = [err | {"input": _printable(err["input"])} if "input" in err else err for err in exc.errors()]
        body = {"detail": jsonable_encoder(errors), "code": UnprocessableEntity.code}
        return JSONResponse(body, status_code=422)

    _document_error_shapes(app)


def database_unavailable(exc: OperationalError) -> bool:
    """Whether the database failed to answer (a refused or dropped connection, a lock it could not get in time),
    as opposed to refusing a statement, which is a bug. PostgreSQL's driver raises OperationalError only for the
    former; SQLite also for a missing table or column, so there only a lock counts."""
    if exc.connection_invalidated:
        return True
    if type(exc.orig).__module__.startswith("psycopg"):
        return True
    return "database is locked" in str(exc.orig)


_METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app takes at the request's path, and OPTIONS, which every path answers."""
    methods = {"OPTIONS"}
    for route in _leaf_routes(request.app.router.routes):
        match, _ = route.matches(request.scope)
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return sorted(methods, key=lambda m: _METHOD_ORDER.index(m) if m in _METHOD_ORDER else len(_METHOD_ORDER))


def _leaf_routes(routes):
    for route in routes:
        included = getattr(route, "effective_route_contexts", None)  # a router FastAPI includes lazily
        yield from (included() if included is not None else (route,))


def _printable(value):
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if isinstance(value, dict):
        return {_printable(k): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return value


def _document_error_shapes(app: FastAPI) -> None:
    """Make the schema say what the app really answers with, besides each route's own `error_responses`:
    a 400 from FastAPI for a body it cannot decode at all (not UTF-8, a broken form), a 503 when every database
    connection is busy, and 422s whose detail is a list (request validation) or a sentence (a domain error such
    as an out-of-range limit)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        schema = app.openapi_schema
        if schema is None:
            schema = generate()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("400", _BAD_BODY)
                    operation["responses"].setdefault("503", _BUSY)
            validation = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if validation is not None:
                listed = validation["properties"]["detail"]
                validation["properties"]["detail"] = {"anyOf": [listed, {"type": "string"}], "title": "Detail"}
                code = {"const": UnprocessableEntity.code, "type": "string", "title": "Code"}
                validation["properties"]["code"] = code
                validation["required"] = [*validation.get("required", []), "code"]
        return schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to extend its schema


_GENERIC: dict[int, type[DomainError]] = {
    408: RequestTimeout,
    410: Gone,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
    422: UnprocessableEntity,
    429: TooManyRequests,
    503: ObjectStoreUnavailable,
    507: InsufficientStorage,
}


class ErrorBody(BaseModel):
    detail: str | list | dict
    error_id: str | None = None  # on a 500: the id of the log entry that says what went wrong


_BAD_BODY = {
    "description": "Bad request: the body could not be decoded",
    "content": {"application/json": {"schema": ErrorBody.model_json_schema()}},
}

_BUSY = {
    "description": "Every database connection is busy: wait the Retry-After seconds and try again",
    "content": {"application/json": {"schema": ErrorBody.model_json_schema()}},
}


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked token",
    403: "Member without the role this needs",
    404: "Not found, or not visible to the caller",
    408: "The request body stopped arriving: nothing was stored; send it again",
    409: "Conflicts with the current state",
    410: "Deleted: the answer says who deleted it, when and why",
    413: "Body larger than the configured limit",
    422: "Validation error",
    429: "Too many failed logins, or uploads in progress: wait the Retry-After seconds",
    500: "The server failed (a stored file missing or damaged, say): the body names the error id it logged",
    503: "The object store holding the files is not answering: nothing was stored; try again",
    507: "The server's disk is full: nothing was stored",
}
