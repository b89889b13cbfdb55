"""The interactive API docs (Swagger UI), served entirely by Assay.

FastAPI's own docs page loads Swagger UI from a CDN and runs an inline script:
blank on a campus network without internet, and exempt from the pages'
Content-Security-Policy. This page loads the vendored Swagger UI
(``static/vendor/swagger-ui``) and starts it from ``static/js/apidocs.js``, so
it works offline and keeps the same strict policy as every other page.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from assay.web.ui.render import render

router = APIRouter()
DOCS_PATH = "/api/v1/docs"
OPENAPI_PATH = "/api/v1/openapi.json"


@router.get(DOCS_PATH, response_class=HTMLResponse)
def api_docs(request: Request) -> HTMLResponse:
    return render(request, "apidocs/swagger.html", openapi_url=OPENAPI_PATH)
