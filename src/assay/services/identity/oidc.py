"""OpenID Connect single sign-on (authorization code flow with PKCE).

On when ``settings.oidc_issuer`` is set. Authlib builds the authorization
request and the PKCE challenge; the ID token is verified with joserfc (the JOSE
library Authlib now delegates to): signature against the provider's JWKS, issuer,
audience, expiry and the nonce of this login. The state, nonce and PKCE verifier
travel in a short-lived cookie signed with the server's secret, so no server-side
session store is needed between the two legs.

Users are found by the ID token's ``sub`` (``User.oidc_subject``); a first login
creates the account, named after ``preferred_username`` (or the e-mail's local
part), made unique with a numeric suffix if taken.
"""

from __future__ import annotations

import re
import threading
import time
from typing import Any

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
)
from authlib.oauth2.rfc7636 import (  # type: ignore[import-untyped]
    create_s256_code_challenge,
)
from itsdangerous import BadSignature, URLSafeTimedSerializer
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from pydantic import BaseModel
from sqlalchemy import select

from assay.config import Settings
from assay.errors import AuthenticationError, NotFoundError
from assay.services.actor import Actor
from assay.services.identity import accounts, audit
from assay.services.platform import Platform
from assay.storage.models import User
from assay.storage.upsert import insert_new

STATE_MAX_AGE_S = 600
HTTP_TIMEOUT_S = 10.0
DISCOVERY_TTL_S = 3600.0
_NOT_NAME = re.compile(r"[^A-Za-z0-9._-]+")


class OidcStart(BaseModel):
    url: str  # where to send the browser
    state_cookie: str  # signed state, nonce and PKCE verifier


class _Provider(BaseModel):
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


_cache: dict[str, tuple[float, _Provider]] = {}
_cache_lock = threading.Lock()


def enabled(settings: Settings) -> bool:
    return bool(settings.oidc_issuer)


def _require(settings: Settings) -> None:
    if not enabled(settings):
        raise NotFoundError(
            "single sign-on is not configured on this server "
            "(set ASSAY_OIDC_ISSUER, ASSAY_OIDC_CLIENT_ID and ASSAY_OIDC_CLIENT_SECRET)"
        )


def _provider(settings: Settings) -> _Provider:
    issuer = settings.oidc_issuer.rstrip("/")
    with _cache_lock:
        hit = _cache.get(issuer)
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
    try:
        response = httpx.get(f"{issuer}/.well-known/openid-configuration", timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        provider = _Provider.model_validate(response.json())
    except (httpx.HTTPError, ValueError) as exc:
        raise AuthenticationError(f"the sign-on provider is unreachable: {exc}") from exc
    with _cache_lock:
        _cache[issuer] = (time.monotonic() + DISCOVERY_TTL_S, provider)
    return provider


def _serializer(platform: Platform) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(platform.secret_key(), salt="assay-oidc-state")


def begin(platform: Platform, redirect_uri: str) -> OidcStart:
    """The provider's authorization URL and the signed cookie to check the callback."""
    settings = platform.settings
    _require(settings)
    provider = _provider(settings)
    state, nonce, verifier = generate_token(32), generate_token(32), generate_token(64)
    url = prepare_grant_uri(
        provider.authorization_endpoint,
        client_id=settings.oidc_client_id,
        response_type="code",
        redirect_uri=redirect_uri,
        scope="openid profile email",
        state=state,
        nonce=nonce,
        code_challenge=create_s256_code_challenge(verifier),
        code_challenge_method="S256",
    )
    cookie = _serializer(platform).dumps({"state": state, "nonce": nonce, "verifier": verifier})
    return OidcStart(url=url, state_cookie=cookie)


def finish(
    platform: Platform,
    *,
    code: str,
    state: str,
    state_cookie: str,
    redirect_uri: str,
    client: str = "",
) -> accounts.NewLogin:
    """Check the callback, exchange the code, verify the ID token, log the user in."""
    settings = platform.settings
    _require(settings)
    try:
        saved: dict[str, str] = _serializer(platform).loads(state_cookie, max_age=STATE_MAX_AGE_S)
    except BadSignature:
        raise AuthenticationError("the sign-on attempt expired or was not started here") from None
    if not state or state != saved.get("state"):
        raise AuthenticationError("the sign-on state does not match; start again")
    provider = _provider(settings)
    id_token = _exchange(settings, provider, code, saved["verifier"], redirect_uri)
    claims = _verify(settings, provider, id_token, saved["nonce"])
    user_id = _user_for(platform, claims, client)
    return accounts.login_user(platform, user_id, client)


def _exchange(
    settings: Settings, provider: _Provider, code: str, verifier: str, redirect_uri: str
) -> str:
    try:
        response = httpx.post(
            provider.token_endpoint,
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            auth=(settings.oidc_client_id, settings.oidc_client_secret),
            headers={"Accept": "application/json"},
            timeout=HTTP_TIMEOUT_S,
        )
        body: dict[str, Any] = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise AuthenticationError(f"the sign-on provider is unreachable: {exc}") from exc
    if response.status_code != 200 or not isinstance(body.get("id_token"), str):
        raise AuthenticationError(
            f"the sign-on provider refused the login: {body.get('error', response.status_code)}"
        )
    token: str = body["id_token"]
    return token


def _verify(settings: Settings, provider: _Provider, id_token: str, nonce: str) -> dict[str, Any]:
    try:
        keys = httpx.get(provider.jwks_uri, timeout=HTTP_TIMEOUT_S)
        keys.raise_for_status()
        key_set = KeySet.import_key_set(keys.json())
    except (httpx.HTTPError, ValueError, JoseError) as exc:
        raise AuthenticationError(f"the sign-on provider's keys are unreadable: {exc}") from exc
    try:
        token = jwt.decode(id_token, key_set, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
        registry = jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": provider.issuer},
            aud={"essential": True, "value": settings.oidc_client_id},
            sub={"essential": True},
            exp={"essential": True},
            nonce={"essential": True, "value": nonce},
        )
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise AuthenticationError(f"the ID token is not valid: {exc}") from exc
    claims: dict[str, Any] = dict(token.claims)
    return claims


def _user_for(platform: Platform, claims: dict[str, Any], client: str) -> int:
    """The account of a verified sign-in, made at the first one.

    Two first sign-ins of one person at once (two tabs, a double click) make one
    account: the insert skips a row whose subject or user name exists, and then the
    account made by the other sign-in is read (or the next free name is tried).
    """
    subject = str(claims["sub"])
    by_subject = select(User.id).where(User.oidc_subject == subject)
    with platform.db.session() as session:
        existing = session.scalar(by_subject)
        if existing is not None:
            return existing
        email = str(claims.get("email") or "")
        base = str(claims.get("preferred_username") or email.split("@", maxsplit=1)[0] or "user")
        base = _NOT_NAME.sub("-", base).strip("-._")[:56] or "user"
        n = 1
        while True:
            name = base if n == 1 else f"{base}-{n}"
            n += 1
            values = {
                "username": name,
                "display_name": str(claims.get("name") or name)[:200],
                "email": email[:320],
                "oidc_subject": subject,
            }
            user_id = insert_new(session, User, values, returning=User.id)
            if user_id is not None:
                break
            existing = session.scalar(by_subject)
            if existing is not None:
                return existing
        actor = Actor(user_id=None, username="oidc", is_admin=True, client=client)
        audit.record(session, actor, "user.create", f"user:{user_id}", via="oidc", sub=subject)
        return int(user_id)
