"""Regenerate migration 0001 from the models (only while 0001 is unreleased).

    .venv/bin/python scripts/regen-initial-migration.py

After a release, schema changes get a new migration instead:
``alembic revision --autogenerate`` against a database at the previous head.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from alembic import command

from assay.storage.db import MIGRATIONS, Database

for old in (MIGRATIONS / "versions").glob("0001_*.py"):
    old.unlink()
with tempfile.TemporaryDirectory() as tmp:
    db = Database(f"sqlite:///{Path(tmp) / 'gen.db'}")
    config = db.alembic_config()
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        command.revision(config, message="initial schema", autogenerate=True, rev_id="0001")
    db.dispose()
new = next((MIGRATIONS / "versions").glob("0001_*.py"))
subprocess.run(["ruff", "check", "--fix", "-q", str(new)], check=False)
subprocess.run(["ruff", "format", "-q", str(new)], check=True)
print(f"wrote {new}")
