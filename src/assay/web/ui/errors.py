"""Service refusals on pages: a login redirect or an error page instead of JSON."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse, Response

from assay.errors import (
    AuthenticationError,
    RateLimitedError,
    ServiceError,
    StorageUnavailableError,
)
from assay.web import errors as api_errors
from assay.web.observability import REQUEST_ID_HEADER
from assay.web.ui.render import render
from assay.web.ui.session import LoginRequiredError, login_url

API_PATHS = ("/api/", "/judge0", "/healthz", "/readyz", "/metrics", "/static/")
TITLES = {
    400: "That did not work",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    409: "Conflict",
    413: "Too large",
    429: "Slow down",
}


async def service_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    if request.url.path.startswith(API_PATHS):
        return await api_errors.service_error_handler(request, exc)
    if isinstance(exc, LoginRequiredError):
        return RedirectResponse(login_url(exc.next_path), status_code=303)
    if isinstance(exc, AuthenticationError):
        return RedirectResponse(login_url(request.url.path), status_code=303)
    status = api_errors.status_of(exc)
    response = render(
        request,
        "error.html",
        status_code=status,
        title=TITLES.get(status, "Error"),
        message=exc.message,
        status=status,
    )
    if isinstance(exc, RateLimitedError):
        response.headers["Retry-After"] = api_errors.retry_after(exc.retry_after_s)
    return response


async def internal_error(request: Request, exc: Exception) -> Response:
    """Our failure on a page: an error page with the reference, nothing of the exception."""
    if request.url.path.startswith(API_PATHS):
        return await api_errors.internal_error_handler(request, exc)
    reference = api_errors.log_internal_error(request, exc)
    response = render(
        request,
        "error.html",
        status_code=500,
        title="Something went wrong on our side",
        message=f"Internal error, reference {reference}. Please try again; if it keeps "
        "happening, tell the course staff this reference.",
        status=500,
    )
    response.headers[REQUEST_ID_HEADER] = reference
    return response


async def storage_unavailable(request: Request, exc: Exception) -> Response:
    """503 with Retry-After: JSON for the API, a page for people."""
    assert isinstance(exc, StorageUnavailableError)  # noqa: S101 - registered for it only
    response = await api_errors.storage_unavailable_handler(request, exc)
    if request.url.path.startswith(API_PATHS):
        return response
    page = render(
        request,
        "error.html",
        status_code=503,
        title="Please try again in a moment",
        message=exc.message,
        status=503,
    )
    page.headers["Retry-After"] = response.headers["Retry-After"]
    return page


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error)
    app.add_exception_handler(StorageUnavailableError, storage_unavailable)
    app.add_exception_handler(Exception, internal_error)
