"""Accounts: users, passwords (argon2), API tokens and browser login sessions."""

from __future__ import annotations

import functools
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from pydantic import BaseModel
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from assay.errors import (
    AuthenticationError,
    ConflictError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
)
from assay.services.actor import Actor
from assay.services.identity import audit
from assay.services.identity.access import require_admin
from assay.services.platform import Platform
from assay.storage.models import ApiToken, LoginSession, User, utcnow
from assay.storage.upsert import insert_new

_hasher = PasswordHasher()
USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")
MIN_PASSWORD_LENGTH = 8
TOKEN_PREFIX = "assay_"  # noqa: S105 - a label, not a secret
TOKEN_USE_RESOLUTION = timedelta(minutes=1)  # last_used_at is written at most this often


class UserOut(BaseModel):
    id: int
    username: str
    display_name: str
    email: str
    is_admin: bool


class TokenOut(BaseModel):
    id: int
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None


class NewToken(TokenOut):
    token: str  # shown once


class NewLogin(BaseModel):
    session_id: str  # the cookie value
    csrf_token: str
    user: UserOut


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        email=user.email,
        is_admin=user.is_admin,
    )


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def actor_for(user: User, client: str = "") -> Actor:
    return Actor(user_id=user.id, username=user.username, is_admin=user.is_admin, client=client)


def create_user(
    platform: Platform,
    actor: Actor,
    username: str,
    password: str | None,
    *,
    display_name: str = "",
    email: str = "",
    is_admin: bool = False,
) -> UserOut:
    """Create a local account (admins only). ``password`` None: SSO-only account."""
    require_admin(actor)
    if not USERNAME.match(username):
        raise InvalidRequestError(
            "a username is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit"
        )
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    password_hash = _hasher.hash(password) if password is not None else None
    with platform.db.session() as session:
        # one statement, so that the same name created twice at once gives a 409
        user_id = insert_new(
            session,
            User,
            {
                "username": username,
                "display_name": display_name or username,
                "email": email,
                "password_hash": password_hash,
                "is_admin": is_admin,
            },
            key=["username"],
            returning=User.id,
        )
        if user_id is None:
            raise ConflictError(f"user {username!r} already exists")
        user = session.get_one(User, user_id)
        audit.record(session, actor, "user.create", f"user:{user.id}", admin=is_admin)
        return user_out(user)


def get_user(platform: Platform, actor: Actor, user_id: int) -> UserOut:
    if not actor.is_admin and actor.user_id != user_id:
        raise NotFoundError("no such user")
    with platform.db.reading() as session:
        user = session.get(User, user_id)
        if user is None:
            raise NotFoundError("no such user")
        return user_out(user)


def find_user(platform: Platform, actor: Actor, username: str) -> UserOut:
    """A user by login name (administrators, or the user themselves)."""
    if not actor.is_admin and actor.username != username:
        raise NotFoundError(f"no user {username!r}")
    with platform.db.reading() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        return user_out(user)


def set_password(platform: Platform, actor: Actor, username: str, password: str) -> None:
    """Replace a user's password (administrators, or the user themselves)."""
    if not actor.is_admin and actor.username != username:
        raise NotFoundError(f"no user {username!r}")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidRequestError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    with platform.db.session() as session:
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        user.password_hash = _hasher.hash(password)
        audit.record(session, actor, "user.password", f"user:{user.id}")


@functools.cache
def _dummy_hash() -> str:
    """A real hash to verify against when the user does not exist, so a login with an
    unknown name takes as long as one with a wrong password (made on first use, not at
    import: hashing costs ~0.3 s of CPU)."""
    return _hasher.hash("not a password")


def _check_password(session: Session, username: str, password: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    stored = user.password_hash if user is not None and user.password_hash else _dummy_hash()
    try:
        _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        raise AuthenticationError("wrong username or password") from None
    if user is None or not user.password_hash or not user.is_active:
        raise AuthenticationError("wrong username or password")
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    return user


def authenticate(platform: Platform, username: str, password: str, client: str = "") -> Actor:
    with platform.db.session() as session:
        return actor_for(_check_password(session, username, password), client)


# --- API tokens --------------------------------------------------------------------------


def create_token(
    platform: Platform, actor: Actor, name: str, *, ttl_days: int | None = None
) -> NewToken:
    """A bearer token for the actor's own account (the plaintext is returned once)."""
    if actor.user_id is None:
        raise InvalidRequestError("tokens belong to a user; give one with --user")
    return create_token_for(platform, actor, actor.user_id, name, ttl_days=ttl_days)


def create_token_for(
    platform: Platform, actor: Actor, user_id: int, name: str, *, ttl_days: int | None = None
) -> NewToken:
    if actor.user_id != user_id:
        require_admin(actor)
    if not name.strip() or len(name) > 100:
        raise InvalidRequestError("a token needs a name of 1-100 characters")
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    expires = utcnow() + timedelta(days=ttl_days) if ttl_days else None
    with platform.db.session() as session:
        if session.get(User, user_id) is None:
            raise NotFoundError("no such user")
        token = ApiToken(
            user_id=user_id,
            name=name.strip(),
            token_sha256=_sha256(plaintext),
            prefix=plaintext[: len(TOKEN_PREFIX) + 6],
            expires_at=expires,
        )
        session.add(token)
        session.flush()
        audit.record(session, actor, "token.create", f"user:{user_id}", name=token.name)
        return NewToken(
            id=token.id,
            name=token.name,
            prefix=token.prefix,
            created_at=token.created_at,
            expires_at=token.expires_at,
            last_used_at=None,
            token=plaintext,
        )


_TOKEN_LOOKUP = (
    select(
        ApiToken.id,
        ApiToken.revoked,
        ApiToken.expires_at,
        ApiToken.last_used_at,
        User.id,
        User.username,
        User.is_admin,
        User.is_active,
    )
    .join(User, User.id == ApiToken.user_id)
    .where(ApiToken.token_sha256 == bindparam("digest"))
)


def actor_from_token(platform: Platform, token: str, client: str = "") -> Actor:
    """The actor of an API token: one read (no write lock). ``last_used_at`` is noted
    at most once a minute per token and written behind (``writebehind``)."""
    with platform.db.reading() as session:
        row = session.execute(_TOKEN_LOOKUP, {"digest": _sha256(token)}).first()
    now = utcnow()
    if row is None:
        raise AuthenticationError("invalid or expired API token")
    token_id, revoked, expires_at, last_used, user_id, username, is_admin, is_active = row
    if revoked or (expires_at is not None and expires_at < now) or not is_active:
        raise AuthenticationError("invalid or expired API token")
    if last_used is None or now - last_used > TOKEN_USE_RESOLUTION:
        platform.write_behind.token_used(platform.db, token_id, now)
    return Actor(user_id=user_id, username=username, is_admin=is_admin, client=client)


def list_tokens(platform: Platform, actor: Actor) -> list[TokenOut]:
    """The actor's own tokens that are not revoked (the secrets are never shown again);
    last uses not written yet are shown (a read never waits for the writer)."""
    pending = platform.write_behind.token_uses()
    with platform.db.reading() as session:
        rows = session.scalars(
            select(ApiToken)
            .where(ApiToken.user_id == actor.user_id, ApiToken.revoked.is_(False))
            .order_by(ApiToken.id)
        )
        return [
            TokenOut(
                id=t.id,
                name=t.name,
                prefix=t.prefix,
                created_at=t.created_at,
                expires_at=t.expires_at,
                last_used_at=max(
                    (at for at in (t.last_used_at, pending.get(t.id)) if at is not None),
                    default=None,
                ),
            )
            for t in rows
        ]


def list_users(
    platform: Platform, actor: Actor, *, limit: int = 100, offset: int = 0
) -> list[UserOut]:
    require_admin(actor)
    with platform.db.reading() as session:
        rows = session.scalars(select(User).order_by(User.id).limit(limit).offset(offset))
        return [user_out(u) for u in rows]


def revoke_token(platform: Platform, actor: Actor, token_id: int) -> None:
    with platform.db.session() as session:
        row = session.get(ApiToken, token_id)
        if row is None or row.revoked or (row.user_id != actor.user_id and not actor.is_admin):
            raise NotFoundError("no such token")
        row.revoked = True
        audit.record(session, actor, "token.revoke", f"token:{token_id}")


# --- browser sessions ---------------------------------------------------------------------


def login(platform: Platform, username: str, password: str, client: str = "") -> NewLogin:
    with platform.db.session() as session:
        user = _check_password(session, username, password)
        return _open_session(platform, session, user, client)


def login_user(platform: Platform, user_id: int, client: str = "") -> NewLogin:
    """A session for an already authenticated user (single sign-on)."""
    with platform.db.session() as session:
        user = session.get(User, user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("account disabled")
        return _open_session(platform, session, user, client)


def _open_session(platform: Platform, session: Session, user: User, client: str) -> NewLogin:
    session_id = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    session.add(
        LoginSession(
            user_id=user.id,
            session_sha256=_sha256(session_id),
            csrf_token=csrf,
            expires_at=utcnow() + timedelta(seconds=platform.settings.session_max_age_s),
        )
    )
    audit.record(session, actor_for(user, client), "login", f"user:{user.id}")
    return NewLogin(session_id=session_id, csrf_token=csrf, user=user_out(user))


def actor_from_session(platform: Platform, session_id: str, client: str = "") -> tuple[Actor, str]:
    """The actor of a session cookie and the session's CSRF token."""
    with platform.db.reading() as session:
        row = session.scalar(
            select(LoginSession).where(LoginSession.session_sha256 == _sha256(session_id))
        )
        if row is None or row.expires_at < utcnow():
            raise AuthenticationError("not logged in (session expired)")
        user = session.get(User, row.user_id)
        if user is None or not user.is_active:
            raise AuthenticationError("not logged in")
        return actor_for(user, client), row.csrf_token


def logout_checked(platform: Platform, session_id: str, csrf_token: str) -> None:
    """End a session if the caller proves it is the page (CSRF token); else refuse."""
    with platform.db.session() as session:
        row = session.scalar(
            select(LoginSession).where(LoginSession.session_sha256 == _sha256(session_id))
        )
        if row is None:
            return
        if not csrf_token or not secrets.compare_digest(csrf_token, row.csrf_token):
            raise PermissionDeniedError("missing or wrong CSRF token")
        session.delete(row)


def logout(platform: Platform, session_id: str) -> None:
    with platform.db.session() as session:
        row = session.scalar(
            select(LoginSession).where(LoginSession.session_sha256 == _sha256(session_id))
        )
        if row is not None:
            session.delete(row)
