"""Every language of the code-execution APIs, in its built-in environment: a hello-world
and a program that does not compile, through ``assay sandbox run --environment X``,
picobytes' ``/api/v1/execute`` over HTTP, and the official ``judge0`` client with its
language aliases unchanged (native backend, real sandboxes and workers)."""

from __future__ import annotations

import shlex
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import httpx
import judge0  # type: ignore[import-untyped]
import pytest

from assay.services import Actor, Platform
from assay.services.execution.judge0_run import compile_limits
from assay.services.execution.languages import FIRST_OWN_ID, LANGUAGES
from assay.services.execution.picobytes_languages import ASSERT_LANGUAGES, PROGRAM_LANGUAGES
from assay.services.identity import accounts
from assay.worker.pool import WorkerPool
from helpers import require_backend
from language_programs import HELLO, PROGRAMS
from platform_helpers import LiveServer, database_url, open_platform, settings_for

pytestmark = pytest.mark.native

ASSAY = Path(sys.executable).with_name("assay")
WORKERS = 3
INTERPRETED = {lid for lid, lang in LANGUAGES.items() if not lang.compile_argv}
ALIASES: dict[int, judge0.LanguageAlias | int] = {
    46: judge0.LanguageAlias.BASH,
    50: judge0.LanguageAlias.C,
    52: judge0.LanguageAlias.CPP,
    54: 54,  # no alias resolves to it under 1.13.1 (CPP and CPP_GCC are 52)
    60: judge0.LanguageAlias.GO,
    61: judge0.LanguageAlias.HASKELL,
    62: judge0.LanguageAlias.JAVA,
    63: judge0.LanguageAlias.JAVASCRIPT,
    71: judge0.LanguageAlias.PYTHON,
    72: judge0.LanguageAlias.RUBY,
    73: judge0.LanguageAlias.RUST,
    74: judge0.LanguageAlias.TYPESCRIPT,
    75: judge0.LanguageAlias.C_CLANG,
    76: judge0.LanguageAlias.CPP_CLANG,
    78: judge0.LanguageAlias.KOTLIN,
    80: judge0.LanguageAlias.R,
    1001: 1001,  # Assay's own: Judge0 CE has no scientific Python
}
T = TypeVar("T")


def parallel(function: Callable[..., T], jobs: list[tuple[Any, ...]], width: int) -> list[T]:
    with ThreadPoolExecutor(width) as pool:
        return list(pool.map(lambda job: function(*job), jobs))


def test_every_language_has_programs_and_an_alias() -> None:
    assert set(PROGRAMS) == set(LANGUAGES) == set(ALIASES)
    assert all(lid < FIRST_OWN_ID for lid, alias in ALIASES.items() if alias != lid)


# --- (a) the CLI ----------------------------------------------------------------------


def cli_run(language_id: int, which: str) -> tuple[int, str, subprocess.CompletedProcess[str]]:
    language = LANGUAGES[language_id]
    limits = compile_limits(language)
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / language.source_file).write_text(getattr(PROGRAMS[language_id], which))
        steps = [shlex.join(language.compile_argv)] if language.compile_argv else []
        steps.append(shlex.join(language.run_argv))
        done = subprocess.run(
            [
                str(ASSAY), "sandbox", "run",
                "--environment", language.environment, "--dir", tmp,
                "--cpu-time", str(limits.cpu_time_s), "--wall-time", str(limits.wall_time_s),
                "--memory", str(limits.memory_bytes), "--pids", str(limits.pids),
                "--", "sh", "-c", " && ".join(steps),
            ],
            capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
    return language_id, which, done


def test_cli_hello_and_compile_error_in_every_language() -> None:
    require_backend("native", "c")
    jobs = [(lid, which) for lid in LANGUAGES if lid != 54 for which in ("hello", "broken")]
    for language_id, which, done in parallel(cli_run, jobs, 4):
        seen = f"{language_id} {which}: {done.returncode} {done.stdout!r} {done.stderr[-600:]!r}"
        if which == "hello":
            assert done.returncode == 0, seen
            assert done.stdout.endswith(HELLO), seen  # ghc reports its progress first
        else:
            assert done.returncode != 0, seen
            assert PROGRAMS[language_id].error_text in done.stdout + done.stderr, seen


# --- a live server for (b) and (c) ------------------------------------------------------


@dataclass
class Live:
    platform: Platform
    url: str
    token: str


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    require_backend("native", "c")
    tmp = tmp_path_factory.mktemp("languages")
    with database_url("sqlite", tmp) as url:
        platform = open_platform(settings_for(url, tmp / "state"))
        system = Actor.system()
        user = accounts.create_user(platform, system, "alice", "correct horse battery")
        token = accounts.create_token_for(platform, system, user.id, "t").token
        try:
            with LiveServer(platform) as server, WorkerPool(platform, WORKERS):
                yield Live(platform, server.url, token)
        finally:
            platform.close()


def test_judge0_lists_every_language_with_its_environments_version(live: Live) -> None:
    headers = {"X-Auth-Token": live.token}
    languages = httpx.get(f"{live.url}/judge0/languages", headers=headers, timeout=30).json()
    names = {lang["id"]: lang["name"] for lang in languages}
    assert set(names) == set(LANGUAGES)
    assert all("unknown" not in name for name in names.values()), names
    assert names[50].startswith("C (GCC 12.") and names[75].startswith("C (Clang 14.")
    assert names[62].startswith("Java (OpenJDK 17.") and names[78].startswith("Kotlin (1.3.")
    assert names[71].startswith("Python (3.11.") and names[1001].startswith("Python for ML (3.")
    kotlin = httpx.get(f"{live.url}/judge0/languages/78", headers=headers, timeout=30).json()
    assert kotlin["source_file"] == "Main.kt" and kotlin["compile_cmd"].startswith("kotlinc ")


# --- (b) picobytes' API -------------------------------------------------------------------

PICOBYTES_ASSERTS: dict[str, tuple[str, str, str]] = {  # hello, its test, broken
    "c": (
        '#include <stdio.h>\nint hello(void) {\n    printf("hello, world\\n");\n'
        "    return 1;\n}\n",
        "assert(hello() == 1)",
        "int hello(void) {\n    return undeclared_name;\n}\n",
    ),
    "python": ('def hello():\n    print("hello, world")\n    return 1\n', "assert(hello() == 1)",
               'def hello():\n    print("hello, world"\n'),
    "python-scientific": (
        'import numpy\n\n\ndef total():\n    print("hello, world")\n'
        "    return int(numpy.sum([20, 22]))\n",
        "assert(total() == 42)",
        'import numpy\n\n\ndef total(:\n    print("hello, world")\n',
    ),
}  # fmt: skip


def picobytes(live: Live, name: str, which: str) -> tuple[str, str, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {live.token}"}
    if name in PICOBYTES_ASSERTS:
        hello, test, broken = PICOBYTES_ASSERTS[name]
        body = {"language": name, "code": hello if which == "hello" else broken, "tests": test}
    else:
        body = {"language": name, "code": getattr(PROGRAMS[PROGRAM_LANGUAGES[name].id], which)}
    response = httpx.post(f"{live.url}/api/v1/execute", json=body, headers=headers, timeout=120)
    deadline = time.monotonic() + 240
    while response.status_code == 202 and time.monotonic() < deadline:
        time.sleep(0.5)
        token = response.json()["token"]
        response = httpx.get(f"{live.url}/api/v1/execute/{token}", headers=headers, timeout=60)
    assert response.status_code == 200, (name, which, response.text)
    return name, which, response.json()


def test_picobytes_hello_and_compile_error_in_every_language(live: Live) -> None:
    names = [*ASSERT_LANGUAGES, *PROGRAM_LANGUAGES]
    jobs = [(live, name, which) for name in names for which in ("hello", "broken")]
    for name, which, result in parallel(picobytes, jobs, 2 * WORKERS):
        seen = f"{name} {which}: {result}"
        assert result["status"] == "graded", seen
        if which == "hello":
            assert result["build"] and result["compile"] and result["run"], seen
            assert "hello, world\n" in result["output"], seen
            assert result["failed_tests"] == [], seen
            if name in PROGRAM_LANGUAGES:
                assert result["output"] == HELLO, seen
        else:
            assert not result["build"] and not result["compile"], seen
            assert not result["run"], seen
            if name in PROGRAM_LANGUAGES:
                assert PROGRAMS[PROGRAM_LANGUAGES[name].id].error_text in result["output"], seen


def test_picobytes_refuses_tests_for_whole_program_languages(live: Live) -> None:
    headers = {"Authorization": f"Bearer {live.token}"}
    for status, body in (
        (400, {"language": "rust", "code": "fn main() {}", "tests": "assert(f() == 1)"}),
        (400, {"language": "go", "code": "package main", "blacklisted": ["os.Exit"]}),
        (422, {"language": "cobol", "code": "DISPLAY 'hello'."}),
    ):
        response = httpx.post(f"{live.url}/api/v1/execute", json=body, headers=headers, timeout=30)
        assert response.status_code == status, (body, response.text)


# --- (c) the official judge0 client ---------------------------------------------------------


def test_official_judge0_client_hello_and_compile_error_in_every_language(live: Live) -> None:
    client = judge0.Client(f"{live.url}/judge0", {"X-Auth-Token": live.token})
    for language_id, alias in ALIASES.items():
        assert client.get_language_id(alias) == language_id  # resolved by our /about version
    ids = list(ALIASES)
    submissions = [
        judge0.Submission(source_code=getattr(PROGRAMS[lid], which), language=ALIASES[lid])
        for which in ("hello", "broken")
        for lid in ids
    ]
    results = []
    for start in range(0, len(submissions), 17):  # the server takes batches of 20
        results += judge0.run(client=client, submissions=submissions[start : start + 17])
    hellos, brokens = results[: len(ids)], results[len(ids) :]
    for lid, hello in zip(ids, hellos, strict=True):
        seen = f"{lid}: {hello.status} {hello.stdout!r} {hello.stderr!r} {hello.compile_output!r}"
        assert hello.status == judge0.Status.ACCEPTED, seen
        assert hello.stdout == HELLO, seen
    for lid, broken in zip(ids, brokens, strict=True):
        seen = f"{lid}: {broken.status} {broken.stderr!r} {broken.compile_output!r}"
        expected = PROGRAMS[lid].error_text
        if lid in INTERPRETED:  # as in Judge0: no compile step, the interpreter exits 1 or 2
            assert broken.status == judge0.Status.RUNTIME_ERROR_NZEC, seen
            assert expected in (broken.stderr or ""), seen
        else:
            assert broken.status == judge0.Status.COMPILATION_ERROR, seen
            assert expected in (broken.compile_output or ""), seen
