"""C, C++ and Java sources: calls and imports found by a scan of tokens.

Comments and string/char literals are blanked first (keeping every offset),
so a name inside a string or comment is never a use. A C/C++ call is an
identifier followed by ``(`` inside a function body or a ``#define``; one
followed by a body is a definition of the student's own. Java adds imports,
``new`` and dotted call chains (``Runtime.getRuntime().exec``). This is a
scan, not a parser: for C and C++ the built objects' symbols are the
authority (see ``symbols``).
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from assay.grading.static.rules import Language, Use, UseKind

MAX_MENTIONS = 20_000
_TOKEN = re.compile(r"[A-Za-z_$][\w$]*|\d[\w.']*|::|->|\S")
_IDENT = re.compile(r"[A-Za-z_$][\w$]*\Z")
_INTERESTING = re.compile(r"[/\"']")
_RAW_PREFIX = re.compile(r"(?:u8|[uUL])?R\Z")
_JAVA_IMPORT = re.compile(
    r"\bimport\s+(?:static\s+)?(?P<name>[A-Za-z_$][\w$]*(?:\s*\.\s*[A-Za-z_$][\w$]*)*)"
    r"(?P<star>\s*\.\s*\*)?\s*;"
)
_JAVA_PACKAGES = ("java.", "javax.", "jdk.", "sun.", "com.sun.")
_C_KEYWORDS = frozenset(
    {
        *("if", "while", "for", "switch", "return", "sizeof", "alignof", "_Alignof"),
        *("decltype", "typeof", "__typeof__", "__attribute__", "__declspec", "catch"),
        *("throw", "case", "do", "else", "static_assert", "_Static_assert", "noexcept"),
        *("defined", "asm", "__asm__", "__asm", "requires", "operator", "new", "delete"),
        *("alignas", "_Alignas", "_Generic", "__builtin_offsetof", "offsetof", "va_arg"),
        *("int", "char", "short", "long", "float", "double", "void", "signed", "unsigned"),
        *("bool", "_Bool", "auto", "const", "volatile", "struct", "union", "enum", "static"),
        *("extern", "register", "inline", "typedef", "restrict", "__restrict"),
    }
)
_JAVA_KEYWORDS = frozenset(
    {"if", "while", "for", "switch", "catch", "synchronized", "return", "super", "this", "try"}
)
_CPP_AFTER_PARAMS = frozenset({"const", "noexcept", "override", "final", "->", ":", "&", "&&"})


@dataclass(frozen=True)
class Token:
    text: str
    offset: int


@dataclass(frozen=True)
class CodeScan:
    uses: tuple[Use, ...]
    definitions: frozenset[str]  # functions, methods and macros the file defines
    mentions: Mapping[str, tuple[int, int]] = field(default_factory=dict)  # first (line, col)


def strip_code(text: str, language: Language) -> str:
    """``text`` with comments and string/char literals blanked; offsets and newlines kept."""
    out = list(text)
    i, n = 0, len(text)

    def blank(start: int, end: int) -> None:
        for k in range(start, min(end, n)):
            if out[k] != "\n":
                out[k] = " "

    while i < n:
        found = _INTERESTING.search(text, i)  # jump to the next character that may start one
        if found is None:
            break
        i = found.start()
        c = text[i]
        nxt = text[i + 1] if i + 1 < n else ""
        if c == "/" and nxt == "/":
            end = text.find("\n", i)
            end = n if end < 0 else end
            blank(i, end)
            i = end
        elif c == "/" and nxt == "*":
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            blank(i, end)
            i = end
        elif language is Language.JAVA and text.startswith('"""', i):
            end = text.find('"""', i + 3)
            end = n if end < 0 else end + 3
            blank(i, end)
            i = end
        elif c == '"' and language is Language.CPP and _RAW_PREFIX.search(text[max(0, i - 3) : i]):
            open_paren = text.find("(", i)
            delimiter = text[i + 1 : open_paren] if open_paren >= 0 else ""
            if open_paren < 0 or len(delimiter) > 16:
                end = n
            else:
                end = text.find(")" + delimiter + '"', open_paren)
                end = n if end < 0 else end + len(delimiter) + 2
            blank(i, end)
            i = end
        elif c in "\"'":
            if c == "'" and language is Language.CPP and i > 0 and text[i - 1].isdigit():
                i += 1  # a digit separator: 1'000'000
                continue
            k = i + 1
            while k < n and text[k] != c and text[k] != "\n":
                k += 2 if text[k] == "\\" else 1
            end = min(k + 1, n)
            blank(i, end)
            i = end
        else:
            i += 1
    return "".join(out)


class _Lines:
    def __init__(self, text: str) -> None:
        self.starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, offset: int) -> tuple[int, int]:
        index = bisect.bisect_right(self.starts, offset) - 1
        return index + 1, offset - self.starts[index] + 1


def _directive_lines(stripped: str) -> dict[int, str]:
    """Line number -> directive name (``define``, ``include``...) for preprocessor lines."""
    found: dict[int, str] = {}
    lines = stripped.split("\n")
    number = 0
    while number < len(lines):
        line = lines[number]
        match = re.match(r"\s*#\s*(\w*)", line)
        if not match:
            number += 1
            continue
        name = match.group(1)
        found[number + 1] = name
        while line.rstrip().endswith("\\") and number + 1 < len(lines):
            number += 1
            line = lines[number]
            found[number + 1] = name
        number += 1
    return found


def _tokens(stripped: str) -> list[Token]:
    return [Token(m.group(), m.start()) for m in _TOKEN.finditer(stripped)]


def _matching_parens(tokens: list[Token]) -> dict[int, int]:
    stack: list[int] = []
    match: dict[int, int] = {}
    for index, token in enumerate(tokens):
        if token.text == "(":
            stack.append(index)
        elif token.text == ")" and stack:
            match[stack.pop()] = index
    return match


def _is_ident(text: str) -> bool:
    return bool(_IDENT.match(text))


def scan_c(source: bytes, file: str, language: Language) -> CodeScan:
    """Calls, definitions and mentions of a C or C++ file."""
    text = source.decode("utf-8", errors="replace")
    stripped = strip_code(text, language)
    lines = _Lines(stripped)
    directives = _directive_lines(stripped)
    tokens = [
        t for t in _tokens(stripped) if directives.get(lines.position(t.offset)[0]) != "include"
    ]
    parens = _matching_parens(tokens)
    uses: list[Use] = []
    definitions: set[str] = set()
    mentions: dict[str, tuple[int, int]] = {}
    depth = 0
    for i, token in enumerate(tokens):
        if token.text == "{":
            depth += 1
        elif token.text == "}":
            depth = max(0, depth - 1)
        if not _is_ident(token.text):
            continue
        line, column = lines.position(token.offset)
        member = i > 0 and tokens[i - 1].text in (".", "->")
        if not member and len(mentions) < MAX_MENTIONS:
            mentions.setdefault(token.text, (line, column))
        if i + 1 >= len(tokens) or tokens[i + 1].text != "(" or token.text in _C_KEYWORDS:
            continue
        directive = directives.get(line)
        if directive == "define" and i >= 1 and tokens[i - 1].text == "define":
            definitions.add(token.text)  # a function-like macro
            continue
        if directive is not None and directive != "define":
            continue
        parts, j = [token.text], i
        while (
            j >= 2
            and tokens[j - 1].text == "::"
            and _is_ident(tokens[j - 2].text)
            and tokens[j - 2].text not in _C_KEYWORDS
        ):
            parts.insert(0, tokens[j - 2].text)
            j -= 2
        name = "::".join(parts)
        qualified = j >= 1 and tokens[j - 1].text == "::"  # ::system(...)
        if directive is None and _is_definition(tokens, parens, i + 1, language):
            definitions.add(name)
            definitions.add(token.text)
            continue
        if directive is None and depth == 0:
            continue  # a declaration at file scope
        if member:
            uses.append(Use("." + token.text, UseKind.METHOD, file, line, column))
        else:
            detail = "::" + name if qualified else ""
            uses.append(Use(name, UseKind.CALL, file, line, column, detail))
    return CodeScan(tuple(uses), frozenset(definitions), mentions)


def _is_definition(
    tokens: list[Token], parens: dict[int, int], open_index: int, language: Language
) -> bool:
    close = parens.get(open_index)
    if close is None or close + 1 >= len(tokens):
        return False
    after = tokens[close + 1].text
    if after == "{":
        return True
    if language is not Language.CPP or after not in _CPP_AFTER_PARAMS:
        return False
    for token in tokens[close + 1 : close + 200]:
        if token.text in ("{", ";"):
            return token.text == "{"
    return False


def scan_java(source: bytes, file: str) -> CodeScan:
    """Imports, constructor calls, call chains, qualified names and definitions of a Java file."""
    text = source.decode("utf-8", errors="replace")
    stripped = strip_code(text, Language.JAVA)
    lines = _Lines(stripped)
    uses: list[Use] = []
    import_spans: list[tuple[int, int]] = []
    for match in _JAVA_IMPORT.finditer(stripped):
        name = re.sub(r"\s+", "", match.group("name"))
        line, column = lines.position(match.start())
        detail = f"import {name}.*" if match.group("star") else ""
        uses.append(Use(name, UseKind.IMPORT, file, line, column, detail))
        import_spans.append((match.start(), match.end()))
    tokens = [t for t in _tokens(stripped) if not any(a <= t.offset < b for a, b in import_spans)]
    parens = _matching_parens(tokens)
    definitions: set[str] = set()
    for i, token in enumerate(tokens):
        if not _is_ident(token.text):
            continue
        line, column = lines.position(token.offset)
        if token.text == "new":
            chain = _forward_chain(tokens, i + 1)
            if chain:
                uses.append(Use(chain, UseKind.CALL, file, line, column, detail=f"new {chain}"))
            continue
        if (i > 0 and tokens[i - 1].text == ".") or token.text in _JAVA_KEYWORDS:
            continue
        chain = _forward_chain(tokens, i)
        if chain.startswith(_JAVA_PACKAGES):
            uses.append(Use(chain, UseKind.REFERENCE, file, line, column))
    for i, token in enumerate(tokens):
        if i + 1 >= len(tokens) or tokens[i + 1].text != "(" or not _is_ident(token.text):
            continue
        if token.text in _JAVA_KEYWORDS or (i > 0 and tokens[i - 1].text == "new"):
            continue
        close = parens.get(i + 1)
        if (
            close is not None
            and close + 1 < len(tokens)
            and tokens[close + 1].text in ("{", "throws")
        ):
            definitions.add(token.text)
            continue
        name, known = _backward_chain(tokens, i)
        line, column = lines.position(token.offset)
        if known:
            uses.append(Use(name, UseKind.CALL, file, line, column))
        else:
            uses.append(Use("." + name, UseKind.METHOD, file, line, column))
    return CodeScan(tuple(uses), frozenset(definitions))


def _forward_chain(tokens: list[Token], start: int) -> str:
    parts: list[str] = []
    k = start
    while k < len(tokens) and _is_ident(tokens[k].text):
        parts.append(tokens[k].text)
        if k + 2 < len(tokens) and tokens[k + 1].text == ".":
            k += 2
        else:
            break
    return ".".join(parts)


def _backward_chain(tokens: list[Token], index: int) -> tuple[str, bool]:
    """``Runtime.getRuntime().exec`` for the ``exec`` at ``index``; ``False``: start unknown."""
    parts, j = [tokens[index].text], index
    while j >= 1 and tokens[j - 1].text == ".":
        if j >= 2 and _is_ident(tokens[j - 2].text):
            parts.insert(0, tokens[j - 2].text)
            j -= 2
        elif (
            j >= 4
            and tokens[j - 2].text == ")"
            and tokens[j - 3].text == "("
            and _is_ident(tokens[j - 4].text)
        ):
            parts.insert(0, tokens[j - 4].text)
            j -= 4
        else:
            return ".".join(parts), False
    return ".".join(parts), True
