"""The languages the code-execution APIs run: one per built-in environment (two for C
and C++, gcc and clang), under Judge0 CE 1.13.1's language ids.

Ids follow Judge0 CE 1.13.1, so a client that resolves a language alias against
that version (``judge0.LanguageAlias.PYTHON`` -> 71, ``C`` -> 50, ``CPP`` -> 52,
``C_CLANG`` -> 75, ``GO`` -> 60 ...) finds it here. A language Judge0 does not
have gets an id from 1000 up, outside every Judge0 flavour's range.

Names state the toolchain we really run, not Judge0's: ``Python (3.11.2)``, not
``Python (3.8.1)``. The version is the Debian package's, read from the
environment's built tree (``var/lib/dpkg/status``), once per tree and process;
nothing of the host's own toolchains is used.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel

from assay.sandbox import get_environment
from assay.sandbox.envs.provider import EnvironmentProvider
from assay.sandbox.spec import GIB

FIRST_OWN_ID = 1000  # ids of languages Judge0 does not have start here
UNKNOWN_VERSION = "unknown"
JVM_MEMORY_BYTES = 1 * GIB  # the JVM reserves memory and threads of its own
JVM_PIDS = 128


@dataclass(frozen=True)
class Language:
    id: int
    label: str  # "Python", "C", "C++", "Java"
    environment: str  # the built-in environment it runs in
    source_file: str
    compile_argv: tuple[str, ...]  # empty: interpreted
    run_argv: tuple[str, ...]
    package: str  # the Debian package whose version names the toolchain
    version_prefix: str = ""  # "GCC " for C and C++, "OpenJDK " for Java
    accepts_compiler_options: bool = False
    jvm: bool = False  # runs on the JVM: at least JVM_MEMORY_BYTES and JVM_PIDS
    check_argv: tuple[str, ...] = ()  # interpreted: a syntax check (picobytes' "compile")


_JAVA_RUN = ("java", "-Xss64m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1")
_QUICK_JVM = "-J-XX:TieredStopAtLevel=1"  # javac and kotlinc: half the CPU time (C1 only)
_C = ("-O2", "-std=gnu17", "-o", "main", "main.c", "-lm")
_CPP = ("-O2", "-std=gnu++17", "-o", "main", "main.cpp")
_R_CHECK = "invisible(parse(file = 'script.r'))"

LANGUAGES: dict[int, Language] = {
    lang.id: lang
    for lang in (
        Language(
            46, "Bash", "bash", "script.sh", (), ("bash", "script.sh"), "bash",
            check_argv=("bash", "-n", "script.sh"),
        ),
        Language(
            50, "C", "c", "main.c", ("gcc", *_C), ("./main",), "gcc-12", "GCC ",
            accepts_compiler_options=True,
        ),
        Language(
            52, "C++", "cpp", "main.cpp", ("g++", *_CPP), ("./main",), "g++-12", "GCC ",
            accepts_compiler_options=True,
        ),
        Language(
            54, "C++", "cpp", "main.cpp", ("g++", *_CPP), ("./main",), "g++-12", "GCC ",
            accepts_compiler_options=True,
        ),
        Language(
            60, "Go", "go", "main.go", ("go", "build", "-o", "main", "main.go"), ("./main",),
            "golang-1.19-go",
        ),
        Language(
            61, "Haskell", "haskell", "main.hs", ("ghc", "-O", "-o", "main", "main.hs"),
            ("./main",), "ghc", "GHC ",
        ),
        Language(
            62, "Java", "java", "Main.java",
            ("javac", _QUICK_JVM, "-J-XX:+UseSerialGC", "-encoding", "UTF-8", "Main.java"),
            (*_JAVA_RUN, "Main"), "openjdk-17-jdk-headless", "OpenJDK ", jvm=True,
        ),
        Language(
            63, "JavaScript", "javascript", "script.js", (), ("node", "script.js"), "nodejs",
            "Node.js ", check_argv=("node", "--check", "script.js"),
        ),
        Language(
            71, "Python", "python3", "script.py", (), ("python3", "script.py"), "python3",
        ),
        Language(
            72, "Ruby", "ruby", "script.rb", (), ("ruby", "script.rb"), "ruby3.1",
            check_argv=("ruby", "-c", "script.rb"),
        ),
        Language(
            73, "Rust", "rust", "main.rs", ("rustc", "-O", "-o", "main", "main.rs"), ("./main",),
            "rustc",
        ),
        Language(
            74, "TypeScript", "typescript", "script.ts",
            ("tsc", "--target", "es2020", "--skipLibCheck", "script.ts"),  # not lib.dom.d.ts
            ("node", "script.js"), "node-typescript",
        ),
        Language(
            75, "C", "c", "main.c", ("clang", *_C), ("./main",), "clang-14", "Clang ",
            accepts_compiler_options=True,
        ),
        Language(
            76, "C++", "cpp", "main.cpp", ("clang++", *_CPP), ("./main",), "clang-14", "Clang ",
            accepts_compiler_options=True,
        ),
        Language(
            78, "Kotlin", "kotlin", "Main.kt",
            ("kotlinc", _QUICK_JVM, "Main.kt", "-include-runtime", "-d", "main.jar"),
            (*_JAVA_RUN, "-jar", "main.jar"), "kotlin", jvm=True,
        ),
        Language(
            80, "R", "r", "script.r", (), ("Rscript", "script.r"), "r-base-core",
            check_argv=("Rscript", "-e", _R_CHECK),
        ),
        Language(
            1001, "Python for ML", "python3-scientific", "script.py", (),
            ("python3", "script.py"), "python3",
        ),
    )
}  # fmt: skip


def get_language(language_id: int) -> Language | None:
    return LANGUAGES.get(language_id)


def toolchain_version(language: Language, provider: EnvironmentProvider | None) -> str:
    """The version of ``language``'s Debian package in its environment's tree, or
    ``unknown`` when this machine has no such tree (it is not built here)."""
    if provider is None:
        return UNKNOWN_VERSION
    rootfs = provider.cached(get_environment(language.environment).plan)
    if rootfs is None:
        return UNKNOWN_VERSION
    version = installed_versions(rootfs / "var/lib/dpkg/status").get(language.package)
    return upstream_version(version) if version else UNKNOWN_VERSION


def language_name(language: Language, provider: EnvironmentProvider | None) -> str:
    """Judge0's style of name: ``C (GCC 12.2.0)``, ``Python (3.11.2)``."""
    return f"{language.label} ({language.version_prefix}{toolchain_version(language, provider)})"


@functools.cache
def installed_versions(status: Path) -> dict[str, str]:
    """Package -> version of what dpkg installed in a tree. A tree never changes (its
    path names its content), so each is read once per process."""
    try:
        text = status.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    versions: dict[str, str] = {}
    for stanza in text.split("\n\n"):
        fields = dict(re.findall(r"^([A-Za-z-]+): ?(.*)$", stanza, flags=re.MULTILINE))
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"]] = fields.get("Version", "")
    return versions


def upstream_version(debian_version: str) -> str:
    """``4:12.2.0-3`` -> ``12.2.0``; ``3.1.7+really3.1.2-0`` -> ``3.1.2``;
    ``17.0.21.1+2-1`` -> ``17.0.21.1``; ``4.2.2.20221110-2`` -> ``4.2.2`` (a fourth
    number only when it is short: not a snapshot's date)."""
    version = debian_version.split(":", 1)[-1]
    version = version.rsplit("+really", 1)[-1]
    match = re.match(r"\d+(?:\.\d+){0,2}(?:\.\d{1,3}(?!\d))?", version)
    return match.group(0) if match else UNKNOWN_VERSION


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


def list_languages(provider: EnvironmentProvider | None) -> list[LanguageOut]:
    return [
        LanguageOut(id=lang.id, name=language_name(lang, provider)) for lang in LANGUAGES.values()
    ]


def describe(language: Language, provider: EnvironmentProvider | None) -> LanguageDetail:
    return LanguageDetail(
        id=language.id,
        name=language_name(language, provider),
        is_archived=False,
        source_file=language.source_file,
        compile_cmd=" ".join(language.compile_argv) or None,
        run_cmd=" ".join(language.run_argv),
    )
