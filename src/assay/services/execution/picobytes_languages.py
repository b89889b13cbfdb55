"""The languages of picobytes' ``/execute`` API: its ``language`` names, and the
package of a request in a language without asserts.

picobytes itself is C-only: ``code`` holds functions, ``tests`` holds ``assert``
lines. Assay keeps that for the languages its ``asserts`` test kind knows
(``c``, ``python``, ``python-scientific``). Every other built-in language is
offered as a whole program: ``code`` is compiled (interpreted languages: checked
for syntax errors) and run once, and ``output`` is what it printed. Its
toolchain, source file and commands are the Judge0 language's (``languages``).
"""

from __future__ import annotations

from typing import Any

from assay.grading.kinds.script import ScriptOptions
from assay.grading.spec import AssignmentMeta, AssignmentSpec, BuildSpec, TestSpec
from assay.sandbox.limitspec import LimitsSpec
from assay.sandbox.spec import parse_size
from assay.services.execution.judge0_run import compile_limits
from assay.services.execution.languages import (
    JVM_MEMORY_BYTES,
    JVM_PIDS,
    LANGUAGES,
    Language,
)

ASSERT_LANGUAGES: dict[str, str] = {
    "c": "c",
    "python": "python3",
    "python-scientific": "python3-scientific",
}
"""Languages with picobytes' asserts (``tests``): name -> environment."""

PROGRAM_LANGUAGES: dict[str, Language] = {
    name: LANGUAGES[language_id]
    for name, language_id in (
        ("bash", 46),
        ("cpp", 54),
        ("go", 60),
        ("haskell", 61),
        ("java", 62),
        ("javascript", 63),
        ("kotlin", 78),
        ("r", 80),
        ("ruby", 72),
        ("rust", 73),
        ("typescript", 74),
    )
}
"""Languages run as whole programs (no ``tests``): name -> Judge0 language."""

NAMES = (*ASSERT_LANGUAGES, *PROGRAM_LANGUAGES)

ALIASES: dict[str, str] = {
    "python3": "python",
    "py": "python",
    "python3-scientific": "python-scientific",
    "c++": "cpp",
    "golang": "go",
    "hs": "haskell",
    "js": "javascript",
    "node": "javascript",
    "kt": "kotlin",
    "rb": "ruby",
    "rs": "rust",
    "sh": "bash",
    "ts": "typescript",
}

PROGRAM_MEMORY = parse_size("256M")


def canonical(value: Any) -> Any:
    """A ``language`` value as its canonical name (unknown names are left to refuse)."""
    if isinstance(value, str):
        value = value.strip().lower()
        return ALIASES.get(value, value)
    return value


def source_file(language: str) -> str:
    """The file the code is written to."""
    program = PROGRAM_LANGUAGES.get(language)
    if program is not None:
        return program.source_file
    return "solution.c" if language == "c" else "solution.py"


def program_spec(language: Language, per_test_s: int) -> AssignmentSpec:
    """A whole program's assignment: compile it (or check its syntax), then run it once
    with ``per_test_s`` of CPU and wall time."""
    step = language.compile_argv or language.check_argv
    build = compile_limits(language)
    jvm = language.jvm
    run = TestSpec(
        name="run",
        kind="script",
        limits=LimitsSpec(),
        **ScriptOptions(command=language.run_argv).model_dump(exclude_unset=True),
    )
    return AssignmentSpec(
        assignment=AssignmentMeta(
            name="execute", title="Code execution request", environment=language.environment
        ),
        limits=LimitsSpec(
            cpu_time_s=per_test_s,
            wall_time_s=per_test_s,
            memory=JVM_MEMORY_BYTES if jvm else PROGRAM_MEMORY,
            pids=JVM_PIDS if jvm else None,
        ),
        build=BuildSpec(
            commands=(step,) if step else (),
            required_files=(language.source_file,),
            limits=LimitsSpec(
                cpu_time_s=build.cpu_time_s,
                wall_time_s=build.wall_time_s,
                memory=build.memory_bytes,
                pids=build.pids,
            ),
        ),
        tests=(run,),
    )
