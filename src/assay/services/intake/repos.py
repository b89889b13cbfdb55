"""Git repositories as submission channels: links, push webhooks, find missing.

Staff link a student's repository to an assignment (``RepoLink``). A signed push
webhook names a repository and a commit; for every link of that repository (and
branch) the commit is fetched on the trusted side (``services.git``) and
submitted on the student's behalf, ``source="git"``. The "cloning" stage is
done before the submission exists, so ``submit`` records it as the run's first
event after "queued", with how long it took, in the transaction that queues the
job (no worker can report "started" before it). A commit already submitted for
that link's student and assignment is never submitted again (webhook
redeliveries; per commit, a lock makes concurrent deliveries wait for each other). "Find missing"
asks each linked remote for its head (``git ls-remote``) and submits the heads
never seen, for pushes whose webhook was lost (Anubis 2.4).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from assay.errors import (
    AuthenticationError,
    GitError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    ServiceError,
)
from assay.grading.stages import Stage
from assay.services.actor import Actor
from assay.services.catalog import assignments
from assay.services.identity import audit
from assay.services.identity.access import require_member
from assay.services.intake import git, submissions
from assay.services.platform import Platform
from assay.storage.models import Assignment, RepoLink, Submission, User, utcnow
from assay.storage.upsert import upsert

log = logging.getLogger(__name__)

SIGNATURE_HEADER = "X-Hub-Signature-256"
NO_COMMIT = "0" * 40
_REMOTE = re.compile(r"^(?:(?:file|git|http|https|ssh)://\S+|[\w.-]+@[\w.-]+:\S+|/\S+)\Z")
_FULL_NAME = re.compile(r"^[\w.-]+(?:/[\w.-]+)+\Z")
_BRANCH = re.compile(r"^[\w./-]{1,200}\Z")

Action = Literal["queued", "seen", "skipped", "failed"]


class RepoLinkOut(BaseModel):
    id: int
    assignment_id: int
    user_id: int
    username: str
    remote_url: str  # credentials redacted
    repo_full_name: str
    branch: str
    created_at: datetime


class CommitOutcome(BaseModel):
    """What happened to one commit for one link."""

    link_id: int
    assignment_id: int
    username: str
    commit: str | None
    action: Action
    detail: str = ""
    submission_id: int | None = None
    run_id: int | None = None


class WebhookOutcome(BaseModel):
    event: str
    handled: bool  # False: an event we ignore (ping, tag pushes, deletions, unknown repos)
    detail: str = ""
    repository: str = ""
    ref: str = ""
    commit: str = ""
    results: list[CommitOutcome] = []

    @property
    def failed(self) -> bool:
        return any(result.action == "failed" for result in self.results)


# ---- links ---------------------------------------------------------------------------


def link_repo(
    platform: Platform,
    actor: Actor,
    assignment_id: int,
    *,
    username: str,
    remote_url: str,
    repo_full_name: str = "",
    branch: str = "",
) -> RepoLinkOut:
    """Make a repository the student's git channel for the assignment (staff).

    A student has one link per assignment; linking again replaces it.
    ``repo_full_name`` ("owner/name", as webhooks name it) defaults to the last two
    parts of the URL's path; ``branch`` empty accepts pushes to any branch.
    """
    remote_url = remote_url.strip()
    if not _REMOTE.match(remote_url) or len(remote_url) > 500:
        raise InvalidRequestError(
            "give the remote as a file, git, http(s) or ssh URL, or as user@host:path"
        )
    if is_local(remote_url) and not platform.settings.git_allow_local:
        raise InvalidRequestError(
            "this server takes no file:// or local-path remotes (they would let staff read "
            "any git repository on it); an operator can allow them with ASSAY_GIT_ALLOW_LOCAL"
        )
    full_name = (repo_full_name or _full_name_of(remote_url)).strip()
    if not _FULL_NAME.match(full_name) or len(full_name) > 300:
        raise InvalidRequestError("give the repository's full name as owner/name")
    if branch and (not _BRANCH.match(branch) or ".." in branch):
        raise InvalidRequestError("invalid branch name")
    with platform.db.session() as session:
        assignment = assignments.get_for(session, actor, assignment_id, staff=True)
        user = session.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user {username!r}")
        require_member(session, _as_user(user), assignment.course_id)
        link = upsert(
            session,
            RepoLink,
            {
                "assignment_id": assignment_id,
                "user_id": user.id,
                "remote_url": remote_url,
                "repo_full_name": full_name,
                "branch": branch,
            },
            key=["assignment_id", "user_id"],
            update=["remote_url", "repo_full_name", "branch"],
        )
        audit.record(
            session,
            actor,
            "repo.link",
            f"assignment:{assignment_id}",
            user=username,
            remote=git.redact(remote_url),
            branch=branch,
        )
        return _link_out(link, user.username)


def list_links(platform: Platform, actor: Actor, assignment_id: int) -> list[RepoLinkOut]:
    with platform.db.reading() as session:
        assignments.get_for(session, actor, assignment_id, staff=True)
        rows = session.execute(
            select(RepoLink, User.username)
            .join(User, User.id == RepoLink.user_id)
            .where(RepoLink.assignment_id == assignment_id)
            .order_by(User.username)
        )
        return [_link_out(link, name) for link, name in rows]


def unlink_repo(platform: Platform, actor: Actor, assignment_id: int, link_id: int) -> None:
    with platform.db.session() as session:
        assignments.get_for(session, actor, assignment_id, staff=True)
        link = session.get(RepoLink, link_id)
        if link is None or link.assignment_id != assignment_id:
            raise NotFoundError("no such repository link")
        session.delete(link)
        audit.record(session, actor, "repo.unlink", f"assignment:{assignment_id}", link=link_id)


# ---- webhook -------------------------------------------------------------------------


def verify_signature(secret: str, body: bytes, signature: str | None) -> None:
    """Check GitHub's ``X-Hub-Signature-256`` (HMAC SHA-256 of the body) in constant time."""
    if not secret:
        raise PermissionDeniedError("the GitHub webhook is off: set github_webhook_secret")
    if not signature:
        raise AuthenticationError(f"missing {SIGNATURE_HEADER}")
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected.encode(), signature.strip().encode(errors="replace")):
        raise PermissionDeniedError(f"wrong {SIGNATURE_HEADER}")


def handle_github_webhook(
    platform: Platform, event: str, body: bytes, signature: str | None
) -> WebhookOutcome:
    """A GitHub webhook delivery: verified, then push events submitted per linked repo."""
    verify_signature(platform.settings.github_webhook_secret, body, signature)
    if event == "ping":
        return WebhookOutcome(event=event, handled=False, detail="pong")
    if event != "push":
        return WebhookOutcome(event=event, handled=False, detail="only push events are used")
    payload = _json(body)
    repository = _field(payload, "repository", dict)
    full_name = str(repository.get("full_name", ""))
    ref = str(payload.get("ref", ""))
    commit = str(payload.get("after", ""))
    outcome = WebhookOutcome(event=event, handled=False, repository=full_name, ref=ref)
    if payload.get("deleted") or commit == NO_COMMIT:
        outcome.detail = "a deleted branch"
        return outcome
    if not ref.startswith("refs/heads/"):
        outcome.detail = "not a branch push"
        return outcome
    if not git.is_commit_id(commit):
        raise InvalidRequestError("the push names no commit ('after')")
    outcome.commit = commit
    branch = ref.removeprefix("refs/heads/")
    links = _links_for(platform, full_name, branch)
    if not links:
        outcome.detail = "no assignment is linked to this repository and branch"
        return outcome
    outcome.handled = True
    outcome.results = [
        submit_commit(platform, link, commit, ref=ref, respect_deadline=True) for link in links
    ]
    return outcome


# ---- find missing --------------------------------------------------------------------


def find_missing(platform: Platform, actor: Actor, assignment_id: int) -> list[CommitOutcome]:
    """Submit the head commit of every linked repository that was never submitted (staff)."""
    with platform.db.session() as session:
        assignments.get_for(session, actor, assignment_id, staff=True)
        links = _link_infos(
            session, select(RepoLink).where(RepoLink.assignment_id == assignment_id)
        )
        audit.record(session, actor, "repo.find_missing", f"assignment:{assignment_id}")
    results = []
    for link in links:
        try:
            refs = git.ls_remote(link.remote_url, _limits(platform))
        except GitError as exc:
            results.append(link.outcome(None, "failed", exc.message))
            continue
        head = git.head_of(refs, link.branch)
        if head is None:
            what = f"branch {link.branch!r}" if link.branch else "a HEAD or a single branch"
            results.append(link.outcome(None, "skipped", f"the remote has no {what}"))
            continue
        ref = f"refs/heads/{link.branch}" if link.branch else None
        results.append(submit_commit(platform, link, head, ref=ref, respect_deadline=False))
    return results


# ---- submitting one commit -----------------------------------------------------------


class LinkInfo(BaseModel):
    id: int
    assignment_id: int
    user_id: int
    username: str
    remote_url: str  # with credentials: never shown
    branch: str

    def outcome(
        self, commit: str | None, action: Action, detail: str = "", **ids: int
    ) -> CommitOutcome:
        return CommitOutcome(
            link_id=self.id,
            assignment_id=self.assignment_id,
            username=self.username,
            commit=commit,
            action=action,
            detail=git.redact(detail),
            **ids,
        )


def submit_commit(
    platform: Platform,
    link: LinkInfo,
    commit: str,
    *,
    ref: str | None = None,
    respect_deadline: bool = True,
) -> CommitOutcome:
    """Fetch ``commit`` and submit it for the link's student, unless it was already."""
    with _exclusive(platform, f"{link.assignment_id}:{link.user_id}:{commit}"):
        refusal = _refusal(platform, link, commit, respect_deadline=respect_deadline)
        if refusal is not None:
            return refusal
        remote = git.redact(link.remote_url)
        try:
            fetched = git.fetch_commit(link.remote_url, commit, _limits(platform), ref=ref)
        except GitError as exc:
            log.warning(
                "git fetch failed",
                extra={"link": link.id, "remote": remote, "commit": commit, "error": exc.message},
            )
            return link.outcome(commit, "failed", exc.message)
        if not fetched.files.files:
            return link.outcome(commit, "skipped", "the commit has no files to grade")
        try:
            submitted = submissions.submit(
                platform,
                Actor.system("git"),
                link.assignment_id,
                fetched.files,
                source="git",
                user_id=link.user_id,
                git_remote=remote,
                git_commit=commit,
                first_events=[(Stage.CLONING, _cloned(fetched))],
            )
        except ServiceError as exc:
            return link.outcome(commit, "failed", exc.message)
    log.info(
        "git commit submitted",
        extra={"link": link.id, "remote": remote, "commit": commit, "submission": submitted.id},
    )
    return link.outcome(
        commit, "queued", _cloned(fetched), submission_id=submitted.id, run_id=submitted.run_id
    )


def _refusal(
    platform: Platform, link: LinkInfo, commit: str, *, respect_deadline: bool
) -> CommitOutcome | None:
    with platform.db.session() as session:
        seen = session.scalar(
            select(Submission.id)
            .where(
                Submission.assignment_id == link.assignment_id,
                Submission.user_id == link.user_id,
                Submission.git_commit == commit,
            )
            .limit(1)
        )
        if seen is not None:
            return link.outcome(commit, "seen", "already submitted", submission_id=int(seen))
        assignment = session.get(Assignment, link.assignment_id)
        assert assignment is not None  # noqa: S101 - foreign key
        if not respect_deadline:
            return None
        if not assignments.is_visible_to_students(assignment):
            return link.outcome(commit, "skipped", "the assignment is not open to students")
        late = submissions.late_minutes(assignment, utcnow())
        if not submissions.accepts_late(assignment, late):
            return link.outcome(commit, "skipped", "the deadline has passed")
    return None


def _cloned(fetched: git.CommitFiles) -> str:
    count = len(fetched.files.files)
    text_ = f"commit {fetched.commit[:12]}: {count} file{'s' if count != 1 else ''}"
    text_ += f" in {fetched.elapsed_s:.2f} s"
    if fetched.skipped:
        text_ += f"; left out {len(fetched.skipped)} link(s)/submodule(s)"
    return text_


# ---- helpers -------------------------------------------------------------------------

_process_locks: dict[str, threading.Lock] = {}
_process_locks_guard = threading.Lock()


@contextmanager
def _exclusive(platform: Platform, key: str) -> Iterator[None]:
    """One holder of ``key`` at a time: in this process, and across processes on PostgreSQL."""
    with _process_locks_guard:
        lock = _process_locks.setdefault(key, threading.Lock())
    with lock:
        if platform.db.is_sqlite:  # one server process writes a SQLite database
            yield
            return
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with platform.db.engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:n)"), {"n": number})
            connection.commit()
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:n)"), {"n": number})
                connection.commit()


def _links_for(platform: Platform, full_name: str, branch: str) -> list[LinkInfo]:
    with platform.db.session() as session:
        query = select(RepoLink).where(
            func.lower(RepoLink.repo_full_name) == full_name.lower(),
            (RepoLink.branch == "") | (RepoLink.branch == branch),
        )
        return _link_infos(session, query)


def _link_infos(session: Session, query: Any) -> list[LinkInfo]:
    out = []
    for link in session.scalars(query.order_by(RepoLink.id)):
        user = session.get(User, link.user_id)
        assert user is not None  # noqa: S101 - foreign key
        out.append(
            LinkInfo(
                id=link.id,
                assignment_id=link.assignment_id,
                user_id=link.user_id,
                username=user.username,
                remote_url=link.remote_url,
                branch=link.branch,
            )
        )
    return out


def _link_out(link: RepoLink, username: str) -> RepoLinkOut:
    return RepoLinkOut(
        id=link.id,
        assignment_id=link.assignment_id,
        user_id=link.user_id,
        username=username,
        remote_url=git.redact(link.remote_url),
        repo_full_name=link.repo_full_name,
        branch=link.branch,
        created_at=link.created_at,
    )


def is_local(remote_url: str) -> bool:
    """A remote on this machine: ``file://`` or a path."""
    return remote_url.startswith(("file:", "/"))


def _full_name_of(remote_url: str) -> str:
    path = remote_url.rsplit(":", 1)[-1] if "://" not in remote_url else remote_url
    parts = [p for p in path.removesuffix("/").removesuffix(".git").split("/") if p]
    return "/".join(parts[-2:])


def _limits(platform: Platform) -> git.GitLimits:
    return git.GitLimits(
        timeout_s=platform.settings.git_clone_timeout_s,
        max_repo_bytes=platform.settings.git_max_repo_bytes,
        max_files=submissions.MAX_SUBMISSION_FILES,
        max_total_bytes=submissions.MAX_SUBMISSION_BYTES,
        allow_local=platform.settings.git_allow_local,
    )


def _as_user(user: User) -> Actor:
    return Actor(user_id=user.id, username=user.username, is_admin=False)


def _json(body: bytes) -> dict[str, Any]:
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise InvalidRequestError("the webhook body is not JSON") from None
    if not isinstance(payload, dict):
        raise InvalidRequestError("the webhook body is not a JSON object")
    return payload


def _field(payload: dict[str, Any], name: str, kind: type[dict[str, Any]]) -> dict[str, Any]:
    value = payload.get(name)
    if not isinstance(value, kind):
        raise InvalidRequestError(f"the push event has no {name!r} object")
    return value
