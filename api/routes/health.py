from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlalchemy import text

from api import __version__
from api.db import get_engine
from api.templating import render

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict:
    """Liveness and database reachability; needs no token."""
    with get_engine().connect() as conn:
        conn.execute(text("SELECT 1"))
    return {"status": "ok"}


@router.get("/", response_class=HTMLResponse, include_in_schema=False)
def index() -> HTMLResponse:
    """A landing page for whoever opens the server in a browser."""
    return HTMLResponse(render("index.html", version=__version__, database=get_engine().dialect.name))
