"""A hello-world and a program that does not compile, in every language the
code-execution APIs offer (keyed by Judge0 language id), for the tests that run
them through the CLI, picobytes' API and the official Judge0 client."""

from __future__ import annotations

from dataclasses import dataclass

HELLO = "hello, world\n"


@dataclass(frozen=True)
class Programs:
    hello: str  # prints HELLO
    broken: str  # a compile error; for an interpreted language, a syntax error
    error_text: str  # a word the compiler's or interpreter's message contains


_C_HELLO = (
    '#include <stdio.h>\nint main(void) {\n    printf("hello, world\\n");\n    return 0;\n}\n'
)
_C_BROKEN = "int main(void) {\n    return undeclared_name;\n}\n"
_CPP_HELLO = '#include <iostream>\nint main() {\n    std::cout << "hello, world" << std::endl;\n}\n'
_CPP_BROKEN = "int main() {\n    return undeclared_name;\n}\n"
_PY = Programs('print("hello, world")\n', 'print("hello, world"\n', "SyntaxError")

PROGRAMS: dict[int, Programs] = {
    46: Programs('echo "hello, world"\n', 'echo "hello, world\n', "unexpected"),
    50: Programs(_C_HELLO, _C_BROKEN, "undeclared_name"),
    52: Programs(_CPP_HELLO, _CPP_BROKEN, "undeclared_name"),
    54: Programs(_CPP_HELLO, _CPP_BROKEN, "undeclared_name"),
    60: Programs(
        'package main\n\nimport "fmt"\n\nfunc main() {\n\tfmt.Println("hello, world")\n}\n',
        "package main\n\nfunc main() {\n\tundeclaredName()\n}\n",
        "undeclaredName",
    ),
    61: Programs(
        'main :: IO ()\nmain = putStrLn "hello, world"\n', "main = putStrLn 42\n", "No instance"
    ),
    62: Programs(
        "public class Main {\n    public static void main(String[] args) {\n"
        '        System.out.println("hello, world");\n    }\n}\n',
        "public class Main {\n    public static void main(String[] args) {\n"
        '        int x = "text";\n    }\n}\n',
        "incompatible types",
    ),
    63: Programs('console.log("hello, world");\n', 'console.log("hello, world";\n', "SyntaxError"),
    71: _PY,
    72: Programs('puts "hello, world"\n', 'puts "hello, world\n', "unterminated"),
    73: Programs(
        'fn main() {\n    println!("hello, world");\n}\n',
        'fn main() {\n    let x: i32 = "text";\n}\n',
        "mismatched types",
    ),
    74: Programs(
        'const greeting: string = "hello, world";\nconsole.log(greeting);\n',
        'const count: number = "text";\nconsole.log(count);\n',
        "TS2322",
    ),
    75: Programs(_C_HELLO, _C_BROKEN, "undeclared_name"),
    76: Programs(_CPP_HELLO, _CPP_BROKEN, "undeclared_name"),
    78: Programs(
        'fun main() {\n    println("hello, world")\n}\n',
        'fun main() {\n    val x: Int = "text"\n    println(x)\n}\n',
        "type mismatch",
    ),
    80: Programs('cat("hello, world\\n")\n', 'cat("hello, world\\n"\n', "unexpected"),
    1001: Programs(
        'import numpy\nprint("hello, world")\n',
        'import numpy\nprint("hello, world"\n',
        "SyntaxError",
    ),
}
