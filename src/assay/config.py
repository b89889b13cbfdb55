"""Settings, from the environment (``ASSAY_`` prefix) or a ``.env``-style file.

Nothing is read at import time: call ``get_settings()``.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_GRADING_PARALLEL_RUNS = 2  # for callers of the grading engine without settings
DATABASES = ("sqlite", "postgresql")  # the URL schemes (before any +driver) Assay runs on


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ASSAY_", env_file=None, extra="ignore")

    state_dir: Path = Field(
        default=Path("/var/lib/assay"),
        description="Where sandbox workspaces and generated files live.",
    )
    sandbox_uid: int = Field(
        default=64000, ge=1, description="Host uid that sandboxed processes run as."
    )
    sandbox_gid: int = Field(default=64000, ge=1, description="Host gid of sandboxed processes.")
    cgroup_parent: str | None = Field(
        default=None,
        description=(
            "cgroup (relative to each hierarchy's root) under which job cgroups are made; "
            "default: a child of this process's own cgroup."
        ),
    )
    bwrap: str = Field(default="bwrap", description="The bubblewrap executable.")
    native_ready_slots: int = Field(
        default=2,
        ge=0,
        description=(
            "Job cgroups with a launcher already inside, prepared in the background so "
            "that a run does not wait for the kernel to move a process into a cgroup."
        ),
    )
    native_cpu_scheduling: bool = Field(
        default=True,
        description=(
            "Native backend: at most NATIVE_CPU_SLOTS busy runs use the CPU at a time, "
            "those that have used the least CPU time first; the others wait or are frozen, "
            "and their wall clock stands still meanwhile (docs/performance.md). "
            "false = every run starts at once and the kernel shares the CPU."
        ),
    )
    native_cpu_slots: int = Field(
        default=0,
        ge=0,
        description="Busy runs allowed on the CPU at once; 0 = one per CPU this process may use.",
    )
    native_cpu_quantum_s: float = Field(
        default=0.05,
        gt=0,
        description=(
            "CPU time a run may use at the highest priority; each lower priority level "
            "doubles it. Runs shorter than this overtake every longer one."
        ),
    )
    native_wall_excludes_cpu_wait: bool = Field(
        default=True,
        description=(
            "Native backend: time a run wanted a CPU and got none (the machine was busy "
            "with other work) is not charged to its wall-time limit, so a verdict does not "
            "depend on the load (at most 10 times the limit is excused)."
        ),
    )
    docker_url: str | None = Field(default=None, description="Docker daemon URL (default: env).")
    docker_pool_size: int = Field(
        default=2,
        ge=0,
        description=(
            "Started, never-used containers kept ready per container shape, so opening a "
            "Docker sandbox does not wait for a container start. 0 turns the pool off."
        ),
    )
    environments_dir: Path | None = Field(
        default=None,
        description=(
            "The store of built environments (one directory per key, docs/environments.md); "
            "default: STATE_DIR/environments."
        ),
    )
    environment_deb_cache: Path | None = Field(
        default=Path("/var/cache/assay/rootfs/debs"),
        description=(
            "Downloaded .deb files kept between environment builds (shared with "
            "`assay image build`); empty: none kept."
        ),
    )
    environment_mirror: str = Field(
        default="",
        description="Debian mirror of environment builds (default: this host's apt sources).",
    )
    environment_build_nice: int | None = Field(
        default=19,
        ge=0,
        le=19,
        description=(
            "Environment builds run at this niceness and the idle I/O class, so they do not "
            "slow grading; empty: at the caller's priority."
        ),
    )
    grading_parallel_runs: int = Field(
        default=DEFAULT_GRADING_PARALLEL_RUNS,
        ge=1,
        description=(
            "Independent tests of one submission (io tests without files) run this many at "
            "a time, each in its own cgroup, where the backend allows (native). 1 = in order."
        ),
    )

    # --- platform service (issue 4) ---------------------------------------------------
    database_url: str = Field(
        default="",
        description=(
            "SQLAlchemy URL of the database. Empty: SQLite (WAL) at STATE_DIR/assay.db. "
            "PostgreSQL: postgresql+psycopg://user:password@host/dbname"
        ),
    )
    database_pool_size: int = Field(
        default=10,
        ge=1,
        description=(
            "PostgreSQL: connections each Assay process keeps open to the database. Many "
            "processes (worker pods, API replicas) multiply it: keep the sum under the "
            "server's max_connections (docs/deploy.md)."
        ),
    )
    database_max_overflow: int = Field(
        default=20,
        ge=0,
        description=(
            "PostgreSQL: connections a process may open beyond DATABASE_POOL_SIZE at a busy "
            "moment (closed again when given back)."
        ),
    )
    sqlite_busy_timeout_s: float = Field(
        default=30.0,
        gt=0,
        description=(
            "SQLite: how long a write waits for another writer's lock before it gives up "
            "(a request then gets 503 with Retry-After; reads never wait for a writer)."
        ),
    )
    secret_key: str = Field(
        default="",
        description=(
            "Signs the state of single sign-on logins (sessions and tokens are random ids "
            "stored hashed). Empty: a random key generated on first use and kept in the "
            "database on PostgreSQL (the same for every API server), in "
            "STATE_DIR/secret_key on SQLite."
        ),
    )
    host: str = Field(default="127.0.0.1", description="Address `assay serve` listens on.")
    port: int = Field(default=8000, ge=0, le=65535, description="Port `assay serve` listens on.")
    public_url: str = Field(
        default="", description="URL users reach the server at (default: http://HOST:PORT)."
    )
    worker_slots: int = Field(
        default=0,
        ge=0,
        description=(
            "Jobs one worker process runs at a time; 0 = automatic (with the native CPU "
            "scheduler: by memory, 64 per core at least; otherwise 2 per core)."
        ),
    )
    worker_heartbeat_s: float = Field(
        default=2.0, gt=0, description="How often a worker records that it is alive."
    )
    worker_lease_s: float = Field(
        default=20.0,
        gt=0,
        description="A job whose worker has not been heard of for this long is re-queued.",
    )
    job_max_attempts: int = Field(
        default=3, ge=1, description="Grading attempts before a job is reported as an error."
    )
    worker_poll_s: float = Field(
        default=0.5,
        gt=0,
        description=(
            "How often an idle worker asks the database for a job (workers in the same "
            "process as the API are also woken at once when a job is queued). More than 8 "
            "idle workers share the asking: each asks every n/8 intervals (at most 10 s), "
            "so the fleet together still asks about 8 times per interval."
        ),
    )
    watchdog_interval_s: float = Field(
        default=5.0,
        gt=0,
        description=(
            "How often each worker's watchdog re-queues jobs of dead workers, fails jobs "
            "out of attempts, marks dead workers and removes the sandboxes dead workers left "
            "where its backend reaches (Docker: the same daemon; native: this host)."
        ),
    )
    reference_checks: Literal["auto", "server", "workers"] = Field(
        default="auto",
        description=(
            "Where an uploaded package's reference check runs: server = in the API "
            "server's process, on its sandbox; workers = as a job on the queue, on a "
            "worker's sandbox; auto = server when `assay serve` has embedded workers, "
            "workers with `--workers 0`."
        ),
    )
    reference_check_wait_s: float = Field(
        default=50.0,
        ge=0,
        description=(
            "How long an API upload waits for a reference check run by the workers; not "
            "ended by then, it answers 202 with the check running and the client polls "
            "(below the idle timeout of a balancer in front, often 60 s)."
        ),
    )
    job_timeout_s: float = Field(
        default=900.0,
        gt=0,
        description=(
            "A job running longer than this is reported, its lease is no longer extended, "
            "and it is retried elsewhere (or fails when out of attempts)."
        ),
    )
    worker_stop_timeout_s: float = Field(
        default=20.0,
        ge=0,
        description=(
            "On SIGTERM, how long a worker (or `assay serve`'s workers) lets its running "
            "jobs finish; those still running then are handed back to the queue at once "
            "(attempt not used) and their sandboxes killed. 20 s fits Kubernetes' default "
            "30 s grace period with room to hand back and exit."
        ),
    )
    worker_health_file: Path | None = Field(
        default=None,
        description=(
            "File a worker's heartbeat rewrites, read by `assay worker --check` (a container "
            "health check); default: STATE_DIR/health/worker-<host name>."
        ),
    )
    grading_backend: str = Field(
        default="native", description="Sandbox backend workers grade with: native or docker."
    )
    max_upload_bytes: int = Field(
        default=20 * 1024 * 1024, ge=1024, description="Largest accepted request body."
    )
    rate_limit_per_minute: int = Field(
        default=120,
        ge=1,
        description=(
            "Requests per user (or client address) per minute; on PostgreSQL for all the "
            "API servers together (buckets in the database)."
        ),
    )
    submit_rate_limit_per_minute: int = Field(
        default=30,
        ge=1,
        description="Submissions per user per minute (on PostgreSQL: for all the API servers).",
    )
    submit_concurrency: int = Field(
        default=4,
        ge=1,
        description=(
            "Submissions taken in at a time (on PostgreSQL: by all the API servers together, "
            "leased places in the database); the others wait their turn without a thread "
            "(a burst of hundreds would otherwise share the interpreter with the grading it "
            "feeds and slow both)."
        ),
    )
    session_max_age_s: int = Field(
        default=7 * 24 * 3600, ge=60, description="How long a login session lasts."
    )
    cookie_secure: bool = Field(
        default=False, description="Mark cookies Secure (set when served over HTTPS)."
    )
    oidc_issuer: str = Field(default="", description="OpenID Connect issuer URL; empty = off.")
    oidc_client_id: str = Field(default="", description="OIDC client id.")
    oidc_client_secret: str = Field(default="", description="OIDC client secret.")
    github_webhook_secret: str = Field(
        default="", description="Shared secret of the GitHub push webhook (HMAC SHA-256)."
    )
    git_allow_local: bool = Field(
        default=False,
        description="Accept file:// and local-path git remotes (trials and tests: they let "
        "any course's staff make the server read any git repository on it).",
    )
    git_clone_timeout_s: float = Field(default=60.0, gt=0, description="Limit of one clone.")
    git_max_repo_bytes: int = Field(
        default=64 * 1024 * 1024, ge=1024, description="Largest git clone taken (bytes)."
    )
    events_poll_interval_s: float = Field(
        default=0.25,
        gt=0,
        description=(
            "How often live-progress streams poll for new events: on SQLite, and on "
            "PostgreSQL only while the LISTEN connection is down (events are pushed by "
            "NOTIFY otherwise)."
        ),
    )
    events_ping_s: float = Field(
        default=15.0, gt=0, description="Keep-alive comment interval of live-progress streams."
    )
    events_max_streams_per_user: int = Field(
        default=8,
        ge=1,
        description=(
            "Live-progress streams one user may hold open at once in a server process; "
            "one more is refused with 429 (polling with ?after= still works)."
        ),
    )
    events_max_streams: int = Field(
        default=512,
        ge=1,
        description=(
            "Live-progress streams a server process holds open at once, all users "
            "together (each holds a connection and a file descriptor); one more: 429."
        ),
    )
    ready_min_workers: int = Field(
        default=0,
        ge=0,
        description=(
            "/readyz fails while fewer live workers are registered (0: not checked, except "
            "that `assay serve` with embedded workers expects its own)."
        ),
    )
    log_format: str = Field(default="console", description="`console` or `json` logs.")
    log_level: str = Field(default="INFO", description="Log level of the entry points.")

    @field_validator(
        "environments_dir", "environment_deb_cache", "environment_build_nice", mode="before"
    )
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("database_url")
    @classmethod
    def _sqlite_or_postgresql(cls, value: str) -> str:
        # the URL is not repeated in the error: it may hold a password
        scheme, separator, _ = value.partition("://")
        if value and (not separator or scheme.partition("+")[0].lower() not in DATABASES):
            raise ValueError(
                "Assay runs on SQLite or PostgreSQL: sqlite:///PATH or "
                "postgresql+psycopg://user:password@host/dbname"
            )
        return value

    @property
    def resolved_environments_dir(self) -> Path:
        return self.environments_dir or self.state_dir / "environments"

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.state_dir / 'assay.db'}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The settings: environment variables win over the file named by ASSAY_CONFIG_FILE.

    A value that is not valid raises pydantic's ``ValidationError`` titled ``Settings``
    (``invalid_settings`` words it for people), also a config file that is not UTF-8
    text, or missing, or that cannot be read: a server told to read its settings from a
    file must not start on the defaults (SQLite, say, instead of the PostgreSQL the
    file names)."""
    config_file = os.environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        _refuse_unreadable(config_file)
        return Settings(_env_file=config_file, _env_file_encoding="utf-8")  # type: ignore[call-arg]
    return Settings()


def _refuse_unreadable(config_file: str) -> None:
    try:
        Path(config_file).read_bytes().decode("utf-8")
    except OSError as exc:  # pydantic-settings would skip a missing file silently
        reason = exc.strerror or str(exc)
        error = ValueError(f"{config_file} cannot be read ({reason})")
    except UnicodeDecodeError as exc:
        error = ValueError(f"{config_file} is not UTF-8 text (byte {exc.start})")
    else:
        return
    raise ValidationError.from_exception_data(
        Settings.__name__,
        [{"type": "value_error", "loc": ("config_file",), "input": config_file,
          "ctx": {"error": error}}],
    ) from None  # fmt: skip


# Settings whose value an error message must not repeat.
SECRET_SETTINGS = frozenset(
    {"secret_key", "oidc_client_secret", "github_webhook_secret", "database_url"}
)


def invalid_settings(exc: ValidationError, environ: Mapping[str, str] | None = None) -> str:
    """``get_settings``'s ``ValidationError`` in one line: each setting's variable,
    where its value came from, what is wrong and the value (not a secret's)."""
    environ = os.environ if environ is None else environ
    in_environment = {name.upper() for name in environ}
    config_file = environ.get(CONFIG_FILE_VARIABLE)
    problems = []
    for error in exc.errors(include_url=False):
        field = str(error["loc"][0]) if error["loc"] else ""
        name = f"ASSAY_{field.upper()}"
        if name in in_environment or not config_file:
            source = "the environment"
        else:
            source = f"config file {config_file}"
        message = str(error["msg"]).removeprefix("Value error, ")
        problem = f"{name} (in {source}): {message}"
        if field not in SECRET_SETTINGS and field != "config_file":
            problem += f", not {str(error['input'])[:80]!r}"
        problems.append(problem)
    return "invalid settings: " + "; ".join(problems)


# --- settings that are not there ------------------------------------------------------
# A misspelt variable would silently leave its setting at the default:
# ``unknown_settings`` names every ASSAY_* variable of the environment and every key of
# the config file that is no setting, with the closest setting's name.

CONFIG_FILE_VARIABLE = "ASSAY_CONFIG_FILE"
# ASSAY_* variables that are not settings but are read by Assay's other parts.
OTHER_VARIABLES = frozenset(
    {
        CONFIG_FILE_VARIABLE,
        "ASSAY_SERVER",  # `assay submit`: the server to talk to
        "ASSAY_TOKEN",  # `assay submit`: its API token
        "ASSAY_UPSTREAMS",  # the compose deployment's reverse proxy
        "ASSAY_MAX_BODY",  # the compose deployment's reverse proxy
        "ASSAY_DEBIAN_MIRROR",  # scripts/build-deploy-images.sh
        "ASSAY_DEBIAN_SECURITY_MIRROR",  # scripts/build-deploy-images.sh
        "ASSAY_CHROMIUM",  # the browser tests
        "ASSAY_KUBECTL",  # tests/deploy: the kubectl that renders deploy/kubernetes
        "ASSAY_SCREENSHOT_DIR",  # the browser tests
    }
)
OTHER_PREFIXES = (
    "ASSAY_COMPAT_",  # the compatibility libraries (assay.compat)
    "ASSAY_TEST_",  # the test suite (ASSAY_TEST_POSTGRES_URL, ...)
    "ASSAY_REQUIRE_",  # the test suite: fail instead of skip (ASSAY_REQUIRE_NATIVE, ...)
    "ASSAY_BENCH_",  # bench/
)


def setting_names() -> list[str]:
    """Every setting as its variable name (ASSAY_WORKER_SLOTS, ...)."""
    return sorted(f"ASSAY_{name.upper()}" for name in Settings.model_fields)


@dataclass(frozen=True)
class UnknownSetting:
    """A variable or config file key that sets nothing."""

    name: str
    source: str  # "the environment" or "config file PATH"
    suggestion: str | None  # the closest setting, if one is close
    problem: str = "is not an Assay setting and is ignored"

    def message(self) -> str:
        text = f"{self.name} (in {self.source}) {self.problem}"
        if self.suggestion:
            text += f"; did you mean {self.suggestion}?"
        return text


def unknown_settings(environ: Mapping[str, str] | None = None) -> list[UnknownSetting]:
    """ASSAY_* variables of ``environ`` (default: this process's) and keys of the file
    its ASSAY_CONFIG_FILE names that are no setting (names compare case-insensitively,
    as the settings read them). A config file that cannot be read is one too."""
    environ = os.environ if environ is None else environ
    known = setting_names()
    found = [
        _unknown(name, "the environment", known)
        for name in sorted(environ)
        if name.upper().startswith("ASSAY_") and not _is_known(name, known)
    ]
    config_file = environ.get(CONFIG_FILE_VARIABLE)
    if config_file:
        try:
            with Path(config_file).open(encoding="utf-8") as stream:
                keys = list(dotenv_values(stream=stream))
        except (OSError, UnicodeDecodeError) as exc:
            problem = f"names a file that cannot be read, so no setting comes from it ({exc})"
            found.append(UnknownSetting(CONFIG_FILE_VARIABLE, "the environment", None, problem))
            keys = []
        source = f"config file {config_file}"
        found += [_unknown(key, source, known) for key in keys if not _is_known(key, known)]
    return found


def _is_known(name: str, known: list[str]) -> bool:
    upper = name.upper()
    return upper in known or upper in OTHER_VARIABLES or upper.startswith(OTHER_PREFIXES)


def _unknown(name: str, source: str, known: list[str]) -> UnknownSetting:
    upper = name.upper()
    candidate = upper if upper.startswith("ASSAY_") else f"ASSAY_{upper}"
    if candidate in known:  # a config file key without the prefix: say the full name
        return UnknownSetting(name, source, candidate)
    close = difflib.get_close_matches(candidate, known, n=1, cutoff=0.75)
    return UnknownSetting(name, source, close[0] if close else None)
