"""Import a PrairieLearn externally graded Python question as an assignment package.

A question directory (``info.json`` with ``gradingMethod: External`` and the
``prairielearn/grader-python`` image, ``question.html``, ``tests/``) becomes a
package with one ``[[tests]]`` entry of kind ``prairielearn`` that runs the
question's ``tests/test.py`` unchanged (``assay.grading.kinds.prairielearn``).

What PrairieLearn's server would hand the grader is read without running any of
the question's code: the student's file from ``pl-file-editor`` /
``pl-file-upload`` in ``question.html`` (else ``student_code_file`` in
``test.py``, else ``user_code.py``), ``names_for_user`` / ``names_from_user``
from ``pl-external-grader-variables`` elements or, failing those, from literal
assignments in ``server.py``'s ``generate`` (found in its syntax tree). They are
written to ``tests/data.json``. The reference submission is ``tests/ans.py``
(or ``--solution``), the starter ``tests/initial_code.py`` a known-bad one, with
any ``--bad`` submissions; ``import_prairielearn`` then checks the package.
"""

from __future__ import annotations

import ast
import json
import re
import shutil
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from assay.errors import PackageError
from assay.grading.checking import CheckReport, check_package
from assay.grading.context import Progress
from assay.grading.destination import prepare_destination
from assay.grading.kattis import toml_value
from assay.grading.kinds.prairielearn import REQUIRED, find_pl_tests
from assay.grading.loader import load_package
from assay.grading.package import MANIFEST
from assay.grading.spec import NAME_PATTERN
from assay.sandbox.base import SandboxBackend
from assay.sandbox.environments import Environment

MANAGED = (MANIFEST, "statement.md", "tests", "solution", "bad", "starter", "NOTES.md")
DEFAULT_STUDENT_FILE = "user_code.py"
DEFAULT_TIMEOUT_S = 30  # PrairieLearn's default external grading timeout
SCIENTIFIC = frozenset({"numpy", "scipy", "pandas", "matplotlib", "sympy"})
PARAM_NAMES = ("names_for_user", "names_from_user")


@dataclass
class Question:
    """What the importer read from a question directory."""

    slug: str
    title: str
    uuid: str
    timeout_s: float
    student_file: str
    params: dict[str, list[dict[str, Any]]]
    environment: str
    statement: str
    tests: tuple[Any, ...]
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class PrairieLearnImport:
    path: Path
    points: float
    question: Question
    check: CheckReport | None = None


class _QuestionHTML(HTMLParser):
    """The elements of ``question.html`` the grader depends on, and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.files: list[str] = []
        self.params: dict[str, list[dict[str, Any]]] = {}
        self._params_name: str | None = None
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k: v or "" for k, v in attrs}
        if tag == "pl-file-editor" and values.get("file-name"):
            self.files.append(values["file-name"])
        elif tag == "pl-file-upload" and values.get("file-names"):
            self.files += [n.strip() for n in re.split(r"[,\s]+", values["file-names"]) if n]
        elif tag == "pl-external-grader-variables":
            self._params_name = values.get("params-name") or None
            if self._params_name:
                self.params.setdefault(self._params_name, [])
        elif tag == "pl-variable" and self._params_name and values.get("name"):
            entry = {"name": values["name"]}
            if values.get("type"):
                entry["type"] = values["type"]
            self.params[self._params_name].append(entry)

    def handle_endtag(self, tag: str) -> None:
        if tag == "pl-external-grader-variables":
            self._params_name = None

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def package_name(question_dir: Path, name: str | None = None) -> str:
    """The assignment's name: ``name``, else the question directory's, as a slug."""
    return _slug(name or question_dir.resolve().name)


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")[:64]
    if not re.fullmatch(NAME_PATTERN, slug):
        raise PackageError(f"cannot make an assignment name from {text!r}", fix="pass --name")
    return slug


def _info(question_dir: Path) -> dict[str, Any]:
    path = question_dir / "info.json"
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackageError(
            f"{question_dir} has no info.json",
            fix="pass a PrairieLearn question directory (info.json, question.html, tests/)",
        ) from None
    except (OSError, ValueError) as exc:
        raise PackageError(f"info.json cannot be read: {exc}", file=str(path)) from exc
    if not isinstance(info, dict):
        raise PackageError("info.json is not a JSON object", file=str(path))
    if info.get("gradingMethod") != "External":
        raise PackageError(
            f"the question is not externally graded (gradingMethod {info.get('gradingMethod')!r})",
            file=str(path),
            fix="only externally graded questions (gradingMethod External) have tests to import",
        )
    options = info.get("externalGradingOptions")
    image = options.get("image", "") if isinstance(options, dict) else ""
    if "grader-python" not in str(image):
        raise PackageError(
            f"the question's grader image is {image!r}, not prairielearn/grader-python",
            file=str(path),
            fix="import-prairielearn translates questions graded by PrairieLearn's Python "
            "autograder; for another image, use import-gradescope's route (docs/importers.md)",
        )
    return info


def _server_params(server: Path, notes: list[str]) -> dict[str, list[dict[str, Any]]]:
    """Literal ``data["params"]["names_..."] = [...]`` assignments in ``server.py``."""
    params: dict[str, list[dict[str, Any]]] = {}
    try:
        tree = ast.parse(server.read_text(encoding="utf-8"), filename="server.py")
    except (OSError, SyntaxError, ValueError) as exc:
        notes.append(f"server.py could not be parsed ({exc}); its params were not read")
        return params
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign) or len(node.targets) != 1:
            continue
        target = node.targets[0]
        if not (isinstance(target, ast.Subscript) and isinstance(target.slice, ast.Constant)):
            continue
        key = target.slice.value
        if key not in PARAM_NAMES:
            continue
        try:
            value = ast.literal_eval(node.value)
        except ValueError:
            notes.append(
                f"server.py:{node.lineno}: {key} is computed, not a literal: not imported "
                "(list the names with pl-external-grader-variables in question.html)"
            )
            continue
        if isinstance(value, list) and all(isinstance(v, dict) and "name" in v for v in value):
            params[str(key)] = value
    return params


def _imports(sources: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for source in sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.add(node.module.split(".")[0])
    return found


def _class_attribute(source: str, attribute: str) -> str | None:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.ClassDef) and node.name == "Test":
            for item in node.body:
                if (
                    isinstance(item, ast.Assign)
                    and any(isinstance(t, ast.Name) and t.id == attribute for t in item.targets)
                    and isinstance(item.value, ast.Constant)
                    and isinstance(item.value.value, str | int)
                ):
                    return str(item.value.value)
    return None


def read_question(question_dir: Path, name: str | None = None) -> Question:
    """Everything the package needs from the question, read without running it."""
    info = _info(question_dir)
    tests = question_dir / "tests"
    for required in REQUIRED[:3]:
        if not (tests / required).is_file():
            raise PackageError(
                f"the question has no tests/{required}",
                file=str(tests / required),
                fix="an externally graded Python question has tests/test.py, tests/ans.py "
                "and tests/setup_code.py",
            )
    test_source = (tests / "test.py").read_text(encoding="utf-8")
    try:
        found = find_pl_tests(test_source)
    except (SyntaxError, ValueError) as exc:
        raise PackageError(
            f"tests/test.py cannot be read: {exc}", file=str(tests / "test.py")
        ) from exc
    if not found:
        raise PackageError("tests/test.py's class Test has no test_* methods")
    notes: list[str] = []
    html = _QuestionHTML()
    question_html = question_dir / "question.html"
    if question_html.is_file():
        html.feed(question_html.read_text(encoding="utf-8"))
    else:
        notes.append("no question.html: the statement is empty")
    params = {k: v for k, v in html.params.items() if k in PARAM_NAMES}
    server = question_dir / "server.py"
    if server.is_file():
        for key, value in _server_params(server, notes).items():
            params.setdefault(key, value)
    params.setdefault("names_for_user", [])
    if "names_from_user" not in params:
        params["names_from_user"] = []
        notes.append(
            "no names_from_user in question.html or server.py: self.st holds no names "
            "(list them with pl-external-grader-variables in question.html)"
        )
    student_file = (
        html.files[0] if html.files else _class_attribute(test_source, "student_code_file")
    ) or DEFAULT_STUDENT_FILE
    if len(html.files) > 1:
        notes.append(f"question.html names several files; graded: {student_file}")
    options = info.get("externalGradingOptions") or {}
    timeout = options.get("timeout", DEFAULT_TIMEOUT_S)
    if not isinstance(timeout, int | float) or timeout <= 0:
        timeout = DEFAULT_TIMEOUT_S
    sources = [p.read_text(encoding="utf-8", errors="replace") for p in tests.glob("*.py")]
    environment = "python3-scientific" if _imports(sources) & SCIENTIFIC else "python3"
    if "PLTestCaseWithPlot" in test_source or "check_plot" in test_source:
        notes.append("plots (PLTestCaseWithPlot, check_plot) are not graded by Assay")
    iterations = _class_attribute(test_source, "total_iters")
    if iterations not in {None, "1"}:
        notes.append(f"total_iters = {iterations}: the tests run once")
    if student_file.endswith(".ipynb"):
        notes.append("a notebook (.ipynb) submission is read as Python source, not as cells")
    for key in ("serverFilesCourse", "entrypoint"):
        if options.get(key):
            notes.append(
                f"externalGradingOptions.{key} ({options[key]!r}) is not imported: the "
                "question's tests/ and Assay's own PrairieLearn modules are used"
            )
    title = str(info.get("title") or question_dir.resolve().name)
    statement = re.sub(r"\n\s*\n+", "\n\n", "".join(html.text)).strip()
    return Question(
        slug=package_name(question_dir, name),
        title=title,
        uuid=str(info.get("uuid", "")),
        timeout_s=float(timeout),
        student_file=student_file,
        params=params,
        environment=environment,
        statement=statement,
        tests=found,
        notes=notes,
    )


def _manifest(question: Question, bad: Sequence[tuple[str, str]], has_starter: bool) -> str:
    points = sum(t.points for t in question.tests)
    lines = [
        "# Imported by `assay assignment import-prairielearn` (docs/importers.md): the",
        "# question's tests/ run unchanged by the prairielearn kind.",
        "[assignment]",
        f"name = {toml_value(question.slug)}",
        f"title = {toml_value(question.title)}",
        'statement = "statement.md"',
        f"environment = {toml_value(question.environment)}",
        "",
        "[limits]",
        f"wall_time_s = {toml_value(question.timeout_s)}",
        f"cpu_time_s = {toml_value(question.timeout_s)}",
        'memory = "1G"',
        "",
        "[build]",
        f"required_files = {toml_value([question.student_file])}",
        "",
        "[[tests]]",
        'name = "autograder"',
        'kind = "prairielearn"',
        'tests = "tests"',
        f"points = {toml_value(float(points))}",
        "# per test (test.py): " + ", ".join(f"{t.name} = {t.points:g}" for t in question.tests),
    ]
    if has_starter:
        lines += ["", "[[known_bad]]", 'path = "starter"', 'why = "the question\'s initial code"']
    for path, why in bad:
        lines += ["", "[[known_bad]]", f"path = {toml_value(path)}", f"why = {toml_value(why)}"]
    return "\n".join(lines) + "\n"


def _copy_submission(source: Path, target: Path, student_file: str) -> None:
    """A submission: a directory (copied) or one file (saved as the student's file)."""
    target.mkdir(parents=True, exist_ok=True)
    if source.is_dir():
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=False)
    elif source.is_file():
        shutil.copyfile(source, target / student_file)
    else:
        raise PackageError(f"{source} is neither a file nor a directory")


def import_prairielearn(
    question_dir: Path,
    dest: Path,
    *,
    backend: SandboxBackend | None = None,
    name: str | None = None,
    solution: Path | None = None,
    bad: Sequence[Path] = (),
    force: bool = False,
    prepare: Callable[[Environment], None] | None = None,
    progress: Progress | None = None,
) -> PrairieLearnImport:
    """Write the package for the question at ``dest``; with ``backend``, check it."""
    question = read_question(question_dir, name)
    tests = question_dir / "tests"
    has_leading = any((tests / f).exists() for f in ("leading_code.py", "trailing_code.py"))
    if solution is None and has_leading:
        raise PackageError(
            "the question has leading/trailing code, so tests/ans.py is not what a student submits",
            fix="pass --solution with a correct submission (the student's part only)",
        )
    prepare_destination(dest, force=force, managed=MANAGED)
    shutil.copytree(tests, dest / "tests", symlinks=False)
    for stale in ("data.json", "__pycache__"):
        if (dest / "tests" / stale).is_dir():
            shutil.rmtree(dest / "tests" / stale)
    data = {"params": question.params}
    (dest / "tests" / "data.json").write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    _copy_submission(solution or tests / "ans.py", dest / "solution", question.student_file)
    starter = tests / "initial_code.py"
    if starter.is_file():
        _copy_submission(starter, dest / "starter", question.student_file)
    bad_entries = []
    for index, path in enumerate(bad, 1):
        rel = f"bad/{index}-{_slug(path.resolve().name.removesuffix('.py'))}"
        _copy_submission(path, dest / rel, question.student_file)
        bad_entries.append((rel, f"a wrong submission ({path.name})"))
    (dest / "statement.md").write_text(
        f"# {question.title}\n\n{question.statement}\n\nSubmit `{question.student_file}`.\n",
        encoding="utf-8",
    )
    notes = "\n".join(f"- {n}" for n in question.notes) or "- nothing: every part was imported"
    (dest / "NOTES.md").write_text(
        f"# Import notes: {question.title}\n\nPrairieLearn question {question.uuid}, imported "
        f"by `assay assignment import-prairielearn`.\n\nNot translated or changed:\n\n{notes}\n",
        encoding="utf-8",
    )
    (dest / MANIFEST).write_text(_manifest(question, bad_entries, starter.is_file()), "utf-8")
    points = sum(t.points for t in question.tests)
    with load_package(dest) as package:
        if backend is None:
            return PrairieLearnImport(dest, points, question)
        if prepare is not None:
            prepare(package.environment)
        check = check_package(package, backend, progress=progress)
    return PrairieLearnImport(dest, points, question, check)
