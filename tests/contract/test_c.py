"""Contract: the "c" environment compiles with gcc and runs the result."""

from __future__ import annotations

import signal

from assay.sandbox import Termination
from helpers import SandboxFactory, assert_exited_ok, assert_termination, describe

PROGRAM = rb"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    long sum = 0, x;
    while (scanf("%ld", &x) == 1) sum += x;
    printf("sum=%ld\n", sum);
    fflush(stdout);
    if (argc > 1 && strcmp(argv[1], "abort") == 0) abort();
    return argc > 1 ? atoi(argv[1]) : 0;
}
"""


def test_compile_and_run_c(open_sandbox: SandboxFactory) -> None:
    box = open_sandbox("c")
    box.write_file("main.c", PROGRAM)
    build = box.run(["gcc", "-O2", "-Wall", "-Werror", "-o", "main", "main.c"])
    assert_exited_ok(build)
    assert "main" in box.list_files()

    result = box.run(["./main"], stdin=b"1 2 3 39\n")
    assert_exited_ok(result)
    assert result.stdout == b"sum=45\n"

    result = box.run(["./main", "7"], stdin=b"")
    assert_termination(result, Termination.EXITED)
    assert result.exit_code == 7, describe(result)

    result = box.run(["./main", "abort"])
    assert_termination(result, Termination.SIGNALED)
    assert result.signal == signal.SIGABRT
    assert result.stdout == b"sum=0\n"


def test_compile_error_is_a_verdict(open_sandbox: SandboxFactory) -> None:
    box = open_sandbox("c")
    box.write_file("bad.c", b"int main(void) { return undefined_name; }\n")
    result = box.run(["gcc", "-o", "bad", "bad.c"])
    assert_termination(result, Termination.EXITED)
    assert result.exit_code not in (0, None)
    assert b"undefined_name" in result.stderr
