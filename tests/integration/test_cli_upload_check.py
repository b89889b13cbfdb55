"""``assay assignment upload`` against a live server: the server checks the package
against its reference solution, the CLI prints the result, and a package that fails
is published only with ``--force`` (which the audit log records)."""

from __future__ import annotations

import shutil
from pathlib import Path

from assay.services import Actor
from assay.services.catalog import assignments, courses
from assay.services.identity import accounts, audit
from assay.storage.models import Role
from helpers import require_backend
from integration.test_cli_server import assay
from platform_helpers import LiveServer, database_url, open_platform, settings_for

EXAMPLE = Path(__file__).parents[2] / "examples" / "assignments" / "python-io"


def broken_package(tmp_path: Path) -> Path:
    """python-io whose "reference solution" is the wrong answer, without known-bad."""
    copy = tmp_path / "python-io"
    shutil.copytree(EXAMPLE, copy)
    toml = copy / "assignment.toml"
    text = toml.read_text()
    toml.write_text(text[: text.index("# -- known-bad")])
    shutil.copy(copy / "bad" / "wrong-answer" / "stats.py", copy / "solution" / "stats.py")
    return copy


def test_a_package_failing_its_check_is_published_only_with_force(tmp_path: Path) -> None:
    require_backend("native", "python3")
    package = broken_package(tmp_path)
    with database_url("sqlite", tmp_path) as url:
        platform = open_platform(settings_for(url, tmp_path / "state"))
        system = Actor.system()
        accounts.create_user(platform, system, "teacher", "password123")
        course = courses.create_course(platform, system, "cs3", "Course")
        courses.enroll(platform, system, course.id, "teacher", Role.INSTRUCTOR)
        teacher = accounts.authenticate(platform, "teacher", "password123")
        token = accounts.create_token(platform, teacher, "cli").token
        try:
            with LiveServer(platform) as server:
                env = {"ASSAY_SERVER": server.url, "ASSAY_TOKEN": token}
                refused = assay("assignment", "upload", str(package), "--course", "cs3",
                                "--publish", env=env)  # fmt: skip
                assert refused.returncode == 2, refused.stdout
                assert "reference check failed" in refused.stderr
                assert "7 / 10" in refused.stderr
                assert "--force" in refused.stderr
                [hidden] = assignments.list_assignments(platform, system, course.id)
                assert hidden.published is False and hidden.reference_check == "failed"

                forced = assay("assignment", "upload", str(package), "--course", "cs3",
                               "--publish", "--force", env=env)  # fmt: skip
                assert forced.returncode == 0, forced.stderr
                assert "reference check failed" in forced.stderr
                assert forced.stdout.endswith("(published)\n")
                entries = audit.list_entries(platform, system, action="assignment.publish_forced")
                assert [e.target for e in entries] == [f"assignment:{hidden.id}"]
        finally:
            platform.close()
