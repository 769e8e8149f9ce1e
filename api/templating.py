"""The one Jinja2 environment: templates/ at the project root, autoescaped everywhere; and the one way a page we
generate becomes a PDF."""

from functools import lru_cache
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

import templates

TEMPLATES = Path(templates.__file__).resolve().parent


def _stack(*families: str) -> Markup:
    return Markup(", ".join(f'"{family}"' for family in families))


# The font stacks of every page we render, for `{{ fonts.sans }}` in a stylesheet. DejaVu (Noto Sans Mono where
# text is monospaced) shows Latin, Greek and Cyrillic, and DejaVu Sans Arabic too; for the scripts they lack,
# fontconfig takes the first face of the stack that has the character: Noto for Arabic, Hebrew, Devanagari and Thai,
# Noto CJK for Chinese, Japanese and Korean (its simplified Chinese forms, one face for all three: a title's language
# is not known). WeasyPrint embeds only the glyphs a document uses.
_WORLD_SANS = (
    "Noto Sans",
    "Noto Sans Arabic",
    "Noto Sans Hebrew",
    "Noto Sans Devanagari",
    "Noto Sans Thai",
    "Noto Sans CJK SC",
)
FONTS = {
    "sans": _stack("DejaVu Sans", *_WORLD_SANS) + Markup(", sans-serif"),
    "serif": _stack(
        "DejaVu Serif",
        "Noto Serif",
        "Noto Naskh Arabic",
        "Noto Serif Hebrew",
        "Noto Serif Devanagari",
        "Noto Serif Thai",
        "Noto Serif CJK SC",
        *_WORLD_SANS,
    )
    + Markup(", serif"),
    # Not DejaVu Sans Mono first: its Arabic letters, each in a cell of the same width, leave gaps where they join.
    "mono": _stack("Noto Sans Mono", *_WORLD_SANS, "DejaVu Sans Mono") + Markup(", monospace"),
}


@lru_cache
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
    )
    env.globals["fonts"] = FONTS
    return env


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
