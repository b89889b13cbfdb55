"""``assay assignment init``: a new package from the templates in ``grading/templates``.

Every template file ends in ``.tmpl`` (so the Python ones are not taken for
modules of Assay); the suffix is dropped when the package is written.
``${name}`` and ``${title}`` are filled in ``.toml`` and ``.md`` files only.
The scaffolded package passes ``assay assignment check``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from string import Template

from assay.errors import ConfigError
from assay.grading.spec import NAME_PATTERN

LANGUAGES = {"python": "python3", "c": "c", "cpp": "cpp", "java": "java"}
DEFAULT_TITLE = "Sum of two integers"
SUFFIX = ".tmpl"
FILLED = (".toml", ".md")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def templates_root() -> Traversable:
    return resources.files("assay.grading") / "templates"


def scaffold_package(name: str, language: str, parent: Path, *, title: str = DEFAULT_TITLE) -> Path:
    """Write the package ``parent/name`` for ``language``; returns its path."""
    if not re.fullmatch(NAME_PATTERN, name):
        raise ConfigError(
            f"{name!r} is not a valid assignment name: use lowercase letters, digits, "
            "'.', '_' and '-' (at most 64, starting with a letter or digit)"
        )
    if language not in LANGUAGES:
        raise ConfigError(f"unknown language {language!r}; use one of: {', '.join(LANGUAGES)}")
    if _CONTROL.search(title):
        raise ConfigError("the title must not contain control characters")
    if not parent.is_dir():
        raise ConfigError(f"{parent} is not a directory")
    dest = parent / name
    if dest.exists() or dest.is_symlink():
        raise ConfigError(f"{dest} already exists; choose another name or --dir")
    values = {"name": name, "title": title}
    staging = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=parent))
    try:
        root = templates_root()
        _copy(root / "common", staging, values)
        _copy(root / language, staging, values)
        staging.chmod(0o755)
        os.rename(staging, dest)  # all or nothing: no half-written package
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return dest


def _copy(source: Traversable, dest: Path, values: dict[str, str]) -> None:
    for item in source.iterdir():
        if item.is_dir():
            target_dir = dest / item.name
            target_dir.mkdir(exist_ok=True)
            _copy(item, target_dir, values)
            continue
        if not item.name.endswith(SUFFIX):
            continue  # editor backups and the like are not templates
        name = item.name.removesuffix(SUFFIX)
        text = item.read_text(encoding="utf-8")
        if name.endswith(".toml"):
            text = Template(text).substitute({k: _toml_string(v) for k, v in values.items()})
        elif name.endswith(FILLED):
            text = Template(text).substitute(values)
        (dest / name).write_text(text, encoding="utf-8")


def _toml_string(value: str) -> str:
    """``value`` escaped for the inside of a TOML basic string (control characters refused)."""
    return json.dumps(value, ensure_ascii=False)[1:-1]
