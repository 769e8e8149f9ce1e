"""A plain (non-editable) install carries every template and migration: the Dockerfile installs that way."""

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.once]  # no database: run on one leg of `make test`

REPO = Path(__file__).resolve().parents[1]
DATA_DIRS = ("migrations", "templates", "api/web/static")


def test_the_wheel_carries_every_template_and_migration(tmp_path):
    # Built from a copy: setuptools writes build/ into the source tree, and the two suite legs run side by side.
    src = tmp_path / "src"
    for name in ("api", "models", *(d for d in DATA_DIRS if not d.startswith("api/"))):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"), str(src)],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    with zipfile.ZipFile(next((tmp_path / "dist").glob("casebinder-*.whl"))) as wheel:
        shipped = set(wheel.namelist())
    tracked = {
        path.relative_to(REPO).as_posix()
        for folder in DATA_DIRS
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert any(name.startswith("templates/bundle/") for name in tracked)
    assert tracked - shipped == set()
