"""The one Jinja2 environment: templates/ at the project root, autoescaped everywhere; and the one way a page we
generate becomes a PDF."""

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


def refuse_all_fetcher():
    """A WeasyPrint URL fetcher that reads nothing: our pages are built from our templates alone, and no file:,
    http(s): or data: URL is ever fetched. (WeasyPrint is imported here, on first use: loading it costs a server or
    command most of a second it need not spend until it renders a page.)"""
    from weasyprint.urls import URLFetcher

    class RefuseAll(URLFetcher):
        def fetch(self, url, headers=None):
            raise ValueError(f"external resources are not loaded: {url[:100]}")

    return RefuseAll()


def render_pdf(html: str) -> bytes:
    """A page we generated (HTML from `render`) as PDF bytes, with nothing fetched."""
    from weasyprint import HTML

    return HTML(string=html, url_fetcher=refuse_all_fetcher(), base_url=None).write_pdf()
