"""The built-in environments of issue 15: names, probes, variables and limits.

Their probes are run for real in the built trees by
``tests/integration/test_env_builtins.py``.
"""

from __future__ import annotations

import pytest

from assay.sandbox.envs.builtin import BUILTIN_SPECS, JAVA_CLASSPATH, JUNIT_CONSOLE, builtin_source
from assay.sandbox.envs.plan import BuildPlan, plan
from assay.sandbox.envs.spec import EnvironmentSpec, parse_spec
from assay.sandbox.spec import GIB, Limits

NAMES = (
    "python3",
    "python3-scientific",
    "c",
    "cpp",
    "java",
    "javascript",
    "typescript",
    "go",
    "rust",
    "ruby",
    "r",
    "haskell",
    "bash",
    "kotlin",
)


def _plan(name: str) -> BuildPlan:
    source = builtin_source(name)
    assert source is not None
    return plan(source)


def _script(name: str) -> str:
    probe = BUILTIN_SPECS[name].probe
    assert probe is not None
    assert probe[:2] == ("sh", "-c") and len(probe) == 3
    return probe[2]


def test_the_built_ins_are_exactly_these() -> None:
    assert sorted(BUILTIN_SPECS) == sorted(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_built_in_is_a_valid_spec_on_bookworm(name: str) -> None:
    spec = BUILTIN_SPECS[name]
    assert isinstance(spec, EnvironmentSpec)
    assert spec.name == name and spec.description
    assert spec.base == ("python3" if name == "python3-scientific" else "bookworm")
    assert spec.apt and not spec.pip and spec.setup is None
    assert parse_spec(spec.model_dump(mode="json"), origin="test") == spec
    planned = _plan(name)
    assert planned.builtin and planned.name == name
    assert planned.probe == spec.probe


def test_every_built_in_has_its_own_tree() -> None:
    keys = {_plan(name).key for name in NAMES}
    assert len(keys) == len(NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_every_probe_runs_a_program_in_tmp_and_checks_its_output(name: str) -> None:
    script = _script(name)
    assert script.startswith("set -e\ncd /tmp\n")
    assert "grep -q" in script  # what the program printed is checked, not only its status
    assert "cat > " in script  # a real program, written by the probe
    assert "&&" not in script  # set -e ignores a failure on the left of &&


@pytest.mark.parametrize(
    ("name", "tools"),
    [
        ("c", ("gcc ", "clang ")),
        ("cpp", ("g++ ", "clang++ ")),
        ("java", ("javac ", "java Hello", "org.junit.jupiter.api.Test", "org.junit.Test")),
        ("kotlin", ("kotlinc ", "java -jar")),
        ("typescript", ("tsc ", "node ")),
        ("go", ("go build", "go run")),
        ("rust", ("rustc ", "cargo run")),
        ("haskell", ("ghc ",)),
        ("r", ("Rscript ",)),
        ("python3-scientific", ("import numpy", "import pandas", "import scipy", "savefig")),
    ],
)
def test_probes_use_every_toolchain_of_their_environment(name: str, tools: tuple[str]) -> None:
    script = _script(name)
    for tool in tools:
        assert tool in script


def test_java_has_junit_4_and_5_on_the_class_path_and_the_console_launcher() -> None:
    java = BUILTIN_SPECS["java"]
    assert {"junit4", "junit5"} <= set(java.apt)
    assert java.env["CLASSPATH"] == JAVA_CLASSPATH
    entries = JAVA_CLASSPATH.split(":")
    assert entries[0] == "."  # a set CLASSPATH replaces the default "."
    assert all(e.startswith("/usr/share/java/") and e.endswith(".jar") for e in entries[1:])
    for jar in ("junit4", "hamcrest", "junit-jupiter-api", "junit-jupiter-engine"):
        assert f"/usr/share/java/{jar}.jar" in entries
    assert JUNIT_CONSOLE in _script("java")


def test_caches_go_to_tmp_not_the_workspace() -> None:
    for name, variables in [
        ("go", ("GOCACHE", "GOPATH")),
        ("rust", ("CARGO_HOME",)),
        ("python3-scientific", ("MPLCONFIGDIR",)),
    ]:
        env = _plan(name).env
        for variable in variables:
            assert env[variable].startswith("/tmp/"), (name, variable)
        assert env["HOME"] == "/work"
    assert _plan("python3-scientific").env["MPLBACKEND"] == "Agg"


def test_heavy_toolchains_get_more_memory_and_processes() -> None:
    def limits(name: str) -> Limits:
        return _plan(name).limits

    default = Limits()
    for name in ("java", "kotlin", "haskell", "go", "rust"):
        assert limits(name).memory_bytes >= 1 * GIB, name
        assert limits(name).pids >= 128, name
    assert limits("kotlin").memory_bytes == 2 * GIB
    assert limits("kotlin").cpu_time_s > default.cpu_time_s  # kotlinc alone takes seconds
    assert limits("bash") == limits("ruby") == limits("c") == default


def test_python3_scientific_is_python3_plus_four_debian_packages() -> None:
    scientific, python3 = _plan("python3-scientific"), _plan("python3")
    assert scientific.base is not None and scientific.base.key == python3.key
    assert scientific.apt == (
        "python3-matplotlib",
        "python3-numpy",
        "python3-pandas",
        "python3-scipy",
    )
    assert scientific.env["OPENBLAS_NUM_THREADS"] == "1"  # a thread per core counts as a pid
    assert {k: scientific.env[k] for k in python3.env} == dict(python3.env)
