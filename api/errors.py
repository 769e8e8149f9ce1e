"""Domain errors: raised by services, rendered in one place as {"detail": ...}."""

from fastapi import FastAPI, Request
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


class PayloadTooLarge(DomainError):
    status_code = 413


class UnprocessableEntity(DomainError):
    status_code = 422


def error_responses(*codes: int) -> dict[int | str, dict]:
    """OpenAPI `responses=` entries for the domain errors a route can raise."""
    return {code: {"description": _DESCRIPTIONS.get(code, "Error"), "model": ErrorBody} for code in codes}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(DomainError)
    async def _render(_: Request, exc: DomainError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": exc.message}, status_code=exc.status_code, headers=headers)


class ErrorBody(BaseModel):
    detail: str | list | dict


_DESCRIPTIONS = {
    400: "Bad request",
    401: "Missing, invalid, expired or revoked token",
    403: "Member without the role this needs",
    404: "Not found, or not visible to the caller",
    409: "Conflicts with the current state",
    413: "Body larger than the configured limit",
    422: "Validation error",
}
