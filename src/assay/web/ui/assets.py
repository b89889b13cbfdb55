"""Static files with caching that is safe across deploys.

Pages link every static file as ``/static/<path>?v=<content hash>``
(``render.static_url``). A request whose ``v`` is the hash of the file being
served can be cached for a year without asking again: a changed file gets a new
URL. Anything else (no ``v``, or a stale one left in an old page) must
revalidate (``no-cache``, with the ETag StaticFiles already sends), so nobody
runs yesterday's script against today's pages.
"""

from __future__ import annotations

import os
from urllib.parse import parse_qs

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from assay.web.ui.render import static_hash

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"


class HashedStaticFiles(StaticFiles):
    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if response.status_code in (200, 304):
            response.headers["cache-control"] = (
                IMMUTABLE if _requested_hash(scope) == _current_hash(path) else REVALIDATE
            )
        return response


def _requested_hash(scope: Scope) -> str:
    raw: bytes = scope.get("query_string", b"")
    query = parse_qs(raw.decode("latin-1"))
    return (query.get("v") or [""])[0]


def _current_hash(path: str) -> str | None:
    try:
        return static_hash(path.replace(os.sep, "/"))
    except FileNotFoundError:
        return None
