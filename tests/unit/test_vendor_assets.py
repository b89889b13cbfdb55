"""The committed browser libraries are exactly the npm packages pinned in web-assets/.

``scripts/vendor-assets.sh`` copies files out of ``web-assets/node_modules`` into
two folders and writes a ``MANIFEST`` (sha256 per file) into each: the libraries
the pages load (``static/vendor``, served) and the ones only the browser tests
use (``tests/browser/vendor``, never served). A hand edit, a stray file or a
version bump in package.json without re-running the script shows up here, with
no npm needed: each library's own version banner must name the locked version.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEB_ASSETS = ROOT / "web-assets"
STATIC_VENDOR = ROOT / "src" / "assay" / "web" / "ui" / "static" / "vendor"
TESTS_VENDOR = ROOT / "tests" / "browser" / "vendor"
VENDOR_DIRS = (STATIC_VENDOR, TESTS_VENDOR)

# vendored file -> (npm package, a pattern whose group is the version the file states)
BANNERS = {
    STATIC_VENDOR / "htmx.min.js": ("htmx.org", r'version:"([0-9.]+)"'),
    STATIC_VENDOR / "chart.umd.min.js": ("chart.js", r"Chart\.js v([0-9.]+)"),
    STATIC_VENDOR / "codemirror/codemirror.js": ("codemirror", r'CodeMirror\.version = "([\d.]+)"'),
    STATIC_VENDOR / "swagger-ui/swagger-ui-bundle.js": (
        "swagger-ui-dist",
        r'PACKAGE_VERSION:"([0-9.]+)"',
    ),
    TESTS_VENDOR / "axe.min.js": ("axe-core", r"/\*! axe v([0-9.]+)"),
}
DEV_ONLY = {"axe-core"}


def manifest(folder: Path) -> dict[str, str]:
    """``MANIFEST`` as {relative path: sha256}, in the format ``sha256sum`` writes."""
    entries: dict[str, str] = {}
    for line in (folder / "MANIFEST").read_text().splitlines():
        digest, name = line.split(maxsplit=1)
        entries[name.removeprefix("./")] = digest
    return entries


def locked_versions() -> dict[str, str]:
    lock = json.loads((WEB_ASSETS / "package-lock.json").read_text())
    return {
        path.removeprefix("node_modules/"): entry["version"]
        for path, entry in lock["packages"].items()
        if path.startswith("node_modules/")
    }


@pytest.mark.parametrize("folder", VENDOR_DIRS, ids=lambda p: p.relative_to(ROOT).as_posix())
def test_every_vendored_file_is_in_the_manifest_with_its_hash(folder: Path) -> None:
    listed = manifest(folder)
    present = {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and p.name != "MANIFEST"
    }
    assert present == set(listed), "re-run scripts/vendor-assets.sh"
    for name, digest in listed.items():
        actual = hashlib.sha256((folder / name).read_bytes()).hexdigest()
        assert actual == digest, f"{folder / name} differs from its MANIFEST entry"


def test_package_json_pins_exactly_the_locked_versions() -> None:
    package = json.loads((WEB_ASSETS / "package.json").read_text())
    locked = locked_versions()
    lock_root = json.loads((WEB_ASSETS / "package-lock.json").read_text())["packages"][""]
    for section in ("dependencies", "devDependencies"):
        pins: dict[str, str] = package.get(section, {})
        assert pins == lock_root.get(section, {}), f"{section}: lock out of date (npm install)"
        for name, version in pins.items():
            assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} must be pinned exactly"
            assert locked[name] == version


@pytest.mark.parametrize("path", sorted(BANNERS), ids=lambda p: p.name)
def test_each_library_states_the_locked_version(path: Path) -> None:
    package, pattern = BANNERS[path]
    found = re.search(pattern, path.read_text(encoding="utf-8", errors="replace"))
    assert found is not None, f"no version banner in {path}"
    assert found.group(1) == locked_versions()[package]


def test_every_pinned_library_is_vendored_and_test_only_ones_are_never_served() -> None:
    package = json.loads((WEB_ASSETS / "package.json").read_text())
    pinned = set(package["dependencies"]) | set(package.get("devDependencies", {}))
    assert pinned == {pkg for pkg, _ in BANNERS.values()}
    for path, (pkg, _) in BANNERS.items():
        expected = TESTS_VENDOR if pkg in DEV_ONLY else STATIC_VENDOR
        assert path.is_relative_to(expected)
        assert (pkg in DEV_ONLY) == (pkg in package.get("devDependencies", {}))
    served = {p.name for p in STATIC_VENDOR.rglob("*")}
    assert not any("axe" in name for name in served)


def test_each_library_ships_its_license() -> None:
    for path, (pkg, _) in BANNERS.items():
        root = TESTS_VENDOR if pkg in DEV_ONLY else STATIC_VENDOR
        assert (root / f"LICENSE.{pkg}").is_file(), f"{pkg}: license not vendored"
        assert path.is_file()
