"""One commit of a git remote, fetched on the trusted side and read as submission files.

Nothing of the repository reaches a sandbox: the commit is fetched into a bare
repository in a temporary directory and its tree is read object by object
(``git ls-tree`` + ``git cat-file --batch``), so there is never a working tree,
no ``.git`` directory among the files, no checkout filters, hooks or submodules;
the temporary repository is deleted afterwards. Symbolic links and submodule
entries are left out (named in ``CommitFiles.skipped``).

git runs with no system or global configuration, no terminal prompts, hooks
off, object checks on, a protocol allow-list (``GIT_ALLOW_PROTOCOL``), a time
limit on each remote operation and a size limit on what it may download.
Credentials in an http(s) remote URL are taken out of the URL and sent as an
``Authorization`` header given through the environment (never on the command
line), and every message that leaves this module is passed through ``redact``.
"""

from __future__ import annotations

import base64
import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

from assay.errors import GitError, SubmissionError
from assay.files.fileset import File, FileSet

NETWORK_PROTOCOLS = "git:http:https:ssh"  # file (and local paths) only with allow_local
COMMIT_ID = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})\Z")
_URL_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_GIT_CONFIG = (
    "core.hooksPath=/dev/null",
    "core.fsmonitor=false",
    "transfer.fsckObjects=true",
    "fetch.recurseSubmodules=false",
    "submodule.recurse=false",
    "protocol.version=2",
    "credential.helper=",
    "gc.auto=0",
)
_POLL_S = 0.1
_MODE_EXECUTABLE = "100755"
_MODE_FILE = "100644"


@dataclass(frozen=True)
class GitLimits:
    timeout_s: float = 60.0  # of each remote operation (fetch, ls-remote)
    max_repo_bytes: int = 64 * 1024 * 1024  # what a fetch may download
    max_files: int = 500
    max_total_bytes: int = 16 * 1024 * 1024  # of the files taken from the commit
    allow_local: bool = False  # file:// and path remotes: any repository on this machine


@dataclass(frozen=True)
class CommitFiles:
    commit: str
    files: FileSet
    skipped: tuple[str, ...]  # symlinks and submodules left out
    fetched_bytes: int
    elapsed_s: float


def redact(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", text)


def is_commit_id(value: str) -> bool:
    return bool(COMMIT_ID.match(value))


def fetch_commit(
    remote_url: str, commit: str, limits: GitLimits, *, ref: str | None = None
) -> CommitFiles:
    """The files of ``commit`` of the remote (``ref``: where to look if the server
    refuses to send a commit by its id, e.g. a branch ``refs/heads/main``)."""
    if not is_commit_id(commit):
        raise GitError(f"not a full commit id: {commit[:80]!r}")
    started = time.monotonic()
    url, config = _credentials_out(remote_url)
    work = Path(tempfile.mkdtemp(prefix="assay-git-"))
    try:
        repo = work / "repo.git"
        _git(work, ["init", "--bare", "--quiet", "--template=", str(repo)], limits)
        try:
            _git(repo, ["fetch", "--depth=1", "--no-tags", "--quiet", url, commit], limits, config)
        except GitError:
            if not ref:
                raise
            # servers that refuse unadvertised ids: fetch the branch and look in its history
            _git(
                repo,
                ["fetch", "--no-tags", "--quiet", url, f"+{ref}:refs/assay/ref"],
                limits,
                config,
            )
        try:
            _git(repo, ["cat-file", "-e", f"{commit}^{{commit}}"], limits)
        except GitError:
            raise GitError(f"the remote has no commit {commit}") from None
        fetched = _tree_size(repo)
        files, skipped = _read_tree(repo, commit, limits)
        return CommitFiles(commit, files, skipped, fetched, time.monotonic() - started)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def ls_remote(remote_url: str, limits: GitLimits) -> dict[str, str]:
    """The remote's refs: name (``HEAD``, ``refs/heads/main``, ...) -> commit id."""
    url, config = _credentials_out(remote_url)
    work = Path(tempfile.mkdtemp(prefix="assay-git-"))
    try:
        out = _git(work, ["ls-remote", "--quiet", url], limits, config)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    refs: dict[str, str] = {}
    for line in out.decode(errors="replace").splitlines():
        commit, _, name = line.partition("\t")
        if is_commit_id(commit) and name:
            refs[name] = commit
    return refs


def head_of(refs: dict[str, str], branch: str) -> str | None:
    """The commit a branch points at; with no branch, the remote's HEAD (or its only branch)."""
    if branch:
        return refs.get(f"refs/heads/{branch}")
    if "HEAD" in refs:
        return refs["HEAD"]
    heads = [commit for name, commit in refs.items() if name.startswith("refs/heads/")]
    return heads[0] if len(heads) == 1 else None


def _credentials_out(remote_url: str) -> tuple[str, list[tuple[str, str]]]:
    """The URL without user and password, and the git config that sends them instead."""
    parts = urlsplit(remote_url)
    if parts.scheme not in {"http", "https"} or "@" not in parts.netloc:
        return remote_url, []
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    token = base64.b64encode(f"{unquote(user)}:{unquote(password)}".encode()).decode()
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    scope = f"{parts.scheme}://{hostport}/"
    return bare, [(f"http.{scope}.extraHeader", f"Authorization: Basic {token}")]


def _environment(home: Path, config: list[tuple[str, str]], *, allow_local: bool) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/local/bin:/usr/bin:/bin"),
        "HOME": str(home),
        "LC_ALL": "C",
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_ALLOW_PROTOCOL": NETWORK_PROTOCOLS + (":file" if allow_local else ""),
        "GIT_SSH_COMMAND": "ssh -o BatchMode=yes",
        "GIT_CONFIG_COUNT": str(len(config)),
    }
    for index, (key, value) in enumerate(config):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    return env


def _git(
    cwd: Path,
    args: list[str],
    limits: GitLimits,
    config: list[tuple[str, str]] | None = None,
    *,
    stdin: bytes | None = None,
) -> bytes:
    """Run git in ``cwd`` within the time and download limits; its stdout."""
    command = ["git"]
    for setting in _GIT_CONFIG:
        command += ["-c", setting]
    home = cwd if cwd.is_dir() else cwd.parent
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        try:
            process = subprocess.Popen(
                [*command, *args],
                cwd=home,
                env=_environment(home, config or [], allow_local=limits.allow_local),
                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        except OSError as exc:
            raise GitError(f"cannot run git: {exc.strerror}") from exc
        if stdin is not None:
            assert process.stdin is not None  # noqa: S101 - PIPE above
            process.stdin.write(stdin)
            process.stdin.close()
        _wait(process, home, limits)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read(4096)
    if process.returncode != 0:
        message = stderr.decode(errors="replace").strip() or f"exit status {process.returncode}"
        raise GitError(f"git {args[0]} failed: {redact(message)}")
    return stdout


def _wait(process: subprocess.Popen[bytes], watched: Path, limits: GitLimits) -> None:
    deadline = time.monotonic() + limits.timeout_s
    while True:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=_POLL_S)
        if process.returncode is not None:
            return
        if time.monotonic() > deadline:
            _kill(process)
            raise GitError(f"git took longer than {limits.timeout_s:g} s") from None
        if _tree_size(watched) > limits.max_repo_bytes:
            _kill(process)
            raise GitError(f"the repository is larger than {limits.max_repo_bytes} bytes")


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _tree_size(root: Path) -> int:
    total = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
    return total


def _read_tree(repo: Path, commit: str, limits: GitLimits) -> tuple[FileSet, tuple[str, ...]]:
    listing = _git(repo, ["ls-tree", "-r", "-z", "--full-tree", "-l", commit], limits)
    wanted: list[tuple[str, str, bool]] = []  # (path, object id, executable)
    skipped: list[str] = []
    total = 0
    for entry in listing.split(b"\0"):
        if not entry:
            continue
        meta, _, raw_path = entry.partition(b"\t")
        mode, kind, object_id, size = meta.decode().split()
        path = raw_path.decode(errors="replace")
        parts = path.split("/")
        if kind != "blob" or mode not in {_MODE_FILE, _MODE_EXECUTABLE} or _unsafe(parts):
            skipped.append(path)
            continue
        total += int(size)
        wanted.append((path, object_id, mode == _MODE_EXECUTABLE))
    if len(wanted) > limits.max_files:
        raise GitError(f"the commit has more than {limits.max_files} files")
    if total > limits.max_total_bytes:
        raise GitError(f"the commit's files are larger than {limits.max_total_bytes} bytes")
    request = "".join(f"{object_id}\n" for _path, object_id, _exec in wanted).encode()
    blobs = _git(repo, ["cat-file", "--batch"], limits, stdin=request) if wanted else b""
    files = []
    offset = 0
    for path, object_id, executable in wanted:
        header_end = blobs.index(b"\n", offset)
        got_id, _kind, size = blobs[offset:header_end].decode().split()
        if got_id != object_id:
            raise GitError("git cat-file answered out of order")
        start = header_end + 1
        files.append((path, blobs[start : start + int(size)], executable))
        offset = start + int(size) + 1
    try:  # the names of a commit follow the rule of every other submission
        return FileSet(tuple(File(*found) for found in files)), tuple(skipped)
    except SubmissionError as exc:
        raise GitError(exc.message) from exc


def _unsafe(parts: list[str]) -> bool:
    return any(part in {"", ".", ".."} or part.lower() == ".git" for part in parts)
