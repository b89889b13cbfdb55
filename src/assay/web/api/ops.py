"""Operations endpoints at the root: liveness, readiness, Prometheus metrics.

Left out of the OpenAPI schema: they are for balancers and scrapers, not API clients.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

from assay.services.operations import ops
from assay.web.deps import PlatformDep

router = APIRouter(include_in_schema=False)


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers (no database access)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(request: Request, platform: PlatformDep) -> JSONResponse:
    """200 when this server can serve traffic now; 503 with the reasons otherwise."""
    embedded = getattr(request.app.state, "embedded_workers", 0)
    min_workers = max(platform.settings.ready_min_workers, 1 if embedded else 0)
    result = ops.readiness(platform, min_workers=min_workers)
    body = {**result.model_dump(), "reasons": result.reasons}
    return JSONResponse(body, status_code=200 if result.ready else 503)


@router.get("/metrics")
def metrics(request: Request) -> Response:
    registry: CollectorRegistry = request.app.state.metrics_registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
