"""Rendering pages: one Jinja2 environment (autoescape always on) for every page.

``render(request, "page.html", title=..., **context)`` returns the page. Every
template sees ``user`` (the logged-in actor's account or None), ``csrf_token``
(for forms: ``{{ csrf_field() }}``; htmx requests send it as a header, see
base.html), ``static(path)`` (a URL with a content hash, cached for a year),
``is_staff`` (course staff anywhere, or an administrator), ``flash`` messages
(``[(kind, text)]``, kind ok|error|info|warn), ``nav`` (the main-menu entry to
highlight: courses|staff), ``crumbs`` (``[(label, href or None)]``) and ``request``.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates
from markupsafe import Markup, escape

from assay.web.ui import markdown

UI_DIR = Path(__file__).parent
TEMPLATES_DIR = UI_DIR / "templates"
STATIC_DIR = UI_DIR / "static"

templates = Jinja2Templates(directory=TEMPLATES_DIR)
templates.env.autoescape = True  # every template, whatever its name
templates.env.trim_blocks = True
templates.env.lstrip_blocks = True


@cache
def static_hash(path: str) -> str:
    """The short content hash of a static file (FileNotFoundError if there is none)."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR.resolve()) or not target.is_file():
        raise FileNotFoundError(f"no static file {path!r}")
    return hashlib.sha256(target.read_bytes()).hexdigest()[:12]


def static_url(path: str) -> str:
    return f"/static/{path}?v={static_hash(path)}"


def when(moment: datetime | None, fmt: str = "%Y-%m-%d %H:%M UTC") -> str:
    """A stored time (naive means UTC) for people."""
    if moment is None:
        return "—"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime(fmt)


def iso(moment: datetime | None) -> str:
    """A stored time as ISO 8601 with its zone, for scripts (countdowns, local times)."""
    if moment is None:
        return ""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _csrf_field(request: Request) -> Markup:
    token = getattr(request.state, "csrf_token", "") or ""
    return Markup('<input type="hidden" name="csrf_token" value="{}">').format(escape(token))


templates.env.globals["static"] = static_url
templates.env.filters["when"] = when
templates.env.filters["iso"] = iso
templates.env.filters["markdown"] = markdown.to_html


def render(request: Request, name: str, *, status_code: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("user", getattr(request.state, "ui_user", None))
    context.setdefault("is_staff", getattr(request.state, "ui_is_staff", False))
    context.setdefault("csrf_token", getattr(request.state, "csrf_token", "") or "")
    context["csrf_field"] = lambda: _csrf_field(request)
    context.setdefault("flash", [])
    response = templates.TemplateResponse(request, name, context, status_code=status_code)
    response.headers.setdefault("cache-control", "no-store")
    return response
