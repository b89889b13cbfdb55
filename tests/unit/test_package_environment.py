"""Which environment a package grades in: a built-in it names, its [environment]
table, or an environment.toml beside assignment.toml (``loader.package_environment``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import PackageError
from assay.grading.loader import load_package
from assay.sandbox.environments import get_environment

TESTS = """
[run]
command = ["python3", "main.py"]

[[tests]]
name = "runs"
expected = "hi\\n"
"""


def _package(tmp_path: Path, head: str, *, beside: str | None = None) -> Path:
    root = tmp_path / "pkg"
    (root / "solution").mkdir(parents=True)
    (root / "solution" / "main.py").write_text("print('hi')\n")
    (root / "assignment.toml").write_text(head + TESTS)
    if beside is not None:
        (root / "environment.toml").write_text(beside)
    return root


def test_a_named_built_in_is_used_as_it_is(tmp_path: Path) -> None:
    package = load_package(_package(tmp_path, '[assignment]\nname = "a"\nenvironment = "c"\n'))
    assert package.environment == get_environment("c")
    assert package.environment.family == "c"


def test_an_environment_table_declares_the_packages_own(tmp_path: Path) -> None:
    root = _package(
        tmp_path,
        '[assignment]\nname = "a"\n\n[environment]\nbase = "c"\napt = ["clang"]\n'
        '[environment.env]\nCC = "clang"\n',
    )
    package = load_package(root)
    environment = package.environment
    assert not environment.builtin
    assert environment.plan.base is not None
    assert environment.plan.base.key == get_environment("c").key
    assert environment.plan.apt == ("clang",)
    assert environment.env["CC"] == "clang"
    assert environment.family == "c"  # diagnostics and asserts treat it as C
    # the same spec always plans to the same key; a change gives another
    assert load_package(root).environment.key == environment.key
    text = (root / "assignment.toml").read_text().replace('["clang"]', '["clang", "make"]')
    (root / "assignment.toml").write_text(text)
    assert load_package(root).environment.key != environment.key


def test_an_environment_file_beside_the_manifest_is_the_packages(tmp_path: Path) -> None:
    root = _package(
        tmp_path, '[assignment]\nname = "a"\n', beside='base = "python3"\npip = ["six"]\n'
    )
    environment = load_package(root).environment
    assert environment.plan.pip == ("six",)
    assert environment.family == "python3"


def test_two_declarations_are_refused(tmp_path: Path) -> None:
    both = _package(tmp_path, '[assignment]\nname = "a"\n[environment]\nbase = "c"\n',
                    beside='base = "c"\n')  # fmt: skip
    with pytest.raises(PackageError, match="both an \\[environment\\] table and environment"):
        load_package(both)


def test_a_named_built_in_beside_a_table_is_refused_with_the_fix(tmp_path: Path) -> None:
    root = _package(
        tmp_path, '[assignment]\nname = "a"\nenvironment = "c"\n[environment]\napt = ["jq"]\n'
    )
    with pytest.raises(PackageError) as caught:
        load_package(root)
    assert caught.value.key == "assignment.environment"
    assert 'base = "c"' in (caught.value.fix or "")


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        ('base = "no-such-env"\n', "base 'no-such-env' is neither"),
        ('apt = ["Bad Name"]\n', "environment.apt"),
        ('aptt = ["jq"]\n', "environment.aptt"),
        ('setup = "missing.sh"\n', "cannot read missing.sh"),
    ],
)
def test_a_bad_table_names_what_is_wrong(tmp_path: Path, table: str, expected: str) -> None:
    root = _package(tmp_path, '[assignment]\nname = "a"\n[environment]\n' + table)
    with pytest.raises(PackageError, match=expected.replace("[", "\\[")):
        load_package(root)
