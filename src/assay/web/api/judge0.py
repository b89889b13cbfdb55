"""A Judge0 CE-compatible subset, mounted at ``/judge0`` (see docs/code-execution.md).

Authentication: an Assay API token in Judge0's ``X-Auth-Token`` header, or as a
bearer token, or a session cookie. Anonymous use is refused (401).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import APIKeyHeader

from assay.errors import AuthenticationError, NotFoundError
from assay.services import Actor
from assay.services.execution import judge0, languages
from assay.services.execution.judge0 import MAX_BATCH, Judge0Error, SubmissionIn
from assay.services.execution.judge0_models import StatusOut
from assay.services.execution.languages import LANGUAGES, LanguageDetail, LanguageOut
from assay.services.identity import accounts
from assay.web.deps import BearerDep, PlatformDep, client_of, optional_actor

router = APIRouter(tags=["judge0"])

AUTH_HEADER = "X-Auth-Token"


# Judge0's own header, declared in the OpenAPI schema beside the bearer scheme
JUDGE0_TOKEN = APIKeyHeader(
    name=AUTH_HEADER,
    scheme_name="judge0-token",
    auto_error=False,
    description="An Assay API token in Judge0's header (a bearer token works too).",
)


def judge0_actor(
    request: Request,
    platform: PlatformDep,
    bearer: BearerDep,
    _declared: Annotated[str | None, Depends(JUDGE0_TOKEN)],
) -> Actor:
    token = request.headers.get(AUTH_HEADER, "").strip()
    actor = (
        accounts.actor_from_token(platform, token, client_of(request))
        if token
        else optional_actor(request, platform, bearer)
    )
    if actor is None:
        raise AuthenticationError(
            f"send an Assay API token in {AUTH_HEADER} (or as a bearer token)"
        )
    return actor


Judge0Actor = Annotated[Actor, Depends(judge0_actor)]
Base64 = Annotated[bool, Query(description="Text fields are base64 in the request and response.")]
Fields = Annotated[str | None, Query(description="Comma-separated fields, or `*` for all.")]


def _body_schema(schema: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` publishing a JSON body's shape: the routes take a plain dict (the
    service validates it and answers Judge0's own 422 shape), so the schema says what
    fields it reads (unknown fields are ignored, as by Judge0)."""
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def _submission_schema() -> dict[str, Any]:
    schema = SubmissionIn.model_json_schema()
    schema["properties"]["language_id"] = {
        "type": "integer",
        "enum": sorted(LANGUAGES),
        "description": "See GET /judge0/languages.",
    }
    schema["properties"]["source_code"] = {"type": "string", "minLength": 1}
    schema["required"] = ["source_code", "language_id"]
    return schema


SUBMISSION_BODY = _body_schema(_submission_schema())
BATCH_BODY = _body_schema(
    {
        "type": "object",
        "properties": {
            "submissions": {"type": "array", "items": _submission_schema(), "maxItems": MAX_BATCH}
        },
    }
)


def _answer(call: Callable[[], Any], status: int = 200) -> JSONResponse:
    try:
        return JSONResponse(call(), status_code=status)
    except Judge0Error as exc:
        return JSONResponse(exc.body(), status_code=exc.status)


@router.post("/submissions", status_code=201, openapi_extra=SUBMISSION_BODY)
def create_submission(
    *,
    platform: PlatformDep,
    actor: Judge0Actor,
    body: Annotated[dict[str, Any], Body()],
    base64_encoded: Base64 = False,
    wait: Annotated[bool, Query(description="Answer with the finished submission.")] = False,
    fields: Fields = None,
) -> JSONResponse:
    """Create a submission; ``{"token"}``, or with ``wait=true`` the result."""
    return _answer(
        lambda: judge0.create_submission(
            platform, actor, body, encoded=base64_encoded, wait=wait, fields=fields
        ),
        201,
    )


@router.post("/submissions/batch", status_code=201, openapi_extra=BATCH_BODY)
def create_batch(
    platform: PlatformDep,
    actor: Judge0Actor,
    body: Annotated[dict[str, Any], Body()],
    base64_encoded: Base64 = False,
) -> JSONResponse:
    """Create up to 20 submissions: one ``{"token"}`` (or error object) each."""
    return _answer(lambda: judge0.create_batch(platform, actor, body, encoded=base64_encoded), 201)


@router.get("/submissions/batch")
def get_batch(
    platform: PlatformDep,
    actor: Judge0Actor,
    tokens: Annotated[str, Query(description="Comma-separated tokens.")],
    base64_encoded: Base64 = False,
    fields: Fields = None,
) -> JSONResponse:
    """``{"submissions": [...]}`` in the order of ``tokens`` (null for an unknown token)."""
    return _answer(
        lambda: judge0.get_batch(platform, actor, tokens, encoded=base64_encoded, fields=fields)
    )


@router.get("/submissions/{token}")
def get_submission(
    token: str,
    platform: PlatformDep,
    actor: Judge0Actor,
    base64_encoded: Base64 = False,
    fields: Fields = None,
) -> JSONResponse:
    """One of your submissions."""
    return _answer(
        lambda: judge0.get_submission(platform, actor, token, encoded=base64_encoded, fields=fields)
    )


@router.get("/languages", response_model=list[LanguageOut])
def list_languages(actor: Judge0Actor, platform: PlatformDep) -> list[LanguageOut]:
    return languages.list_languages(platform.environment_provider)


@router.get("/languages/all", response_model=list[LanguageOut])
def all_languages(actor: Judge0Actor, platform: PlatformDep) -> list[LanguageOut]:
    return languages.list_languages(platform.environment_provider)


@router.get("/languages/{language_id}", response_model=LanguageDetail)
def get_language(language_id: int, actor: Judge0Actor, platform: PlatformDep) -> LanguageDetail:
    language = languages.get_language(language_id)
    if language is None:
        raise NotFoundError(f"no language {language_id}")
    return languages.describe(language, platform.environment_provider)


@router.get("/statuses", response_model=list[StatusOut])
def statuses(actor: Judge0Actor) -> list[StatusOut]:
    return judge0.statuses()


@router.get("/about")
def about() -> dict[str, str]:
    return judge0.about()


@router.get("/config_info")
def config_info(actor: Judge0Actor) -> dict[str, Any]:
    return judge0.config_info()
