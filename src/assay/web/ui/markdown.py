"""Markdown (assignment statements) to HTML, with raw HTML in the source escaped.

Statements are written by staff, but a course may let TAs or students author
text too; raw HTML is never passed through, so a statement cannot carry a script.
"""

from __future__ import annotations

from markdown_it import MarkdownIt
from markupsafe import Markup

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")


def to_html(text: str | None) -> Markup:
    return Markup(_md.render(text or ""))  # noqa: S704 - markdown-it escapes raw HTML (html=False)
