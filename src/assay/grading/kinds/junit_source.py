"""The test methods of instructor JUnit sources, read from the source text on the host.

Enough of Java to find, in each class (nested ones too), the methods
annotated ``@Test`` (JUnit 4 or 5), ``@ParameterizedTest``, ``@RepeatedTest``,
``@TestFactory`` or ``@TestTemplate``, and the values of their
``@GradedTest(...)`` (Gradescope's jh61b annotation) and ``@DisplayName(...)``.
Points and visibility come from here, the instructor's text, never from the
JVM that runs the student's code. Methods marked ``@Disabled`` or ``@Ignore``
are left out: they never run.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

TEST_ANNOTATIONS = frozenset(
    {"Test", "ParameterizedTest", "RepeatedTest", "TestFactory", "TestTemplate"}
)
OFF_ANNOTATIONS = frozenset({"Disabled", "Ignore"})
TYPE_WORDS = frozenset({"class", "interface", "enum", "record"})

_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>//[^\n]*|/\*.*?\*/)
    | (?P<text>\"\"\"(?:\\.|[^\\])*?\"\"\"|"(?:\\.|[^"\\\n])*"|'(?:\\.|[^'\\\n])+')
    | (?P<number>-?(?:\d[\d_]*\.?[\d_]*(?:[eE][-+]?\d+)?|\.\d+)[dDfFlL]?)
    | (?P<word>[A-Za-z_$][\w$]*)
    | (?P<symbol>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "0": "\0", "s": " "}


class JavaSourceError(ValueError):
    """The source could not be read as Java (the message says where)."""


@dataclass(frozen=True)
class Annotation:
    name: str  # the simple name: ``GradedTest`` for ``@com.gradescope...GradedTest``
    values: dict[str, str | float] = field(default_factory=dict)


@dataclass(frozen=True)
class JavaTest:
    """One test method of a test class."""

    class_name: str  # binary name, as the JVM reports it: ``pkg.Outer$Inner``
    method: str
    line: int
    annotations: tuple[Annotation, ...] = ()

    @property
    def key(self) -> str:
        """How the runner names it: ``pkg.Outer$Inner#method``."""
        return f"{self.class_name}#{self.method}"

    @property
    def short(self) -> str:
        """``Inner.method``: the simple class name and the method."""
        return f"{self.class_name.rpartition('.')[2].rpartition('$')[2]}.{self.method}"

    @property
    def dotted(self) -> str:
        """``pkg.Outer.Inner.method``: the full name with dots."""
        return f"{self.class_name.replace('$', '.')}.{self.method}"

    def annotation(self, name: str) -> Annotation | None:
        return next((a for a in self.annotations if a.name == name), None)


@dataclass(frozen=True)
class JavaClass:
    name: str  # binary name
    abstract: bool
    nested: bool


@dataclass(frozen=True)
class SourceScan:
    tests: tuple[JavaTest, ...]
    classes: tuple[JavaClass, ...]  # every class that declares tests, outermost first


@dataclass
class _Token:
    kind: str
    text: str
    line: int


def _tokens(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    line = 1
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "symbol"
        text = match.group()
        if kind not in ("space", "comment"):
            tokens.append(_Token(kind, text, line))
        line += text.count("\n")
    return tokens


def _literal(text: str) -> str:
    body = text[3:-3] if text.startswith('"""') else text[1:-1]
    out: list[str] = []
    chars = iter(body)
    for char in chars:
        if char == "\\":
            escaped = next(chars, "")
            out.append(_ESCAPES.get(escaped, escaped))
        else:
            out.append(char)
    return "".join(out)


class _Parser:
    def __init__(self, source: str, filename: str) -> None:
        self.tokens = _tokens(source)
        self.filename = filename
        self.pos = 0

    def error(self, message: str) -> JavaSourceError:
        line = self.tokens[min(self.pos, len(self.tokens) - 1)].line if self.tokens else 1
        return JavaSourceError(f"{self.filename}:{line}: {message}")

    def peek(self, offset: int = 0) -> _Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def annotation(self) -> Annotation:
        """At ``@``: the annotation and its values (literal ones only)."""
        self.pos += 1
        parts = []
        while (token := self.peek()) is not None and token.kind == "word":
            parts.append(token.text)
            self.pos += 1
            if (dot := self.peek()) is not None and dot.text == "." and self._word_at(1):
                self.pos += 1
            else:
                break
        if not parts:
            raise self.error("an annotation without a name")
        name = parts[-1]
        values: dict[str, str | float] = {}
        if (token := self.peek()) is not None and token.text == "(":
            values = self._values(name)
        return Annotation(name, values)

    def _word_at(self, offset: int) -> bool:
        token = self.peek(offset)
        return token is not None and token.kind == "word"

    def _values(self, name: str) -> dict[str, str | float]:
        """``( key = value, ... )`` or ``( value )``; non-literal values are skipped."""
        start = self.pos
        depth = 0
        while (token := self.peek()) is not None:
            depth += token.text == "("
            depth -= token.text == ")"
            self.pos += 1
            if depth == 0:
                break
        else:
            raise self.error(f"@{name}( is not closed")
        inner = self.tokens[start + 1 : self.pos - 1]
        values: dict[str, str | float] = {}
        for part in _split_commas(inner):
            key, expression = "value", part
            if len(part) > 2 and part[0].kind == "word" and part[1].text == "=":
                key, expression = part[0].text, part[2:]
            value = _constant(expression)
            if value is not None:
                values[key] = value
        return values


def _split_commas(tokens: list[_Token]) -> list[list[_Token]]:
    parts: list[list[_Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text in "({[":
            depth += 1
        elif token.text in ")}]":
            depth -= 1
        if token.text == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(token)
    return [p for p in parts if p]


def _constant(tokens: list[_Token]) -> str | float | None:
    """A string (concatenated with ``+``) or a number; ``None`` for anything else."""
    if len(tokens) == 1 and tokens[0].kind == "number":
        try:
            return float(tokens[0].text.rstrip("dDfFlL").replace("_", ""))
        except ValueError:
            return None
    if len(tokens) == 2 and tokens[0].text == "-" and tokens[1].kind == "number":
        value = _constant(tokens[1:])
        return -value if isinstance(value, float) else None
    texts = tokens[::2]
    pluses = tokens[1::2]
    strings = texts and all(t.kind == "text" and t.text[0] == '"' for t in texts)
    if strings and all(p.text == "+" for p in pluses):
        return "".join(_literal(t.text) for t in texts)
    return None


def scan(source: str, filename: str) -> SourceScan:
    """Every test method of ``source`` (a ``.java`` file), in source order."""
    parser = _Parser(source, filename)
    package = ""
    tests: list[JavaTest] = []
    classes: dict[str, JavaClass] = {}
    # one frame per open brace: the binary class name it opens, or None for any other block
    braces: list[str | None] = []
    pending: list[Annotation] = []
    declared: tuple[str, bool] | None = None  # a type declared, its body's brace not yet seen
    modifiers: set[str] = set()
    in_statement = False  # an ``=`` since the last ; { } at class level: not a declaration
    while (token := parser.peek()) is not None:
        in_class = bool(braces) and braces[-1] is not None
        if token.text == "@" and (after := parser.peek(1)) is not None:
            if after.text == "interface":
                parser.pos += 1
                continue
            pending.append(parser.annotation())
            continue
        parser.pos += 1
        if token.kind == "word" and token.text == "package" and not braces:
            names = []
            while (part := parser.peek()) is not None and part.text != ";":
                names.append(part.text)
                parser.pos += 1
            package = "".join(names)
            continue
        if token.kind == "word" and token.text in TYPE_WORDS and not in_statement:
            name_token = parser.peek()
            if name_token is not None and name_token.kind == "word":
                outer = next((b for b in reversed(braces) if b is not None), None)
                if outer is None:
                    binary = f"{package}.{name_token.text}" if package else name_token.text
                else:
                    binary = f"{outer}${name_token.text}"
                declared = (binary, "abstract" in modifiers or token.text == "interface")
                parser.pos += 1
            continue
        if token.text == "{":
            if declared is not None:
                braces.append(declared[0])
                classes.setdefault(
                    declared[0], JavaClass(declared[0], declared[1], nested=len(braces) > 1)
                )
                declared = None
            else:
                braces.append(None)
                _skip_block(parser, braces)
            pending, modifiers, in_statement = [], set(), False
            continue
        if token.text == "}":
            if not braces:
                raise parser.error("an unmatched }")
            braces.pop()
            pending, modifiers, in_statement = [], set(), False
            continue
        if token.text == ";":
            pending, modifiers, in_statement = [], set(), False
            continue
        if token.text == "=":
            in_statement = True
            continue
        if token.kind == "word" and declared is None:
            modifiers.add(token.text)
            following = parser.peek()
            is_call = following is not None and following.text == "("
            if in_class and is_call and not in_statement:
                marks = {a.name for a in pending}
                owner = braces[-1]
                if owner is not None and marks & TEST_ANNOTATIONS and not marks & OFF_ANNOTATIONS:
                    tests.append(JavaTest(owner, token.text, token.line, tuple(pending)))
                pending = []
    if braces:
        raise parser.error("a { is not closed")
    owners = {t.class_name for t in tests}
    return SourceScan(tuple(tests), tuple(c for c in classes.values() if c.name in owners))


def _skip_block(parser: _Parser, braces: list[str | None]) -> None:
    """Skip a method body or initializer (its braces), which declares no test methods.

    Local and anonymous classes inside a body are never test classes JUnit runs.
    """
    depth = 1
    while (token := parser.peek()) is not None:
        parser.pos += 1
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth -= 1
            if depth == 0:
                braces.pop()
                return
    raise parser.error("a { is not closed")
