"""Git submissions: the GitHub push webhook, and (admin zone) repository links and
"find missing".

``POST /webhooks/github`` authenticates by its ``X-Hub-Signature-256`` only (no
user): a missing signature is 401, a wrong one (or no secret configured) 403.
A push whose fetch failed for some link answers 502, so the forge shows the
delivery as failed; redelivering it is safe (commits already submitted are
skipped).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from assay.services.intake import repos
from assay.services.intake.repos import CommitOutcome, RepoLinkOut, WebhookOutcome
from assay.web.deps import IdPath, PlatformDep, StaffDep, staff_zone

router = APIRouter(tags=["git"])
admin = APIRouter(tags=["admin: git"])


class RepoLinkIn(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    remote_url: str = Field(
        min_length=1,
        max_length=500,
        description="Any git remote; credentials in it are used to fetch, never shown.",
    )
    repo_full_name: str = Field(
        default="",
        max_length=300,
        description="owner/name as the webhook names it; default: from the URL.",
    )
    branch: str = Field(default="", max_length=200, description="Empty: any branch.")


@router.post(
    "/webhooks/github",
    response_model=WebhookOutcome,
    responses={
        401: {"description": "No signature."},
        403: {"description": "Wrong signature, or the webhook is not configured."},
        502: {"description": "Fetching the commit failed for some link."},
    },
)
async def github_webhook(
    request: Request,
    platform: PlatformDep,
    x_github_event: Annotated[str, Header(max_length=64)] = "",
    x_hub_signature_256: Annotated[str | None, Header(max_length=200)] = None,
) -> Response | WebhookOutcome:
    """A GitHub (or compatible) push event: the pushed commit becomes a submission."""
    body = await request.body()
    outcome = await run_in_threadpool(
        repos.handle_github_webhook, platform, x_github_event, body, x_hub_signature_256
    )
    if outcome.failed:
        return JSONResponse(outcome.model_dump(mode="json"), status_code=502)
    return outcome


@admin.get("/assignments/{assignment_id}/repos", response_model=list[RepoLinkOut])
def list_repos(assignment_id: IdPath, platform: PlatformDep, actor: StaffDep) -> list[RepoLinkOut]:
    """The repositories linked to the assignment's students (remotes shown redacted)."""
    return repos.list_links(platform, actor, assignment_id)


@admin.post("/assignments/{assignment_id}/repos", status_code=201, response_model=RepoLinkOut)
def link_repo(
    assignment_id: IdPath, body: RepoLinkIn, platform: PlatformDep, actor: StaffDep
) -> RepoLinkOut:
    """Link a student's repository to the assignment (replaces their earlier link)."""
    return repos.link_repo(platform, actor, assignment_id, **body.model_dump())


@admin.delete("/assignments/{assignment_id}/repos/{link_id}", status_code=204)
def unlink_repo(
    assignment_id: IdPath, link_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> Response:
    repos.unlink_repo(platform, actor, assignment_id, link_id)
    return Response(status_code=204)


@admin.post("/assignments/{assignment_id}/repos/find-missing", response_model=list[CommitOutcome])
def find_missing(
    assignment_id: IdPath, platform: PlatformDep, actor: StaffDep
) -> list[CommitOutcome]:
    """Ask every linked remote for its head; submit the heads never submitted."""
    return repos.find_missing(platform, actor, assignment_id)


router.include_router(admin, prefix="/admin", dependencies=[Depends(staff_zone)])
