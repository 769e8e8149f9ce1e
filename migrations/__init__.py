"""Alembic migrations; a package so they ship with an install of casebinder."""
