"""The web UI: server-rendered pages (Jinja2 + htmx) for students and staff.

Pages live at the site root (``/login``, ``/courses``, ``/submissions/{id}``,
``/staff/...``); the JSON API stays under ``/api/v1``. Pages call the services
layer only, like the API. Browser libraries come from npm (``web-assets/``) and
are served from ``/static`` by Assay itself. See docs/ui.md.
"""

from __future__ import annotations

from fastapi import FastAPI

from assay.web.ui import errors, pages, security
from assay.web.ui.assets import HashedStaticFiles
from assay.web.ui.render import STATIC_DIR


def install(app: FastAPI) -> None:
    security.install(app)
    errors.install(app)
    app.mount("/static", HashedStaticFiles(directory=STATIC_DIR), name="static")
    for module in pages.MODULES:
        app.include_router(module.router, include_in_schema=False)
