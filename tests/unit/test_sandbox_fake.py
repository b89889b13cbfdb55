"""The fake backend: a real in-memory workspace and scripted runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from assay.errors import SandboxClosedError, WorkspacePathError
from assay.sandbox import RunResult, RunSpec, Sandbox
from assay.sandbox.base import EntryKind, WorkspaceEntry
from assay.sandbox.fake import FakeBackend, FakeWorkspace, fake_result


def test_files_directories_and_links() -> None:
    with Sandbox(backend=FakeBackend()) as box:
        box.write_file("src/main.py", b"print(1)", mode=0o600)
        box.add_entries([WorkspaceEntry("link", EntryKind.SYMLINK, link_target="/etc/passwd")])
        assert box.read_file("src/main.py") == b"print(1)"
        assert box.list_files() == ["link", "src"]
        assert box.list_files("src") == ["main.py"]
        with pytest.raises(WorkspacePathError):
            box.read_file("link")  # recorded, never followed
        with pytest.raises(WorkspacePathError):
            box.write_file("link/inside", b"x")
        with pytest.raises(WorkspacePathError):
            box.list_files("nothing")
        with pytest.raises(WorkspacePathError):
            box.read_file("src/main.py", max_bytes=3)


def test_replacing_a_directory_with_a_file_drops_its_contents() -> None:
    workspace = FakeWorkspace()
    workspace.add(WorkspaceEntry("d/f", EntryKind.FILE, data=b"x"))
    workspace.add(WorkspaceEntry("d", EntryKind.FILE, data=b"y"))
    assert set(workspace.entries) == {"d"}
    assert workspace.read("d") == b"y"


def test_reset_and_close() -> None:
    backend = FakeBackend()
    box = Sandbox(backend=backend).open()
    box.write_file("a", b"1")
    box.reset()
    assert box.list_files() == []
    session = backend.sessions[0]
    box.close()
    assert session.closed
    with pytest.raises(SandboxClosedError):
        session.run(RunSpec(argv=("true",)))


def test_default_script(tmp_path: Path) -> None:
    (tmp_path / "in").write_bytes(b"from a file")
    with Sandbox(backend=FakeBackend()) as box:
        box.write_file("f", b"data")
        assert box.run(["echo", "a", "b"]).stdout == b"a b\n"
        assert box.run(["cat"], stdin=b"in").stdout == b"in"
        assert box.run(["cat"], stdin=tmp_path / "in").stdout == b"from a file"
        assert box.run(["cat", "f"]).stdout == b"data"
        missing = box.run(["cat", "missing"])
        assert (missing.exit_code, missing.stdout) == (1, b"")
        assert box.run(["anything"]).ok


def test_scripted_runs_are_recorded() -> None:
    seen: list[tuple[RunSpec, list[str]]] = []

    def script(spec: RunSpec, workspace: FakeWorkspace) -> RunResult:
        seen.append((spec, workspace.children(".")))
        return fake_result(stderr=b"boom", exit_code=2)

    backend = FakeBackend(script)
    with Sandbox(backend=backend) as box:
        box.write_file("x", b"")
        result = box.run(["make"], as_root=True)
    assert (result.exit_code, result.stderr, result.ok) == (2, b"boom", False)
    assert seen[0][0].argv == ("make",)
    assert seen[0][0].as_root
    assert seen[0][1] == ["x"]
    assert backend.sessions[0].runs == [seen[0][0]]
    assert backend.check()[0].feature == "fake"
