from fastapi import APIRouter
from sqlalchemy import text

from api.db import get_engine

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """Liveness and database reachability; needs no token."""
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}
