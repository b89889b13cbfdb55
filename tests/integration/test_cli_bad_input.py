"""Bad input to the commands issue 17 added or changed: a clear one-line error and a
non-zero exit, never a traceback (and never silently the default).

Settings with a value that is not valid (``assay serve | worker | db``, from the
environment or the ASSAY_CONFIG_FILE file) name the variable and where it came from,
exit 2. A database URL that cannot be used is exit 2; a database that cannot be
reached or is no database is exit 3 with the driver's reason. In process (typer's
runner) where that shows the same, one real ``assay`` process for the traceback.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner, Result

from assay.cli.main import app
from assay.config import get_settings, invalid_settings

ASSAY = Path(sys.executable).with_name("assay")
UNREACHABLE = "postgresql+psycopg://assay:hunter2@127.0.0.1:1/assay"  # nothing listens on 1
runner = CliRunner()


@pytest.fixture(autouse=True)
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Only this test's ASSAY_* variables (a state directory of its own), the settings
    read anew, and again afterwards (they are cached)."""
    for name in list(os.environ):
        if name.startswith("ASSAY_") and name != "ASSAY_ENVIRONMENTS_DIR":
            monkeypatch.delenv(name)
    monkeypatch.setenv("ASSAY_STATE_DIR", str(tmp_path / "state"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def assay(*args: str) -> Result:
    get_settings.cache_clear()
    return runner.invoke(app, list(args), terminal_width=400)


def error_line(result: Result) -> str:
    """The one error line, after the exit is shown to be an error's and not a crash's."""
    assert isinstance(result.exception, SystemExit), (result.exception, result.output)
    lines = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1, result.output
    assert "Traceback" not in result.output
    return lines[0]


BAD_SETTINGS = [
    (
        "ASSAY_REFERENCE_CHECKS",
        "bogus",
        "Input should be 'auto', 'server' or 'workers', not 'bogus'",
    ),
    ("ASSAY_REFERENCE_CHECK_WAIT_S", "-1", "greater than or equal to 0, not '-1'"),
    ("ASSAY_DATABASE_POOL_SIZE", "0", "greater than or equal to 1, not '0'"),
    ("ASSAY_DATABASE_POOL_SIZE", "-3", "greater than or equal to 1, not '-3'"),
    ("ASSAY_DATABASE_MAX_OVERFLOW", "many", "a valid integer"),
    ("ASSAY_WORKER_STOP_TIMEOUT_S", "-5", "greater than or equal to 0, not '-5'"),
    ("ASSAY_WORKER_HEARTBEAT_S", "0", "greater than 0, not '0'"),
]
COMMANDS = [["serve", "--workers", "0"], ["worker"], ["worker", "--check"], ["db", "migrate"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
@pytest.mark.parametrize(("name", "value", "says"), BAD_SETTINGS)
def test_a_bad_setting_is_named_exit_2(
    monkeypatch: pytest.MonkeyPatch, command: list[str], name: str, value: str, says: str
) -> None:
    monkeypatch.setenv(name, value)
    result = assay(*command)
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert line.startswith(f"error: invalid settings: {name} (in the environment): "), line
    assert says in line


def test_every_bad_setting_is_named_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_POOL_SIZE", "-3")
    monkeypatch.setenv("ASSAY_REFERENCE_CHECKS", "bogus")
    line = error_line(assay("serve"))
    assert "ASSAY_DATABASE_POOL_SIZE (in the environment)" in line
    assert "ASSAY_REFERENCE_CHECKS (in the environment)" in line


def test_a_bad_value_in_the_config_file_names_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "assay.env"
    config.write_text("ASSAY_PORT=abc\nASSAY_WORKER_SLOTS=2\n")
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    result = assay("serve")
    assert result.exit_code == 2, result.output
    line = error_line(result)
    assert line.startswith(f"error: invalid settings: ASSAY_PORT (in config file {config}): ")
    assert "a valid integer" in line and "'abc'" in line
    monkeypatch.setenv("ASSAY_PORT", "99999")  # the environment wins, and is named
    line = error_line(assay("serve"))
    assert "ASSAY_PORT (in the environment): Input should be less than or equal to 65535" in line


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("assay.env", b"ASSAY_PORT=80\xff\x00\n", "is not UTF-8 text (byte 13)"),
        ("no-such.env", None, "cannot be read (No such file or directory)"),
    ],
    ids=["not-text", "missing"],
)
def test_a_config_file_that_cannot_be_read_as_text_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, content: bytes | None, says: str
) -> None:
    config = tmp_path / name
    if content is not None:
        config.write_bytes(content)
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    result = assay("db", "check")
    assert result.exit_code == 2, result.output
    assert error_line(result) == (
        f"error: invalid settings: ASSAY_CONFIG_FILE (in the environment): {config} {says}"
    )


def test_an_unknown_key_of_the_config_file_is_a_warning_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "assay.env"
    config.write_text("ASSAY_WORKR_SLOTS=2\n")
    monkeypatch.setenv("ASSAY_CONFIG_FILE", str(config))
    monkeypatch.setenv("ASSAY_STAT_DIR", "/elsewhere")
    result = assay("db", "migrate")
    assert result.exit_code == 0, result.output
    assert "migrated the schema from revision none to" in result.output


def test_a_secret_is_not_repeated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", "mysql://assay:hunter2@db/assay")
    with pytest.raises(ValidationError) as raised:
        get_settings()
    message = invalid_settings(raised.value)
    assert message == (
        "invalid settings: ASSAY_DATABASE_URL (in the environment): Assay runs on SQLite or "
        "PostgreSQL: sqlite:///PATH or postgresql+psycopg://user:password@host/dbname"
    )


def test_a_client_command_does_not_read_the_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings are read where they are needed: a student's `assay submit` is not
    stopped by a server's setting."""
    monkeypatch.setenv("ASSAY_PORT", "abc")
    result = assay("submit", "--help")
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("not a url", "Assay runs on SQLite or PostgreSQL"),
        ("mysql://assay@db/assay", "Assay runs on SQLite or PostgreSQL"),
        ("postgresql://assay@db:port/assay", "the database URL cannot be used: invalid literal"),
        ("postgresql+asyncpg://assay@db/assay", "cannot be used: No module named 'asyncpg'"),
        ("sqlite+nosuch:///x.db", "the database URL cannot be used: Can't load plugin"),
        ("sqlite:////etc/passwd/assay.db", "the SQLite database's directory cannot be made"),
    ],
)
@pytest.mark.parametrize("command", [["db", "migrate"], ["db", "check"], ["serve"], ["worker"]])
def test_a_database_url_that_cannot_be_used_is_exit_2(
    monkeypatch: pytest.MonkeyPatch, url: str, says: str, command: list[str]
) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", url)
    result = assay(*command)
    assert result.exit_code == 2, result.output
    assert says in error_line(result)


def test_a_database_that_cannot_be_reached_is_exit_3_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", UNREACHABLE)
    reason = 'connection to server at "127.0.0.1", port 1 failed: Connection refused'
    for command, what in (
        (["db", "check"], "the database cannot be reached"),
        (["db", "migrate"], "migrating the database failed"),
        (["serve", "--workers", "0"], "migrating the database failed"),
        (["env", "publish", "python3"], "migrating the database failed"),
    ):
        result = assay(*command)
        assert result.exit_code == 3, (command, result.output)
        line = error_line(result)
        assert line.startswith(f"error: {what}: "), line
        assert reason in line
        assert "hunter2" not in line and "sqlalche.me" not in line


@pytest.mark.parametrize("junk", [b"not a database at all\n", bytes(range(256)) * 64])
def test_a_file_that_is_no_database_is_exit_3(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, junk: bytes
) -> None:
    path = tmp_path / "notes.txt"
    path.write_bytes(junk)
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{path}")
    check = assay("db", "check")
    assert check.exit_code == 3, check.output
    assert error_line(check) == "error: reading the schema version failed: file is not a database"
    migrate = assay("db", "migrate")
    assert migrate.exit_code == 3, migrate.output
    assert error_line(migrate) == "error: migrating the database failed: file is not a database"
    assert path.read_bytes() == junk  # left as it was
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{tmp_path}")  # a directory
    directory = assay("db", "check")
    assert directory.exit_code == 3, directory.output
    assert "the database file cannot be opened" in error_line(directory)


def test_an_environment_store_that_is_a_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = tmp_path / "store"
    store.write_text("x")
    monkeypatch.setenv("ASSAY_DATABASE_URL", UNREACHABLE)  # refused before it is used
    for command in (["env", "publish", "python3", "--store", str(store)],
                    ["env", "list", "--store", str(store)]):  # fmt: skip
        result = assay(*command)
        assert result.exit_code == 2, result.output
        assert error_line(result) == f"error: the environment store {store} is not a directory"
    monkeypatch.setenv("ASSAY_ENVIRONMENTS_DIR", str(store))
    worker = assay("worker")
    assert worker.exit_code == 2, worker.output
    assert error_line(worker) == f"error: the environment store {store} is not a directory"


def test_the_real_command_prints_no_traceback(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ASSAY_")}
    env |= {"ASSAY_STATE_DIR": str(tmp_path), "ASSAY_REFERENCE_CHECKS": "bogus"}
    for command in (["serve"], ["worker"]):
        done = subprocess.run(
            [str(ASSAY), *command], env=env, capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 2, done.stderr
        assert done.stderr.splitlines() == [
            "error: invalid settings: ASSAY_REFERENCE_CHECKS (in the environment): Input "
            "should be 'auto', 'server' or 'workers', not 'bogus'"
        ]
        assert done.stdout == ""
    # an unknown variable is only a warning: the command goes on (here: no worker, exit 1)
    env |= {"ASSAY_REFERENCE_CHECKS": "workers", "ASSAY_WORKR_SLOTS": "4"}
    done = subprocess.run(
        [str(ASSAY), "worker", "--check"], env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 1, done.stderr
    assert "ASSAY_WORKR_SLOTS (in the environment) is not an Assay setting" in done.stderr
    assert "does not exist: no worker is running here" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_database_ahead_of_this_code_is_left_alone(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A newer release migrated it (a rolling upgrade): usable, said, not touched."""
    path = tmp_path / "assay.db"
    monkeypatch.setenv("ASSAY_DATABASE_URL", f"sqlite:///{path}")
    assert assay("db", "migrate").exit_code == 0
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE alembic_version SET version_num = '9999_newer'")
    check = assay("db", "check")
    assert check.exit_code == 0, check.output
    assert "the schema is at revision 9999_newer, newer than this Assay's" in check.output
    migrate = assay("db", "migrate")
    assert migrate.exit_code == 0, migrate.output
    assert "left as it is: revision 9999_newer is newer than this Assay knows" in migrate.output
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            ("9999_newer",)
        ]


def test_an_unknown_environment_is_a_usage_error_before_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ASSAY_DATABASE_URL", UNREACHABLE)  # not reached: the name is wrong
    store = str(tmp_path / "store")
    for command in (["publish", "python3", "pyhton3"], ["build", "pyhton3"], ["check", "pyhton3"]):
        result = assay("env", *command, "--store", store)
        assert result.exit_code == 2, result.output
        line = error_line(result)
        assert line.startswith("error: 'pyhton3' is neither a built-in environment ("), line
    junk = tmp_path / "environment.toml"
    junk.write_bytes(bytes(range(256)))
    result = assay("env", "publish", str(junk), "--store", store)
    assert result.exit_code == 2, result.output
    assert error_line(result).startswith(f"error: {junk}: not valid TOML: ")
    assert not (tmp_path / "store").exists()


def test_a_port_out_of_range_is_a_usage_error() -> None:
    result = assay("serve", "--workers", "0", "--port", "99999")
    assert result.exit_code == 2, result.output  # was uvicorn's OverflowError from bind()
    assert "Invalid value for '--port'" in result.output
