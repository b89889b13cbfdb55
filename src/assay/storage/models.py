"""The database schema (SQLAlchemy 2 declarative models).

Every change here needs an Alembic migration (``storage/migrations/versions``);
``tests/integration/test_migrations.py`` fails when the models and the migrations
disagree. Times are timezone-aware UTC. Files (assignment packages, submissions)
live in ``blobs``, addressed by their SHA-256, so workers on other machines need
nothing but the database.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware (SQLite drops zones)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database; use an aware UTC time")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    type_annotation_map = {datetime: UTCDateTime, dict[str, Any]: JSON}  # noqa: RUF012


class Role(StrEnum):
    STUDENT = "student"
    TA = "ta"
    INSTRUCTOR = "instructor"


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    GRADED = "graded"  # a report is recorded
    ERROR = "error"  # infrastructure/instructor failure after all attempts: no score
    CANCELLED = "cancelled"  # superseded by a newer submission before it ran


class RunReason(StrEnum):
    """Why a grading run was queued (its first event's detail too)."""

    SUBMIT = "submit"  # a submission uploaded or sent through the API
    GIT = "git"  # a commit fetched from a linked repository
    REGRADE = "regrade"  # staff regraded a submission


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


class JobKind(StrEnum):
    GRADE = "grade"  # target: a grading run
    EXECUTE = "execute"  # target: an execution (code-execution APIs)
    CHECK = "check"  # target: an assignment version (its reference check)


class Lane(StrEnum):
    """Queue lanes: students' work first, bulk regrades never ahead of them."""

    INTERACTIVE = "interactive"
    BULK = "bulk"


class Blob(Base):
    __tablename__ = "blobs"

    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    data: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(200), default="")
    email: Mapped[str] = mapped_column(String(320), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    is_active: Mapped[bool] = mapped_column(Boolean, default=True)
    oidc_subject: Mapped[str | None] = mapped_column(String(255), unique=True, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="user")


class Course(Base):
    __tablename__ = "courses"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    enrollments: Mapped[list[Enrollment]] = relationship(back_populates="course")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="course")


class Enrollment(Base):
    __tablename__ = "enrollments"
    __table_args__ = (UniqueConstraint("user_id", "course_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))  # a Role
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    user: Mapped[User] = relationship(back_populates="enrollments")
    course: Mapped[Course] = relationship(back_populates="enrollments")


class Assignment(Base):
    __tablename__ = "assignments"
    __table_args__ = (UniqueConstraint("course_id", "slug"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("courses.id", ondelete="CASCADE"))
    slug: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(200))
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    release_at: Mapped[datetime | None] = mapped_column(default=None)
    due_at: Mapped[datetime | None] = mapped_column(default=None)
    # {"grace_minutes": int, "penalty_per_day": float (fraction), "max_late_days": int}
    late_policy: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # a grading.scoring.BestPolicy value (storage sits below grading)
    best_policy: Mapped[str] = mapped_column(String(16), default="most_passed")
    # Not a foreign key: it would close a cycle with assignment_versions.assignment_id
    # (services only ever set it to a version of this assignment).
    current_version_id: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    course: Mapped[Course] = relationship(back_populates="assignments")
    versions: Mapped[list[AssignmentVersion]] = relationship(
        back_populates="assignment",
        foreign_keys="AssignmentVersion.assignment_id",
        order_by="AssignmentVersion.number",
    )
    current_version: Mapped[AssignmentVersion | None] = relationship(
        primaryjoin="foreign(Assignment.current_version_id) == AssignmentVersion.id",
        post_update=True,
        viewonly=False,
    )


class AssignmentVersion(Base):
    """One uploaded package of an assignment; submissions are graded against a version."""

    __tablename__ = "assignment_versions"
    __table_args__ = (UniqueConstraint("assignment_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    package_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    max_score: Mapped[float] = mapped_column(Float, default=0.0)
    # result of `check_package` against the reference solution: {"ok": bool, "problems": [...]}
    check: Mapped[dict[str, Any]] = mapped_column(default=dict)
    uploaded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    assignment: Mapped[Assignment] = relationship(
        back_populates="versions", foreign_keys=[assignment_id]
    )


class Submission(Base):
    __tablename__ = "submissions"
    __table_args__ = (Index("ix_submissions_assignment_user", "assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # a tar of the submitted files (normalised: sorted, no owners or times)
    files_sha256: Mapped[str] = mapped_column(ForeignKey("blobs.sha256"))
    # hash of the files' paths and contents (same files -> same hash, whatever the upload form)
    content_sha256: Mapped[str] = mapped_column(String(64), index=True)
    source: Mapped[str] = mapped_column(String(16), default="upload")  # upload|json|git|cli
    git_remote: Mapped[str | None] = mapped_column(String(500), default=None)
    git_commit: Mapped[str | None] = mapped_column(String(64), default=None)
    late_minutes: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    runs: Mapped[list[GradingRun]] = relationship(
        back_populates="submission", order_by="GradingRun.id"
    )


class GradingRun(Base):
    """One grading of a submission; exactly one report is ever recorded per run."""

    __tablename__ = "grading_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submissions.id", ondelete="CASCADE"))
    version_id: Mapped[int] = mapped_column(ForeignKey("assignment_versions.id"))
    reason: Mapped[str] = mapped_column(String(16), default=RunReason.SUBMIT)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED, index=True)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    max_score: Mapped[float | None] = mapped_column(Float, default=None)
    tests_passed: Mapped[int | None] = mapped_column(Integer, default=None)
    tests_total: Mapped[int | None] = mapped_column(Integer, default=None)
    tampered: Mapped[bool] = mapped_column(Boolean, default=False)
    report: Mapped[dict[str, Any] | None] = mapped_column(default=None)  # GradeReport JSON
    error: Mapped[str] = mapped_column(Text, default="")  # staff-only
    worker_id: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)

    submission: Mapped[Submission] = relationship(back_populates="runs")
    events: Mapped[list[RunEvent]] = relationship(
        back_populates="run", order_by="RunEvent.seq", cascade="all, delete-orphan"
    )


class RunEvent(Base):
    """A stage of a grading run (queued, cloning, building, testing i of n, done)."""

    __tablename__ = "run_events"
    __table_args__ = (UniqueConstraint("run_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("grading_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    stage: Mapped[str] = mapped_column(String(32))
    detail: Mapped[str] = mapped_column(String(500), default="")
    current: Mapped[int | None] = mapped_column(Integer, default=None)
    total: Mapped[int | None] = mapped_column(Integer, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[GradingRun] = relationship(back_populates="events")


class Execution(Base):
    """A code-execution API request (picobytes /execute or Judge0 /submissions)."""

    __tablename__ = "executions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    api: Mapped[str] = mapped_column(String(16))  # picobytes|judge0
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    request: Mapped[dict[str, Any]] = mapped_column(default=dict)
    status: Mapped[str] = mapped_column(String(16), default=RunStatus.QUEUED)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)


class Job(Base):
    """A unit of work in the durable queue (see ``assay.queue``)."""

    __tablename__ = "jobs"
    __table_args__ = (
        # a claim finds each course's oldest queued jobs of a lane through this index,
        # and the courses with jobs queued by skipping through it (see queue/claims.py)
        Index("ix_jobs_queue", "status", "lane", "course_id", "created_at", "id"),
        # what claims used before 0004; kept while a rolling upgrade may still run the
        # release before (migrations only add: docs/deploy.md), dropped in a later one
        Index("ix_jobs_claim", "status", "lane", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # a JobKind
    lane: Mapped[str] = mapped_column(String(16), default=Lane.INTERACTIVE)
    target_id: Mapped[int] = mapped_column(Integer)  # GradingRun.id or Execution.id
    course_id: Mapped[int | None] = mapped_column(Integer, default=None)  # for fairness
    # resubmission cancels older queued jobs with the same key (assignment:user)
    dedupe_key: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    worker_id: Mapped[str | None] = mapped_column(String(128), default=None)
    lease_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    error: Mapped[str] = mapped_column(Text, default="")


class WorkerState(StrEnum):
    RUNNING = "running"
    STOPPED = "stopped"  # shut down cleanly
    DEAD = "dead"  # its heartbeat stopped (found by a watchdog)


class Worker(Base):
    """A worker process; its heartbeat says it is alive."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)  # host:pid:random
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    slots: Mapped[int] = mapped_column(Integer)
    busy: Mapped[int] = mapped_column(Integer, default=0)
    state_dir: Mapped[str] = mapped_column(String(500), default="")
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    stopped_at: Mapped[datetime | None] = mapped_column(default=None)
    jobs_done: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=WorkerState.RUNNING)


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # shown in listings
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class LoginSession(Base):
    """A browser login; the cookie holds the id, the database holds its hash."""

    __tablename__ = "login_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    session_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column()


class RepoLink(Base):
    """A git repository that is a student's submission channel for one assignment."""

    __tablename__ = "repo_links"
    __table_args__ = (UniqueConstraint("assignment_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    assignment_id: Mapped[int] = mapped_column(ForeignKey("assignments.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    remote_url: Mapped[str] = mapped_column(String(500))
    # "owner/name" as the forge reports it in webhooks (GitHub: repository.full_name)
    repo_full_name: Mapped[str] = mapped_column(String(300), index=True)
    branch: Mapped[str] = mapped_column(String(200), default="")  # empty: any branch
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuditEntry(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    client: Mapped[str] = mapped_column(String(100), default="")


class EnvironmentArchive(Base):
    """A built environment's tree as one compressed archive, for workers that lack it
    (``services.catalog.environments``). Published in one transaction with its chunks,
    so a row is only ever seen whole; ``sha256`` is the whole archive's."""

    __tablename__ = "environment_archives"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(BigInteger)  # the archive
    tree_bytes: Mapped[int] = mapped_column(BigInteger)  # the tree on disk, unpacked
    chunks: Mapped[int] = mapped_column(Integer)
    published_by: Mapped[str] = mapped_column(String(255), default="")  # host name
    fetches: Mapped[int] = mapped_column(Integer, default=0)  # workers' cold starts from it
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class EnvironmentArchiveChunk(Base):
    """Part ``seq`` (from 0) of an archive: at most ``ARCHIVE_CHUNK_BYTES``."""

    __tablename__ = "environment_archive_chunks"

    key: Mapped[str] = mapped_column(
        ForeignKey("environment_archives.key", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    data: Mapped[bytes] = mapped_column(LargeBinary)


class RateBucket(Base):
    """A token bucket of the rate limits shared by several API servers (PostgreSQL:
    ``services.operations.shared_limits``): ``tokens`` as of ``refilled_at``, in
    seconds since the epoch on the database's clock (servers' clocks never matter).
    ``taken``: whether the last request took a token (read back by that request)."""

    __tablename__ = "rate_buckets"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)  # "<limit>:<user or client>"
    tokens: Mapped[float] = mapped_column(Float)
    refilled_at: Mapped[float] = mapped_column(Float)
    taken: Mapped[bool] = mapped_column(Boolean, default=True)


class IntakePlace(Base):
    """One of the ``submit_concurrency`` places of the intake gate shared by several API
    servers: free when ``holder`` is empty or its lease (``expires_at``, epoch seconds on
    the database's clock) has passed, so a crashed server's places come back."""

    __tablename__ = "intake_places"

    slot: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder: Mapped[str] = mapped_column(String(100), default="")
    expires_at: Mapped[float] = mapped_column(Float, default=0.0)


class PlatformSecret(Base):
    """A secret generated once for the whole platform (the signing key when none is
    configured), so every API server of one database signs and checks alike."""

    __tablename__ = "platform_secrets"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
