"""The one Jinja2 environment: templates/ at the project root, autoescaped everywhere."""

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

import templates

TEMPLATES = Path(templates.__file__).resolve().parent


@lru_cache
def environment() -> Environment:
    return Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )


def render(name: str, **context) -> str:
    return environment().get_template(name).render(**context)
