"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from assay import __version__
from assay.services import Platform
from assay.web import deps, errors, limits, observability, ui
from assay.web.api import (
    admin,
    analytics,
    assignments,
    auth,
    courses,
    events,
    execute,
    judge0,
    ops,
    submissions,
    webhooks,
)

API_PREFIX = "/api/v1"


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    yield
    # the connections kept beside the pool: live progress's LISTEN, the metrics lock
    await events.shutdown(app)
    app.state.metrics_collector.close()


def create_app(platform: Platform) -> FastAPI:
    app = FastAPI(
        lifespan=_lifespan,
        title="Assay",
        version=__version__,
        description="Autograding platform: submissions, grading, live progress, code execution.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=None,  # served offline by assay.web.ui.pages.apidocs instead of from a CDN
        redoc_url=None,
    )
    app.state.platform = platform
    app.state.intake = deps.IntakeGate(
        platform.settings.submit_concurrency, limits.shared_intake(platform)
    )
    errors.install(app)
    limits.install(app, platform)
    observability.install(app, platform)
    for module in (auth, courses, assignments, submissions, events, webhooks, execute, admin):
        app.include_router(module.router, prefix=API_PREFIX)
    app.include_router(analytics.router, prefix=API_PREFIX)
    app.include_router(judge0.router, prefix="/judge0")
    app.include_router(ops.router)
    ui.install(app)
    return app
