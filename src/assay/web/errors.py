"""ServiceError -> HTTP response: the one place service refusals become statuses.

Anything else that escapes a route is our failure: it is logged with its traceback
under a reference (the request id) and the caller gets only that reference, never
the exception's text (which may hold host paths or SQL).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from assay.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    RateLimitedError,
    ServiceError,
    StorageUnavailableError,
)
from assay.web.observability import REQUEST_ID_HEADER

log = logging.getLogger(__name__)

STATUS: dict[type[ServiceError], int] = {
    NotFoundError: 404,
    PermissionDeniedError: 403,
    AuthenticationError: 401,
    ConflictError: 409,
    InvalidRequestError: 400,
    RateLimitedError: 429,
    PayloadTooLargeError: 413,
}


def retry_after(seconds: float) -> str:
    """A ``Retry-After`` header's value: whole seconds, at least 1."""
    return str(max(1, round(seconds)))


def status_of(exc: ServiceError) -> int:
    for cls in type(exc).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


async def service_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ServiceError)  # noqa: S101 - registered for ServiceError only
    headers: dict[str, str] = {}
    if isinstance(exc, RateLimitedError):
        headers["Retry-After"] = retry_after(exc.retry_after_s)
    if isinstance(exc, AuthenticationError):
        headers["WWW-Authenticate"] = "Bearer"
    return JSONResponse(
        {"detail": exc.message, "error": type(exc).__name__},
        status_code=status_of(exc),
        headers=headers,
    )


def log_internal_error(request: Request, exc: Exception) -> str:
    """Log an unexpected exception with its traceback; returns its reference."""
    reference = getattr(request.state, "request_id", None)
    if not isinstance(reference, str):
        reference = uuid.uuid4().hex
    log.error(
        "internal error, reference %s: %s %s",
        reference,
        request.method,
        request.url.path,
        exc_info=exc,
        extra={"reference": reference, "request_id": reference},
    )
    return reference


async def internal_error_handler(request: Request, exc: Exception) -> JSONResponse:
    reference = log_internal_error(request, exc)
    return JSONResponse(
        {
            "detail": f"internal error, reference {reference}",
            "error": "InternalError",
            "reference": reference,
        },
        status_code=500,
        headers={REQUEST_ID_HEADER: reference},  # the middleware that adds it is bypassed
    )


async def storage_unavailable_handler(_request: Request, exc: Exception) -> JSONResponse:
    """Nothing can be stored now (database busy, full or read-only): 503, try again."""
    assert isinstance(exc, StorageUnavailableError)  # noqa: S101 - registered for it only
    return JSONResponse(
        {"detail": exc.message, "error": type(exc).__name__},
        status_code=503,
        headers={"Retry-After": retry_after(exc.retry_after_s)},
    )


def _sendable(value: Any) -> Any:
    """``value`` with bytes and strings made safe for a JSON answer in UTF-8 (invalid
    UTF-8 and lone surrogates escaped)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "backslashreplace")
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {_sendable(k): _sendable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_sendable(v) for v in value]
    return value


async def validation_error_handler(_request: Request, exc: Exception) -> JSONResponse:
    """FastAPI's 422, with the inputs it quotes made sendable (invalid UTF-8 in a body
    or a lone surrogate escape in a JSON string made FastAPI's own handler fail: 500)."""
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it only
    return JSONResponse({"detail": jsonable_encoder(_sendable(exc.errors()))}, status_code=422)


def install(app: FastAPI) -> None:
    app.add_exception_handler(ServiceError, service_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    app.add_exception_handler(StorageUnavailableError, storage_unavailable_handler)
    app.add_exception_handler(Exception, internal_error_handler)
