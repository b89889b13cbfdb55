"""Authentication over real HTTP: password login with session cookie and CSRF, API
tokens (revocation), single sign-on against a small OIDC provider on loopback,
rate limits and request size limits."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from collections.abc import Iterator
from contextlib import closing
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlparse

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from api_helpers import PASSWORD, Api, seeded_api
from assay.services.intake import submissions
from platform_helpers import DATABASE_KINDS


@pytest.fixture(params=DATABASE_KINDS)
def api(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Api]:
    with seeded_api(request.param, tmp_path) as seeded:
        yield seeded


def login(api: Api, username: str = "alice") -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=api.url + "/api/v1", timeout=30)
    response = client.post("/auth/login", json={"username": username, "password": PASSWORD})
    assert response.status_code == 200, response.text
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "secure" not in cookie
    csrf: str = response.json()["csrf_token"]
    return client, csrf


def test_login_cookie_csrf_and_logout(api: Api) -> None:
    client, csrf = login(api)
    with closing(client):
        assert client.get("/auth/me").json()["username"] == "alice"
        refused = client.post("/auth/tokens", json={"name": "cli"})
        assert refused.status_code == 403
        assert "CSRF" in refused.json()["detail"]
        wrong = client.post("/auth/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": "x"})
        assert wrong.status_code == 403
        made = client.post("/auth/tokens", json={"name": "cli"}, headers={"X-CSRF-Token": csrf})
        assert made.status_code == 201
        assert client.post("/auth/logout").status_code == 403  # CSRF needed here too
        assert client.post("/auth/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
        assert client.get("/auth/me").status_code == 401


def test_wrong_password_and_unknown_user_look_the_same(api: Api) -> None:
    with httpx.Client(base_url=api.url + "/api/v1") as client:
        wrong = client.post("/auth/login", json={"username": "alice", "password": "nope-nope"})
        unknown = client.post("/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()


def test_tokens_listed_and_revoked_tokens_stop_working(api: Api) -> None:
    with api.client("alice") as alice:
        made = alice.post("/auth/tokens", json={"name": "laptop", "ttl_days": 30}).json()
        listed = alice.get("/auth/tokens").json()
        assert made["id"] in [t["id"] for t in listed]
        assert all("token" not in t for t in listed)  # the secret is shown once only
    fresh = httpx.Client(
        base_url=api.url + "/api/v1", headers={"Authorization": f"Bearer {made['token']}"}
    )
    with fresh, api.client("bob") as bob:
        assert fresh.get("/auth/me").json()["username"] == "alice"
        used = {t["id"]: t["last_used_at"] for t in fresh.get("/auth/tokens").json()}
        assert used[made["id"]] is not None  # noted in memory (written behind), listed
        assert bob.delete(f"/auth/tokens/{made['id']}").status_code == 404  # not bob's
        assert fresh.delete(f"/auth/tokens/{made['id']}").status_code == 204
        gone = fresh.get("/auth/me")
        assert gone.status_code == 401
        assert gone.headers["www-authenticate"] == "Bearer"


def test_oidc_is_off_by_default(api: Api) -> None:
    with httpx.Client(base_url=api.url + "/api/v1") as client:
        response = client.get("/auth/oidc/login")
    assert response.status_code == 404
    assert "ASSAY_OIDC_ISSUER" in response.json()["detail"]


def test_rate_limits_per_user_and_for_submissions(tmp_path: Path) -> None:
    with (
        seeded_api(
            "sqlite", tmp_path, rate_limit_per_minute=5, submit_rate_limit_per_minute=2
        ) as api,
        api.client("alice") as alice,
        api.client("bob") as bob,
    ):
        assert [alice.get("/auth/me").status_code for _ in range(5)] == [200] * 5
        limited = alice.get("/auth/me")
        assert limited.status_code == 429
        assert int(limited.headers["retry-after"]) >= 1
        assert bob.get("/auth/me").status_code == 200  # another user's bucket
        path = f"/assignments/{api.assignment_id}/submissions"
        body = {"files": {"stats.py": "print()"}}
        assert [bob.post(path, json=body).status_code for _ in range(3)] == [201, 201, 429]


def test_request_bodies_over_the_limit_are_refused(tmp_path: Path) -> None:
    with (
        seeded_api("sqlite", tmp_path, max_upload_bytes=64 * 1024) as api,
        api.client("alice") as alice,
    ):
        path = f"/assignments/{api.assignment_id}/submissions"
        big = alice.post(path, files=[("files", ("big.py", b"#" * 100_000))])
        assert big.status_code == 413
        assert big.json()["error"] == "PayloadTooLargeError"

        def chunks() -> Iterator[bytes]:
            for _ in range(20):
                yield b'{"files": {"a.py": "' + b"x" * 8192
            yield b'"}}'

        chunked = alice.post(path, content=chunks(), headers={"Content-Type": "application/json"})
        assert chunked.status_code == 413
        assert alice.post(path, files=[("files", ("stats.py", b"#" * 1000))]).status_code == 201


# --- single sign-on against a provider of our own ------------------------------------------


class Provider:
    """A minimal OpenID Connect provider: discovery, JWKS, authorize, token (PKCE)."""

    client_id = "assay-test"
    client_secret = "provider-secret"

    def __init__(self, claims: dict[str, Any]) -> None:
        self.key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        self.sign_key = self.key  # what the token endpoint signs with
        self.claims = claims
        self.codes: dict[str, dict[str, str]] = {}
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Provider:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def _json(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                url = urlparse(self.path)
                if url.path == "/.well-known/openid-configuration":
                    self._json(
                        200,
                        {
                            "issuer": provider.issuer,
                            "authorization_endpoint": provider.issuer + "/authorize",
                            "token_endpoint": provider.issuer + "/token",
                            "jwks_uri": provider.issuer + "/jwks",
                        },
                    )
                elif url.path == "/jwks":
                    self._json(200, {"keys": [provider.key.as_dict(private=False)]})
                elif url.path == "/authorize":  # the user "consents" at once
                    query = {k: v[0] for k, v in parse_qs(url.query).items()}
                    code = secrets.token_urlsafe(16)
                    provider.codes[code] = query
                    target = (
                        query["redirect_uri"]
                        + "?"
                        + urlencode({"code": code, "state": query["state"]})
                    )
                    self.send_response(302)
                    self.send_header("Location", target)
                    self.end_headers()
                else:
                    self._json(404, {"error": "not_found"})

            def do_POST(self) -> None:
                length = int(self.headers["Content-Length"])
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                expected = base64.b64encode(
                    f"{provider.client_id}:{provider.client_secret}".encode()
                ).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    self._json(401, {"error": "invalid_client"})
                    return
                request = provider.codes.pop(form.get("code", ""), None)
                challenge = (
                    base64.urlsafe_b64encode(
                        hashlib.sha256(form.get("code_verifier", "").encode()).digest()
                    )
                    .rstrip(b"=")
                    .decode()
                )
                if request is None or request["code_challenge"] != challenge:
                    self._json(400, {"error": "invalid_grant"})
                    return
                now = int(time.time())
                claims = {
                    "iss": provider.issuer,
                    "aud": provider.client_id,
                    "iat": now,
                    "exp": now + 300,
                    "nonce": request["nonce"],
                    **provider.claims,
                }
                token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider.sign_key)
                self._json(200, {"access_token": "x", "token_type": "Bearer", "id_token": token})

        return Handler


def sso_login(api: Api) -> httpx.Client:
    """Follow the browser's way through the flow; returns a client holding the session."""
    client = httpx.Client(base_url=api.url, timeout=30)
    try:
        start = client.get("/api/v1/auth/oidc/login")
        assert start.status_code == 302, start.text
        to_provider = httpx.get(start.headers["location"])
        assert to_provider.status_code == 302
        back = urlparse(to_provider.headers["location"])
        callback = client.get(back.path + "?" + back.query)
        assert callback.status_code == 303, f"{callback.status_code} {callback.text}"
        assert "assay_session" in client.cookies
    except BaseException:
        client.close()
        raise
    return client


def test_oidc_single_sign_on_creates_then_finds_the_user(tmp_path: Path) -> None:
    claims = {
        "sub": "provider-user-42",
        "preferred_username": "carol",
        "name": "Carol C.",
        "email": "carol@example.org",
    }
    with (
        Provider(claims) as provider,
        seeded_api(
            "sqlite",
            tmp_path,
            oidc_issuer=provider.issuer,
            oidc_client_id=provider.client_id,
            oidc_client_secret=provider.client_secret,
        ) as api,
    ):
        with closing(sso_login(api)) as browser:
            me = browser.get("/api/v1/auth/me").json()
            assert (me["username"], me["display_name"], me["email"]) == (
                "carol",
                "Carol C.",
                "carol@example.org",
            )
        with closing(sso_login(api)) as again:
            assert again.get("/api/v1/auth/me").json()["id"] == me["id"]
        # a callback without the state cookie of a login started here is refused
        with httpx.Client(base_url=api.url) as stranger:
            forged = stranger.get("/api/v1/auth/oidc/callback?code=x&state=y")
            assert forged.status_code == 401
            assert "assay_session" not in stranger.cookies
        # an ID token signed with a key the provider's JWKS does not serve is refused
        provider.sign_key = RSAKey.generate_key(2048, parameters={"kid": "k1", "use": "sig"})
        with pytest.raises(AssertionError, match="401"):
            sso_login(api)


@pytest.mark.parametrize("gate", [1, 3])
def test_the_intake_gate_bounds_submissions_taken_in_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, gate: int
) -> None:
    inside, most = 0, 0
    lock = threading.Lock()
    real_submit = submissions.submit_admitted  # the routes' storing step

    def counted_submit(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with lock:
            inside += 1
            most = max(most, inside)
        try:
            time.sleep(0.2)  # long enough for the other requests to arrive meanwhile
            return real_submit(*args, **kwargs)
        finally:
            with lock:
                inside -= 1

    monkeypatch.setattr(submissions, "submit_admitted", counted_submit)
    with seeded_api("sqlite", tmp_path, submit_concurrency=gate) as api:
        path = f"/assignments/{api.assignment_id}/submissions"
        codes: list[int] = []

        def send(who: str) -> None:
            with api.client(who) as client:
                codes.append(client.post(path, json={"files": {"stats.py": "print()"}}).status_code)

        senders = [threading.Thread(target=send, args=(w,)) for w in ["alice", "bob"] * 3]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    assert codes == [201] * 6  # every one taken in, in turn
    assert most == gate  # never more at once than the gate lets in (and it does let them)
