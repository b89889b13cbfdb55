"""Environment specs: TOML forms, validation with the key named, the built-ins."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import EnvironmentSpecError
from assay.sandbox.environments import ENVIRONMENTS, get_environment
from assay.sandbox.envs.builtin import BUILTIN_SPECS
from assay.sandbox.envs.spec import EnvironmentSpec, PipTarget, load_spec, parse_spec
from assay.sandbox.spec import MIB, Limits

FULL = """\
name = "data"
description = "numpy for the data course"
base = "python3"
apt = ["clang", "libcs50-dev=11.0.2-1"]
pip = ["numpy==1.26.4", "pandas>=2", "black[jupyter]"]
pip_target = "system"
setup = "setup.sh"
setup_timeout_s = 600
probe = "python3 -c 'import numpy'"

[env]
MPLBACKEND = "Agg"

[files]
"/etc/motd" = "hello"
"/opt/lib/junit.jar" = { source = "lib/junit.jar", mode = 0o644 }

[limits]
memory = "1G"
pids = 100
"""


def _write(tmp_path: Path, text: str, name: str = "environment.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_full_spec_parses(tmp_path: Path) -> None:
    source = load_spec(_write(tmp_path, FULL))
    spec = source.spec
    assert source.directory == tmp_path.resolve()
    assert spec.name == "data"
    assert spec.derived
    assert spec.apt == ("clang", "libcs50-dev=11.0.2-1")
    assert spec.pip_target is PipTarget.SYSTEM
    assert spec.probe == ("python3", "-c", "import numpy")
    assert spec.files["/etc/motd"].content == "hello"
    assert spec.files["/opt/lib/junit.jar"].source == "lib/junit.jar"
    assert spec.env == {"MPLBACKEND": "Agg"}
    assert spec.limits is not None
    assert spec.limits.apply(Limits()).memory_bytes == 1024 * MIB


def test_the_environment_table_of_an_assignment_toml(tmp_path: Path) -> None:
    text = '[assignment]\nname = "hw1"\n\n[environment]\nbase = "c"\napt = ["clang"]\n'
    _write(tmp_path, text, "assignment.toml")
    spec = load_spec(tmp_path).spec  # a directory: environment.toml, else assignment.toml
    assert (spec.base, spec.apt) == ("c", ("clang",))


def test_an_environment_toml_wins_over_assignment_toml_in_a_directory(tmp_path: Path) -> None:
    _write(tmp_path, '[environment]\napt = ["a1"]\n', "assignment.toml")
    _write(tmp_path, '[environment]\napt = ["e1"]\n')
    assert load_spec(tmp_path).spec.apt == ("e1",)


def test_an_assignment_toml_without_the_table_is_refused(tmp_path: Path) -> None:
    _write(tmp_path, '[assignment]\nname = "hw1"\n', "assignment.toml")
    with pytest.raises(EnvironmentSpecError, match=r"assignment.toml: no \[environment\] table"):
        load_spec(tmp_path)


@pytest.mark.parametrize(
    ("text", "key", "words"),
    [
        ('aptt = ["x"]\n', "aptt", "unknown key"),
        ('[files."/etc/x"]\ncontent = "a"\nowner = "root"\n', "files./etc/x.owner", "unknown key"),
        ("[limits]\nmemroy = 1\n", "limits.memroy", "unknown key"),
        ('apt = ["Bad Name"]\n', "apt", "'Bad Name' is not a Debian package name"),
        ('apt = ["-oDebug=1"]\n', "apt", "is not a Debian package name"),
        ('pip = ["--index-url=http://x"]\n', "pip", "is not a pip requirement"),
        ('pip = ["numpy @ https://x/numpy.whl"]\n', "pip", "is not a pip requirement"),
        ('pip_target = "conda"\n', "pip_target", "'venv' or 'system'"),
        ('base = "Bookworm!"\n', "base", "neither a Debian release"),
        ('setup = "../setup.sh"\n', "setup", "must be a relative path"),
        ('setup = "/root/setup.sh"\n', "setup", "must be a relative path"),
        ('[files]\n"etc/x" = "a"\n', "files", "must be a normalized absolute path"),
        ('[files]\n"/etc/../x" = "a"\n', "files", "must be a normalized absolute path"),
        ('[files]\n"/work/x" = "a"\n', "files", "/work is replaced at run time"),
        ('[files]\n"/proc/x" = "a"\n', "files", "/proc is replaced at run time"),
        ('[files."/x"]\nsource = "a"\ncontent = "b"\n', "files./x", "exactly one of"),
        ('[files."/x"]\ncontent = "b"\nmode = 0o4755\n', "files./x.mode", "less than or equal"),
        ('[files."/x"]\nsource = "../../etc/shadow"\n', "files./x.source", "relative path"),
        ('[env]\n"A B" = "1"\n', "env", "invalid environment variable 'A B'"),
        ("probe = []\n", "probe", "non-empty command"),
        ("setup_timeout_s = 0\n", "setup_timeout_s", "greater than 0"),
    ],
)
def test_a_bad_spec_names_the_file_and_the_key(
    tmp_path: Path, text: str, key: str, words: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(EnvironmentSpecError) as caught:
        load_spec(path)
    assert caught.value.key == key
    assert caught.value.file == str(path)
    assert words in caught.value.message
    assert caught.value.message.startswith(f"{path}: {key}: ")


def test_keys_under_the_environment_table_are_named_with_it(tmp_path: Path) -> None:
    _write(tmp_path, '[environment]\nsetpu = "s.sh"\n')
    with pytest.raises(EnvironmentSpecError, match=r": environment\.setpu: unknown key"):
        load_spec(tmp_path)


def test_keys_beside_the_table_of_an_environment_toml_are_refused(tmp_path: Path) -> None:
    _write(tmp_path, 'name = "x"\n[environment]\napt = ["jq"]\n')
    with pytest.raises(EnvironmentSpecError, match=r"environment\.toml: name: unknown key"):
        load_spec(tmp_path)


def test_several_problems_are_counted(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match=r"\(and 1 more problem\)"):
        load_spec(_write(tmp_path, "a = 1\nb = 2\n"))


def test_invalid_toml_and_missing_files_are_spec_errors(tmp_path: Path) -> None:
    with pytest.raises(EnvironmentSpecError, match="not valid TOML"):
        load_spec(_write(tmp_path, "apt = [\n"))
    with pytest.raises(EnvironmentSpecError, match="cannot read it"):
        load_spec(tmp_path / "nope.toml")
    with pytest.raises(EnvironmentSpecError, match=r"no environment\.toml or assignment\.toml"):
        load_spec(tmp_path / "..")


def test_specs_are_frozen() -> None:
    spec = parse_spec({"apt": ["xz-utils"]}, origin="test")
    with pytest.raises(ValueError, match="frozen"):
        spec.apt = ("y",)  # type: ignore[misc]


def test_the_original_four_built_ins_keep_their_packages_and_limits() -> None:
    assert {"c", "cpp", "java", "python3"} <= set(BUILTIN_SPECS) == set(ENVIRONMENTS)
    assert BUILTIN_SPECS["python3"].apt == ("python3", "python3-pytest")
    assert BUILTIN_SPECS["c"].apt == ("gcc", "libc6-dev", "make", "valgrind", "clang")
    assert BUILTIN_SPECS["cpp"].apt == ("g++", "make", "valgrind", "clang")
    assert BUILTIN_SPECS["java"].apt == ("openjdk-17-jdk-headless", "junit4", "junit5")
    assert get_environment("java").default_limits == Limits(memory_bytes=1024 * MIB, pids=128)
    assert get_environment("c").default_limits == Limits()
    assert dict(get_environment("c").env) == {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "LC_ALL": "C.UTF-8",
        "HOME": "/work",
        "TMPDIR": "/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    for spec in BUILTIN_SPECS.values():
        assert isinstance(spec, EnvironmentSpec)
        assert spec.base in ("bookworm", "python3")


def test_the_example_environment_parses() -> None:
    example = Path(__file__).parents[2] / "examples" / "environments" / "tools"
    spec = load_spec(example).spec
    assert (spec.name, spec.apt, spec.pip) == ("tools", ("make", "jq", "sqlite3"), ("requests",))
