"""A small client of the Assay HTTP API for the commands that talk to a server.

``--server`` / ``ASSAY_SERVER`` names the server, ``--token`` / ``ASSAY_TOKEN``
is an API token (``assay token create`` on the server, or the web UI). Refusals
come back as ``ApiError`` with the server's own message.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any

import httpx
import typer

from assay.errors import AssayError, ConfigError

DEFAULT_SERVER = "http://127.0.0.1:8000"
API = "/api/v1"

ServerOpt = Annotated[
    str, typer.Option("--server", envvar="ASSAY_SERVER", help="The Assay server's URL.")
]
TokenOpt = Annotated[
    str,
    typer.Option(
        "--token",
        envvar="ASSAY_TOKEN",
        help="An API token (assay token create).",
        show_default=False,
    ),
]


class ApiError(AssayError):
    """The server refused the request."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


def _message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        body = None
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):  # FastAPI's validation errors
        detail = "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}"
            for d in detail
            if isinstance(d, dict)
        )
    text = str(detail) if detail else response.text.strip()[:300] or response.reason_phrase
    return f"{response.status_code}: {text}"


class ApiClient:
    def __init__(self, server: str, token: str, *, timeout_s: float = 60.0) -> None:
        if not token:
            raise ConfigError("no API token: give --token or set ASSAY_TOKEN")
        self.server = server.rstrip("/")
        self.http = httpx.Client(
            base_url=self.server + API,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
        )

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.http.close()

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """The JSON answer of a request; ``ApiError`` for a refusal or a lost server."""
        try:
            response = self.http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ApiError(f"cannot reach {self.server}: {exc}") from exc
        if response.is_error:
            raise ApiError(_message(response), response.status_code)
        return response.json() if response.content else None

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def events(self, path: str) -> Iterator[dict[str, Any]]:
        """The ``data`` of each server-sent event of ``path``, until the stream ends."""
        try:
            with self.http.stream(
                "GET", path, headers={"Accept": "text/event-stream"}, timeout=None
            ) as response:
                if response.is_error:
                    response.read()
                    raise ApiError(_message(response), response.status_code)
                if response.status_code == httpx.codes.NO_CONTENT:
                    return
                data: list[str] = []
                for line in response.iter_lines():
                    if line.startswith("data:"):
                        data.append(line[5:].removeprefix(" "))
                    elif not line and data:
                        yield json.loads("\n".join(data))
                        data = []
        except httpx.HTTPError as exc:
            raise ApiError(f"lost the event stream of {self.server}: {exc}") from exc
