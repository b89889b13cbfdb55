"""Build step that pyproject.toml cannot say: the demo's examples go into the wheel.

``assay serve --demo`` publishes the example assignments. In a source checkout it reads
them from ``examples/assignments`` (where the tests and docs use them); an installed wheel
has no checkout, so the build copies that directory into the package as
``assay/demo_examples`` (``assay.cli.demo.default_examples_dir`` looks there). The files
stay in one place in git; the copy exists only in the build. Editable installs copy
nothing: they run from the checkout.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLES = Path(__file__).resolve().parent / "examples" / "assignments"
PACKAGED = ("assay", "demo_examples")  # the package directory the copy goes to
SKIPPED = shutil.ignore_patterns("__pycache__", "*.pyc", ".*")


class BuildWithExamples(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:
            return
        if not (EXAMPLES / "README.md").is_file():
            raise SystemExit(f"setup.py: the demo's examples are missing ({EXAMPLES})")
        target = Path(self.build_lib, *PACKAGED)
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(EXAMPLES, target, ignore=SKIPPED)


setup(cmdclass={"build_py": BuildWithExamples})
