"""The languages the code-execution APIs run, under Judge0 CE's language ids.

Each language maps onto one sandbox environment. Names state the toolchain we
really run (detected once per process from the host's toolchain, which native
sandboxes bind read-only), not Judge0's: ``Python (3.11.2)``, not ``Python
(3.8.1)``. Ids follow Judge0 CE 1.13.1, so a client that resolves a language
alias against that version (``judge0.LanguageAlias.PYTHON`` -> 71, ``C`` -> 50,
``CPP`` -> 52, ``JAVA`` -> 62) finds it here.
"""

from __future__ import annotations

import functools
import re
import shutil
import subprocess
from dataclasses import dataclass

from pydantic import BaseModel

VERSION_PROBE_TIMEOUT_S = 10.0
SANDBOX_PATH = "/usr/local/bin:/usr/bin:/bin"  # what sandboxed programs find (not a venv)


@dataclass(frozen=True)
class Language:
    id: int
    label: str  # "Python", "C", "C++", "Java"
    environment: str  # sandbox environment
    source_file: str
    compile_argv: tuple[str, ...]  # empty: interpreted
    run_argv: tuple[str, ...]
    version_argv: tuple[str, ...]  # prints the toolchain's version
    version_pattern: str  # first group: the version
    version_prefix: str = ""  # "GCC " for C and C++, "OpenJDK " for Java
    accepts_compiler_options: bool = False

    @property
    def name(self) -> str:
        return f"{self.label} ({self.version_prefix}{toolchain_version(self)})"


_PYTHON = ("python3", "-c", "import platform; print(platform.python_version())")
_GCC = ("gcc", "-dumpfullversion")
_GXX = ("g++", "-dumpfullversion")
_JAVA = ("java", "-version")

LANGUAGES: dict[int, Language] = {
    lang.id: lang
    for lang in (
        Language(
            50, "C", "c", "main.c",
            ("gcc", "-O2", "-std=gnu17", "-o", "main", "main.c", "-lm"),
            ("./main",), _GCC, r"(\d+\.\d+\.\d+)", "GCC ", accepts_compiler_options=True,
        ),
        Language(
            52, "C++", "cpp", "main.cpp",
            ("g++", "-O2", "-std=gnu++17", "-o", "main", "main.cpp"),
            ("./main",), _GXX, r"(\d+\.\d+\.\d+)", "GCC ", accepts_compiler_options=True,
        ),
        Language(
            54, "C++", "cpp", "main.cpp",
            ("g++", "-O2", "-std=gnu++17", "-o", "main", "main.cpp"),
            ("./main",), _GXX, r"(\d+\.\d+\.\d+)", "GCC ", accepts_compiler_options=True,
        ),
        Language(
            62, "Java", "java", "Main.java",
            ("javac", "-encoding", "UTF-8", "Main.java"),
            ("java", "-Xss64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "Main"),
            _JAVA, r'version "([^"]+)"', "OpenJDK ",
        ),
        Language(
            71, "Python", "python3", "script.py", (),
            ("python3", "script.py"), _PYTHON, r"(\d+\.\d+\.\d+)",
        ),
    )
}  # fmt: skip


def get_language(language_id: int) -> Language | None:
    return LANGUAGES.get(language_id)


@functools.cache
def toolchain_version(language: Language) -> str:
    """The version of the toolchain on this host, or ``unknown``."""
    program = shutil.which(language.version_argv[0], path=SANDBOX_PATH)
    if program is None:
        return "unknown"
    try:
        done = subprocess.run(
            [program, *language.version_argv[1:]],
            env={"PATH": SANDBOX_PATH, "LANG": "C.UTF-8"},
            capture_output=True,
            timeout=VERSION_PROBE_TIMEOUT_S,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    text = (done.stdout + done.stderr).decode(errors="replace")
    match = re.search(language.version_pattern, text)
    return match.group(1) if match else "unknown"


class LanguageOut(BaseModel):
    """A language as Judge0's ``GET /languages`` lists it."""

    id: int
    name: str


class LanguageDetail(LanguageOut):
    """A language as Judge0's ``GET /languages/{id}`` shows it."""

    is_archived: bool
    source_file: str
    compile_cmd: str | None
    run_cmd: str


def list_languages() -> list[LanguageOut]:
    return [LanguageOut(id=lang.id, name=lang.name) for lang in LANGUAGES.values()]


def describe(language: Language) -> LanguageDetail:
    return LanguageDetail(
        id=language.id,
        name=language.name,
        is_archived=False,
        source_file=language.source_file,
        compile_cmd=" ".join(language.compile_argv) or None,
        run_cmd=" ".join(language.run_argv),
    )
