from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.db import get_engine
from api.migrate import schema_behind
from api.worker import RUNNERS

router = APIRouter(tags=["health"])

UNHEALTHY: dict[int | str, dict[str, Any]] = {
    503: {
        "description": "Something is wrong; `problems` says what, in words.",
        "content": {
            "application/json": {
                "example": {
                    "status": "unhealthy",
                    "detail": "the bundle runner has stopped: its thread died",
                    "problems": ["the bundle runner has stopped: its thread died"],
                }
            }
        },
    }
}


def _select_one() -> None:
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))


def _database_problem(check) -> str | None:
    """None when `check()` answers None; its answer, or why the database could not be asked, otherwise."""
    try:
        return check()
    except (SQLAlchemyError, OSError) as exc:
        return f"the database is unreachable ({type(exc).__name__}: {str(exc).strip().splitlines()[0][:200]})"


def _runner_problems() -> list[str]:
    return [p for p in (each.problem() for each in RUNNERS.values()) if p]


def _answer(problems: list[str], ok: str, not_ok: str):
    if problems:
        return JSONResponse({"status": not_ok, "detail": "; ".join(problems), "problems": problems}, status_code=503)
    return {"status": ok}


@router.get("/healthz", responses=UNHEALTHY)
def healthz():
    """Liveness: the database answers and the background runners (bundle builds, verify runs, event imports) are
    alive and not stuck; needs no token. 503 with `problems` otherwise. As cheap as one `SELECT 1`."""
    database = _database_problem(_select_one)
    return _answer([p for p in (database,) if p] + _runner_problems(), "ok", "unhealthy")


@router.get("/readyz", responses=UNHEALTHY)
def readyz():
    """Readiness, for load balancers: the database answers, its schema is this version's, and the background runners
    are alive. 503 with `problems` otherwise; needs no token."""
    database = _database_problem(lambda: schema_behind(get_engine()))
    return _answer([p for p in (database,) if p] + _runner_problems(), "ready", "not ready")
