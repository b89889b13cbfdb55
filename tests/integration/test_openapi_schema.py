"""The published OpenAPI schema says how to authenticate."""

from __future__ import annotations

from pathlib import Path

from api_helpers import seeded_api


def test_openapi_declares_bearer_auth_on_routes_that_take_a_token(tmp_path: Path) -> None:
    with seeded_api("sqlite", tmp_path) as api, api.client() as client:
        schema = client.get("/openapi.json").json()
    schemes = schema["components"]["securitySchemes"]
    bearer = [n for n, s in schemes.items() if (s["type"], s.get("scheme")) == ("http", "bearer")]
    assert bearer, schemes
    courses = schema["paths"]["/api/v1/courses"]["get"]
    assert {bearer[0]: []} in courses["security"]
    # a login takes a password, not a token: nothing to declare there
    login = schema["paths"]["/api/v1/auth/login"]["post"]
    assert "security" not in login or {} in login["security"]


def test_openapi_declares_judge0s_token_header_on_its_routes(tmp_path: Path) -> None:
    with seeded_api("sqlite", tmp_path) as api, api.client() as client:
        schema = client.get("/openapi.json").json()
    header = schema["components"]["securitySchemes"]["judge0-token"]
    assert header == {
        "type": "apiKey",
        "in": "header",
        "name": "X-Auth-Token",
        "description": header["description"],
    }
    security = schema["paths"]["/judge0/submissions"]["post"]["security"]
    assert {"judge0-token": []} in security
    assert {"bearer": []} in security
