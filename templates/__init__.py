"""Jinja2 templates; a package so they ship with an install of casebinder."""
