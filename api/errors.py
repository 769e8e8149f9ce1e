"""Domain errors: raised by services, rendered in one place as {"detail": ...}."""

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, status_code: int | None = None):
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


class Gone(DomainError):
    status_code = 410


class PayloadTooLarge(DomainError):
    status_code = 413


class UnprocessableEntity(DomainError):
    status_code = 422


class TooManyRequests(DomainError):
    status_code = 429

    def __init__(self, message: str, *, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries for the domain errors a route can raise."""
    return {code: {"description": _DESCRIPTIONS.get(code, "Error"), "model": ErrorBody} for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _render(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        if isinstance(exc, TooManyRequests):
            headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, but the values echoed back as `input` are made printable first: a body that is
        # not text (bytes that are not UTF-8) or holds an unpaired surrogate would otherwise fail to encode.
        errors = [err | {"input": _printable(err["input"])} if "input" in err else err for err in exc.errors()]
        return JSONResponse({"detail": jsonable_encoder(errors)}, status_code=422)

    _document_error_shapes(app)


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
    a 400 from FastAPI for a body it cannot decode at all (not UTF-8, a broken form), and 422s whose detail is
    a list (request validation) or a sentence (a domain error such as an out-of-range limit)."""
    generate = app.openapi

    def openapi() -> dict:
        if app.openapi_schema is None:
            schema = generate()
            for operations in schema["paths"].values():
                for operation in operations.values():
                    if "requestBody" in operation:
                        operation["responses"].setdefault("400", _BAD_BODY)
            validation = schema.get("components", {}).get("schemas", {}).get("HTTPValidationError")
            if validation is not None:
                listed = validation["properties"]["detail"]
                validation["properties"]["detail"] = {"anyOf": [listed, {"type": "string"}], "title": "Detail"}
        return app.openapi_schema

    app.openapi = openapi


class ErrorBody(BaseModel):
    detail: str | list | dict


_BAD_BODY = {
    "description": "Bad request: the body could not be decoded",
    "content": {"application/json": {"schema": ErrorBody.model_json_schema()}},
}


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked token",
    403: "Member without the role this needs",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    410: "Deleted: the answer says who deleted it, when and why",
    413: "Body larger than the configured limit",
    422: "Validation error",
    429: "Too many failed attempts: wait the Retry-After seconds",
}
