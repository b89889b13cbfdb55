"""The Judge0 CE-compatible subset over real HTTP with real workers and sandboxes,
driven by the official ``judge0`` client from PyPI and by plain HTTP."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import judge0
import pytest

from assay.services import Actor, Platform
from assay.services.identity import accounts
from assay.worker.pool import WorkerPool
from helpers import require_backend
from platform_helpers import DATABASE_KINDS, LiveServer, database_url, open_platform, settings_for

C_HELLO = '#include <stdio.h>\nint main(void) {\n    printf("hello from C\\n");\n    return 0;\n}\n'
C_SUM = (
    "#include <stdio.h>\nint main(void) {\n    int a, b;\n"
    '    if (scanf("%d %d", &a, &b) != 2) return 3;\n    printf("%d\\n", a + b);\n'
    "    return 0;\n}\n"
)


@dataclass
class Server:
    platform: Platform
    url: str
    tokens: dict[str, str]

    def client(self, who: str | None = "alice") -> httpx.Client:
        headers = {"X-Auth-Token": self.tokens[who]} if who else {}
        return httpx.Client(base_url=self.url + "/judge0", headers=headers, timeout=90)


@contextmanager
def judge0_server(kind: str, tmp_path: Path) -> Iterator[Server]:
    with ExitStack() as stack:
        url = stack.enter_context(database_url(kind, tmp_path))
        platform = open_platform(settings_for(url, tmp_path / "state"))
        stack.callback(platform.close)
        system = Actor.system()
        tokens = {}
        for name in ("alice", "bob"):
            user = accounts.create_user(platform, system, name, "correct horse battery")
            tokens[name] = accounts.create_token_for(platform, system, user.id, "t").token
        server = stack.enter_context(LiveServer(platform))
        stack.enter_context(WorkerPool(platform, 2))
        yield Server(platform, server.url, tokens)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    require_backend("native", "c")
    with judge0_server("sqlite", tmp_path_factory.mktemp("judge0")) as live:
        yield live


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def run(client: httpx.Client, body: dict[str, Any], **params: str) -> dict[str, Any]:
    response = client.post("/submissions", params={"wait": "true", **params}, json=body)
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


def test_official_client_runs_python_and_c(server: Server) -> None:
    client = judge0.Client(server.url + "/judge0", {"X-Auth-Token": server.tokens["alice"]})
    python = judge0.run(
        client=client, source_code='print("hello from Python")', language=judge0.PYTHON
    )
    assert python.status == judge0.Status.ACCEPTED
    assert python.stdout == "hello from Python\n"
    assert client.get_language_id(judge0.PYTHON) == 71  # resolved by our /about version
    c = judge0.run(client=client, source_code=C_SUM, language=judge0.C, stdin="2 40\n")
    assert c.status == judge0.Status.ACCEPTED, (c.compile_output, c.stderr)
    assert c.stdout == "42\n"
    assert c.time is not None and c.memory is not None and c.memory > 0
    # test cases: stdin + expected output, one submission each (the batch endpoints)
    results = judge0.run(
        client=client,
        source_code=C_SUM,
        language=judge0.C,
        test_cases=[("1 2", "3"), ("2 2", "5")],
    )
    assert [r.status for r in results] == [judge0.Status.ACCEPTED, judge0.Status.WRONG_ANSWER]


def test_statuses_languages_about(server: Server) -> None:
    with server.client() as client:
        statuses = client.get("/statuses").json()
        assert {s["id"]: s["description"] for s in statuses} == {
            1: "In Queue", 2: "Processing", 3: "Accepted", 4: "Wrong Answer",
            5: "Time Limit Exceeded", 6: "Compilation Error", 7: "Runtime Error (SIGSEGV)",
            8: "Runtime Error (SIGXFSZ)", 9: "Runtime Error (SIGFPE)",
            10: "Runtime Error (SIGABRT)", 11: "Runtime Error (NZEC)",
            12: "Runtime Error (Other)", 13: "Internal Error", 14: "Exec Format Error",
        }  # fmt: skip
        names = {lang["id"]: lang["name"] for lang in client.get("/languages").json()}
        assert {50, 52, 54, 62, 71} <= set(names)
        assert names[71].startswith("Python (3.") and names[50].startswith("C (GCC ")
        assert names[62].startswith("Java (OpenJDK ")
        python = client.get("/languages/71").json()
        assert python["source_file"] == "script.py" and python["compile_cmd"] is None
        assert client.get("/languages/9999").status_code == 404
        assert client.get("/about").json()["version"] == "1.13.1"


def test_verdicts(server: Server) -> None:
    with server.client() as client:
        wrong = run(client, {"source_code": "print(1)", "language_id": 71, "expected_output": "2"})
        assert wrong["status"] == {"id": 4, "description": "Wrong Answer"}
        compile_error = run(
            client, {"source_code": "int main(void) { return x; }", "language_id": 50}
        )
        assert compile_error["status"]["id"] == 6
        assert "error" in compile_error["compile_output"] and compile_error["stdout"] is None
        loop = run(
            client,
            {"source_code": "while True: pass", "language_id": 71, "cpu_time_limit": 0.5,
             "cpu_extra_time": 0.1},
        )  # fmt: skip
        assert loop["status"]["id"] == 5
        segv = run(
            client,
            {"source_code": "int main(void) { return *(volatile int *)0; }", "language_id": 50},
        )
        assert segv["status"]["id"] == 7
        nzec = run(client, {"source_code": "import sys\nsys.exit(3)", "language_id": 71})
        assert nzec["status"]["id"] == 11 and "3" in nzec["message"]
        fpe = run(
            client,
            {"source_code": "int main(int c, char **v) { return 7 / (c - 1); }", "language_id": 50},
        )
        assert fpe["status"]["id"] == 9
        stderr = run(
            client, {"source_code": "import sys\nprint('oops', file=sys.stderr)", "language_id": 71}
        )
        assert stderr["status"]["id"] == 3 and stderr["stderr"] == "oops\n"


def test_base64_and_polling(server: Server) -> None:
    with server.client() as client:
        created = client.post(
            "/submissions",
            params={"base64_encoded": "true"},
            json={"source_code": b64("print(input()[::-1])"), "language_id": 71,
                  "stdin": b64("héllo\n")},
        )  # fmt: skip
        assert created.status_code == 201
        token = created.json()["token"]
        assert set(created.json()) == {"token"}
        deadline = time.monotonic() + 60
        while True:
            body = client.get(f"/submissions/{token}", params={"base64_encoded": "true"}).json()
            if body["status"]["id"] not in (1, 2):
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        assert body["status"]["id"] == 3
        assert base64.b64decode(body["stdout"]).decode() == "olléh\n"
        plain = client.get(
            f"/submissions/{token}", params={"fields": "stdout,status_id,language_id"}
        )
        assert plain.json() == {"stdout": "olléh\n", "status_id": 3, "language_id": 71}
        every = client.get(f"/submissions/{token}", params={"fields": "*"}).json()
        assert every["source_code"] == "print(input()[::-1])" and every["time"] is not None
        assert every["finished_at"].endswith("Z")
        bad_fields = client.get(f"/submissions/{token}", params={"fields": "stdout,nope"})
        assert bad_fields.status_code == 400
        bad_b64 = client.post(
            "/submissions", params={"base64_encoded": "true"},
            json={"source_code": "not base64!", "language_id": 71},
        )  # fmt: skip
        assert bad_b64.status_code == 422 and "source_code" in bad_b64.json()


def test_batch(server: Server) -> None:
    with server.client() as client:
        created = client.post(
            "/submissions/batch",
            json={"submissions": [
                {"source_code": "print(6 * 7)", "language_id": 71},
                {"source_code": "print(1)", "language_id": 4242},
                {"source_code": C_HELLO, "language_id": 50},
            ]},
        )  # fmt: skip
        assert created.status_code == 201
        items = created.json()
        assert "token" in items[0] and "token" in items[2]
        assert items[1] == {"language_id": ["language with id 4242 doesn't exist"]}
        tokens = f"{items[0]['token']},{items[2]['token']}"
        deadline = time.monotonic() + 60
        while True:
            got = client.get("/submissions/batch", params={"tokens": tokens}).json()["submissions"]
            if all(s["status"]["id"] > 2 for s in got):
                break
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert [s["stdout"] for s in got] == ["42\n", "hello from C\n"]


def test_errors_and_auth(server: Server) -> None:
    with server.client() as client:
        unknown = client.post("/submissions", json={"source_code": "x", "language_id": 999})
        assert unknown.status_code == 422
        assert unknown.json() == {"language_id": ["language with id 999 doesn't exist"]}
        blank = client.post("/submissions", json={"language_id": 71})
        assert blank.status_code == 422 and blank.json()["source_code"] == ["can't be blank"]
        too_slow = client.post(
            "/submissions", json={"source_code": "x", "language_id": 71, "cpu_time_limit": 100}
        )
        assert too_slow.status_code == 422 and "cpu_time_limit" in too_slow.json()
        network = client.post(
            "/submissions", json={"source_code": "x", "language_id": 71, "enable_network": True}
        )
        assert network.status_code == 422
        token = client.post("/submissions", json={"source_code": "print(1)", "language_id": 71})
        mine = token.json()["token"]
    with server.client(None) as anonymous:
        assert (
            anonymous.post("/submissions", json={"source_code": "x", "language_id": 71}).status_code
            == 401
        )
        assert anonymous.get("/languages").status_code == 401
    with server.client("bob") as bob:  # another user's submission does not exist for bob
        assert bob.get(f"/submissions/{mine}").status_code == 404
    bearer = httpx.get(
        f"{server.url}/judge0/languages",
        headers={"Authorization": f"Bearer {server.tokens['bob']}"},
    )
    assert bearer.status_code == 200
    wrong = httpx.get(f"{server.url}/judge0/languages", headers={"X-Auth-Token": "assay_nope"})
    assert wrong.status_code == 401


@pytest.mark.parametrize("kind", DATABASE_KINDS)
def test_executions_on_each_database(kind: str, tmp_path: Path) -> None:
    require_backend("native", "python3")
    with judge0_server(kind, tmp_path) as live, live.client() as client:
        body = run(client, {"source_code": "print('db ok')", "language_id": 71})
        assert body["status"]["id"] == 3 and body["stdout"] == "db ok\n"
