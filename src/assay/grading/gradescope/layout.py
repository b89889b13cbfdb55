"""Gradescope's ``/autograder`` layout, in an environment's tree and in a workspace.

Gradescope builds an image in which ``/autograder/source`` holds the autograder's
files and ``/autograder/run_autograder`` its script, runs ``setup.sh`` there as root,
and at grading puts the submission in ``/autograder/submission`` and expects
``/autograder/results/results.json``. Assay's sandboxes run with the environment's
tree as a read-only ``/`` and the workspace at ``/work``, so:

- at build time (``SETUP_WRAPPER``, the environment's setup script) the autograder
  is put at ``/autograder/source``, its ``setup.sh`` runs there as on Gradescope,
  then the built ``/autograder`` moves to ``BUILT_DIR`` and ``/autograder`` becomes a
  symlink to ``/work``;
- at run time (``PREPARE``, run in the student's sandbox) the submission's files
  move to ``/work/submission`` and ``BUILT_DIR``'s ``source`` and ``run_autograder``
  are copied beside it, with an empty ``results``: every ``/autograder/...`` path
  then leads where Gradescope's would, writable.
"""

from __future__ import annotations

BUILT_DIR = "/opt/assay/gradescope"
SOURCE_DIR = "/autograder/source"
RUN_AUTOGRADER = "/autograder/run_autograder"
RESULTS_FILE = "results/results.json"  # in the workspace, i.e. /autograder/results/results.json
REQUIRED = ("setup.sh", "run_autograder")

SETUP_WRAPPER = f"""\
#!/bin/bash
# Written by `assay assignment import-gradescope`: runs the autograder's own setup.sh
# the way Gradescope does (as root, in {SOURCE_DIR}), then moves the built /autograder
# to {BUILT_DIR} and makes /autograder lead to the workspace (/work).
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive PIP_BREAK_SYSTEM_PACKAGES=1
apt-get update -qq
install -m 0755 {SOURCE_DIR}/run_autograder {RUN_AUTOGRADER}
cd {SOURCE_DIR}
bash ./setup.sh
cd /
mkdir -p {BUILT_DIR.rsplit("/", 1)[0]}
rm -rf {BUILT_DIR}
mv /autograder {BUILT_DIR}
chmod -R a+rX {BUILT_DIR}
ln -s /work /autograder
"""

PREPARE = f"""\
set -eu
cd /work
staging=$(mktemp -d ./.gradescope-submission.XXXXXX)
find . -mindepth 1 -maxdepth 1 ! -path "$staging" -exec mv -t "$staging" -- {{}} +
mv -- "$staging" submission
chmod 0755 submission
cp -R -- {BUILT_DIR}/source source
cp -- {BUILT_DIR}/run_autograder run_autograder
chmod u+x run_autograder
mkdir results
"""
"""The run-time layout step, for ``/bin/sh -c`` in the student's sandbox."""
