"""What ``assay serve --demo`` prints: where to open the web UI, next to the logins."""

from __future__ import annotations

from pathlib import Path

from assay.cli.demo import DemoAccount, DemoInfo
from assay.storage.models import Role

SECRET = "generated"  # stands for what seed_demo generates


def test_demo_lines_say_where_to_log_in_to_the_web_ui_before_the_logins() -> None:
    info = DemoInfo(
        course_code="demo",
        course_id=1,
        accounts=[DemoAccount(username="demo-student", password=SECRET, role=Role.STUDENT)],
        assignments=[],
        student_token=SECRET,
        logins_file=Path("/var/lib/assay/demo-logins.json"),
    )
    lines = info.lines("http://127.0.0.1:8000/")
    ui = [n for n, line in enumerate(lines) if "web UI:" in line]
    login = [n for n, line in enumerate(lines) if f"demo-student / {SECRET}" in line]
    assert len(ui) == 1 and login
    assert lines[ui[0]].split()[2] == "http://127.0.0.1:8000/login"
    assert ui[0] < login[0]
