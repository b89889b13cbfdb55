"""Python asserts decided outside the student's process.

An assert like ``assert(square(3) == 9)`` is split with ``ast``: every
sub-expression that needs the student's code (calls, names, attributes...) is
a *probe*, evaluated in the sandbox; the rest (literals, comparisons, boolean
and arithmetic operators, subscripts and a few pure builtins such as ``len``
and ``sorted``) is evaluated here, on plain values decoded from JSON. The
expected side of an assert therefore never enters the sandbox, and an object
whose ``__eq__`` always says True, an ``os._exit(0)`` or printed pass markers
cannot make an assert pass: a probe's value is a number, string or container,
or the assert fails. See docs/kinds-asserts-script-valgrind.md.
"""

from __future__ import annotations

import ast
import json
import operator
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

PROBE = "__assay_probe_"
MAX_BITS = 1 << 20  # results of ** and << on the host stay below this size
MAX_ITEMS = 1_000_000  # sequence * int on the host stays below this length
SHOWN_CHARS = 200

SAFE_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "abs": abs,
    "all": all,
    "any": any,
    "bool": bool,
    "dict": dict,
    "float": float,
    "frozenset": frozenset,
    "int": int,
    "len": len,
    "list": list,
    "max": max,
    "min": min,
    "round": round,
    "set": set,
    "sorted": sorted,
    "str": str,
    "sum": sum,
    "tuple": tuple,
}
_BINOPS: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.BitOr: operator.or_,
    ast.BitAnd: operator.and_,
    ast.BitXor: operator.xor,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
}
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.Not: operator.not_,
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
_SINGLETONS = (None, True, False, ...)


@dataclass(frozen=True)
class PyAssert:
    """One parsed assert: the host-side expression and the probes it needs."""

    text: str
    expression: ast.expr  # probes replaced by names __assay_probe_<i>
    probes: tuple[str, ...]  # source of each probe, in evaluation order
    message: str | None = None  # the ``assert x, "message"`` part, if it is a literal


def parse_python_assert(text: str) -> PyAssert:
    """Parse ``assert(expr)``, ``assert expr, "msg"`` or a bare expression. Raises ValueError."""
    source = text.strip()
    try:
        tree = ast.parse(source, mode="exec")
    except SyntaxError as exc:
        raise ValueError(f"not valid Python: {exc.msg}") from exc
    if len(tree.body) != 1:
        raise ValueError("write one assert per line")
    statement = tree.body[0]
    message = None
    if isinstance(statement, ast.Assert):
        test = statement.test
        if statement.msg is not None:
            message = str(_literal(statement.msg))
    elif isinstance(statement, ast.Expr):
        test = statement.value
    else:
        raise ValueError("expected an assert or an expression")  # noqa: TRY004 - a parse error
    if isinstance(test, ast.Tuple) and test.elts:
        raise ValueError(
            "assert(x, message) asserts a tuple, which is always true; write: assert x, message"
        )
    probes: list[str] = []
    expression = _split(test, probes)
    return PyAssert(source, expression, tuple(probes), message)


def _literal(node: ast.expr) -> object:
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def _split(node: ast.expr, probes: list[str]) -> ast.expr:
    """``node`` with each part the host cannot evaluate replaced by a probe name."""
    if _host_evaluable(node):
        return _map_children(node, probes)
    probes.append(ast.unparse(node))
    return ast.Name(id=f"{PROBE}{len(probes) - 1}", ctx=ast.Load())


def _host_evaluable(node: ast.expr) -> bool:  # noqa: PLR0911 - one case per node type
    match node:
        case ast.Constant():
            return True
        case ast.List() | ast.Tuple() | ast.Set():
            return not any(isinstance(e, ast.Starred) for e in node.elts)
        case ast.Dict():
            return all(k is not None for k in node.keys)
        case ast.BoolOp() | ast.Subscript() | ast.Slice():
            return True
        case ast.UnaryOp():
            return type(node.op) in _UNARY
        case ast.BinOp():
            return type(node.op) in _BINOPS
        case ast.Compare():
            operands = [node.left, *node.comparators]
            for index, op in enumerate(node.ops):
                if isinstance(op, ast.Is | ast.IsNot) and not (
                    _singleton(operands[index]) or _singleton(operands[index + 1])
                ):
                    return False  # identity of two computed objects: only the sandbox knows
            return True
        case ast.Call(func=ast.Name(id=name), keywords=[]):
            return name in SAFE_FUNCTIONS and not any(isinstance(a, ast.Starred) for a in node.args)
        case _:
            return False


def _singleton(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and any(node.value is s for s in _SINGLETONS)


def _map_children(node: ast.expr, probes: list[str]) -> ast.expr:  # noqa: PLR0911 - per node type
    """A copy of a host node whose children are split in Python's evaluation order."""

    def sub(child: ast.expr | None) -> Any:
        return None if child is None else _split(child, probes)

    match node:
        case ast.Constant():
            return node
        case ast.List():
            return ast.List(elts=[sub(e) for e in node.elts], ctx=ast.Load())
        case ast.Tuple():
            return ast.Tuple(elts=[sub(e) for e in node.elts], ctx=ast.Load())
        case ast.Set():
            return ast.Set(elts=[sub(e) for e in node.elts])
        case ast.Dict():
            keys, values = [], []
            for key, value in zip(node.keys, node.values, strict=True):
                keys.append(sub(key))
                values.append(sub(value))
            return ast.Dict(keys=keys, values=values)
        case ast.BoolOp():
            return ast.BoolOp(op=node.op, values=[sub(v) for v in node.values])
        case ast.UnaryOp():
            return ast.UnaryOp(op=node.op, operand=sub(node.operand))
        case ast.BinOp():
            left = sub(node.left)
            return ast.BinOp(left=left, op=node.op, right=sub(node.right))
        case ast.Compare():
            left = sub(node.left)
            return ast.Compare(
                left=left, ops=node.ops, comparators=[sub(c) for c in node.comparators]
            )
        case ast.Subscript():
            value = sub(node.value)
            return ast.Subscript(value=value, slice=sub(node.slice), ctx=ast.Load())
        case ast.Slice():
            lower, upper = sub(node.lower), sub(node.upper)
            return ast.Slice(lower=lower, upper=upper, step=sub(node.step))
        case ast.Call():
            return ast.Call(func=node.func, args=[sub(a) for a in node.args], keywords=[])
    raise AssertionError(f"not a host node: {ast.dump(node)}")


# -- the values probes sent back ---------------------------------------------------------
@dataclass(frozen=True)
class ProbeRaised:
    """A probe raised (or returned something that cannot leave the sandbox)."""

    message: str


class StudentError(Exception):
    """Evaluating the assert needed a probe that raised."""


def decode_value(data: Any, depth: int = 0) -> Any:
    """A value from the driver's tagged JSON. Raises ValueError on anything else."""
    if depth > 200:
        raise ValueError("nested too deeply")
    if data is None or isinstance(data, bool | str):
        return data
    if isinstance(data, int):
        return data
    if isinstance(data, dict) and len(data) == 1:
        ((tag, inner),) = data.items()
        return _decode_tagged(tag, inner, depth)
    raise ValueError(f"not an encoded value: {type(data).__name__}")


def _decode_tagged(tag: str, inner: Any, depth: int) -> Any:  # noqa: PLR0911 - one per tag
    if tag == "int" and isinstance(inner, str):
        return int(inner)
    if tag == "float" and isinstance(inner, str):
        return float.fromhex(inner)
    if tag == "complex" and isinstance(inner, list) and len(inner) == 2:
        return complex(float.fromhex(str(inner[0])), float.fromhex(str(inner[1])))
    if tag == "bytes" and isinstance(inner, str):
        return bytes.fromhex(inner)
    if isinstance(inner, list):
        items = [decode_value(v, depth + 1) for v in inner] if tag != "dict" else []
        match tag:
            case "list":
                return items
            case "tuple":
                return tuple(items)
            case "set":
                return set(items)
            case "frozenset":
                return frozenset(items)
            case "dict":
                pairs = [p for p in inner if isinstance(p, list) and len(p) == 2]
                if len(pairs) != len(inner):
                    raise ValueError("malformed dict")
                return {decode_value(k, depth + 1): decode_value(v, depth + 1) for k, v in pairs}
    raise ValueError(f"unknown value tag {tag!r}")


def evaluate(parsed: PyAssert, values: list[Any | ProbeRaised]) -> tuple[bool, str]:
    """Decide the assert on the host. Returns (passed, why-not)."""
    try:
        result = _eval(parsed.expression, values)
        passed = bool(result)
    except StudentError as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - any error on plain values is the assert failing
        return False, f"{type(exc).__name__}: {exc}"
    if passed:
        return True, ""
    return False, describe_failure(parsed, values)


def describe_failure(parsed: PyAssert, values: list[Any | ProbeRaised]) -> str:
    lines = [parsed.message or "the assert is false"]
    for source, value in zip(parsed.probes, values, strict=True):
        if not isinstance(value, ProbeRaised):
            lines.append(f"  {_short(source)} is {_short(repr(value))}")
    return "\n".join(lines)


def expected_actual(parsed: PyAssert, values: list[Any | ProbeRaised]) -> tuple[str, str] | None:
    """For ``probe == expected`` (either order): the two sides as text."""
    node = parsed.expression
    if not (
        isinstance(node, ast.Compare) and len(node.ops) == 1 and isinstance(node.ops[0], ast.Eq)
    ):
        return None
    left, right = node.left, node.comparators[0]
    for probe_side, other in ((left, right), (right, left)):
        index = _probe_index(probe_side)
        if index is not None and not _uses_probes(other):
            value = values[index]
            if isinstance(value, ProbeRaised):
                return None
            try:
                expected = _eval(other, values)
            except Exception:  # noqa: BLE001 - the message simply goes without it
                return None
            return _short(repr(expected)), _short(repr(value))
    return None


def _probe_index(node: ast.expr) -> int | None:
    if isinstance(node, ast.Name) and node.id.startswith(PROBE):
        return int(node.id[len(PROBE) :])
    return None


def _uses_probes(node: ast.expr) -> bool:
    return any(isinstance(n, ast.Name) and n.id.startswith(PROBE) for n in ast.walk(node))


def _short(text: str) -> str:
    return text if len(text) <= SHOWN_CHARS else text[:SHOWN_CHARS] + "..."


def _eval(node: ast.expr, values: list[Any | ProbeRaised]) -> Any:  # noqa: PLR0911 - per node type
    def ev(child: ast.expr) -> Any:
        return _eval(child, values)

    match node:
        case ast.Name(id=name) if name.startswith(PROBE):
            value = values[int(name[len(PROBE) :])]
            if isinstance(value, ProbeRaised):
                raise StudentError(value.message)
            return value
        case ast.Constant(value=value):
            return value
        case ast.List(elts=elts):
            return [ev(e) for e in elts]
        case ast.Tuple(elts=elts):
            return tuple(ev(e) for e in elts)
        case ast.Set(elts=elts):
            return {ev(e) for e in elts}
        case ast.Dict(keys=keys, values=items):
            return {ev(k): ev(v) for k, v in zip(keys, items, strict=True) if k is not None}
        case ast.BoolOp(op=op, values=operands):
            result: Any = None
            for operand in operands:  # short-circuits like Python
                result = ev(operand)
                if bool(result) is isinstance(op, ast.Or):
                    return result
            return result
        case ast.UnaryOp(op=op, operand=operand):
            return _UNARY[type(op)](ev(operand))
        case ast.BinOp(left=left, op=op, right=right):
            return _binop(op, ev(left), ev(right))
        case ast.Compare(left=left, ops=ops, comparators=comparators):
            current = ev(left)
            for cmp, comparator in zip(ops, comparators, strict=True):
                other = ev(comparator)
                if not _COMPARE[type(cmp)](current, other):
                    return False
                current = other
            return True
        case ast.Subscript(value=value, slice=index):
            return ev(value)[ev(index)]
        case ast.Slice(lower=lower, upper=upper, step=step):
            return slice(*(None if p is None else ev(p) for p in (lower, upper, step)))
        case ast.Call(func=ast.Name(id=name), args=args):
            return SAFE_FUNCTIONS[name](*(ev(a) for a in args))
    raise AssertionError(f"not a host node: {ast.dump(node)}")


def _binop(op: ast.operator, left: Any, right: Any) -> Any:
    """Python's operator, refused where plain values could blow up the grading host."""
    numbers = (int, float, complex)
    if (
        isinstance(op, ast.Pow)
        and isinstance(left, int)
        and isinstance(right, int)
        and right > 0
        and abs(left).bit_length() * right > MAX_BITS
    ):
        raise OverflowError("the result of ** is too large to compute")
    if isinstance(op, ast.LShift) and isinstance(right, int) and right > MAX_BITS:
        raise OverflowError("the result of << is too large to compute")
    if isinstance(op, ast.Mult):
        for seq, count in ((left, right), (right, left)):
            if (
                isinstance(seq, str | bytes | list | tuple)
                and isinstance(count, int)
                and len(seq) * count > MAX_ITEMS
            ):
                raise OverflowError("the result of * is too large to compute")
    if isinstance(op, ast.Mod) and not (isinstance(left, numbers) and isinstance(right, numbers)):
        raise TypeError("% is only evaluated on numbers in asserts")
    return _BINOPS[type(op)](left, right)


def parse_frame(stdout: bytes, nonce: str) -> dict[str, Any] | None:
    """The driver's frame: the last line of stdout, carrying this run's nonce."""
    lines = stdout.rstrip(b"\n").rsplit(b"\n", 1)
    try:
        frame = json.loads(lines[-1].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        return None
    if not isinstance(frame, dict) or frame.get("nonce") != nonce:
        return None
    return frame


def probe_values(frame: dict[str, Any], count: int) -> list[Any | ProbeRaised] | None:
    raw = frame.get("values")
    if not isinstance(raw, list) or len(raw) != count:
        return None
    out: list[Any | ProbeRaised] = []
    for item in raw:
        if not isinstance(item, dict) or len(item) != 1:
            return None
        ((tag, inner),) = item.items()
        if tag == "value":
            try:
                out.append(decode_value(inner))
            except (ValueError, TypeError, OverflowError, RecursionError):
                return None
        elif tag in ("raised", "unsupported") and isinstance(inner, str):
            out.append(ProbeRaised(_short(inner)))
        else:
            return None
    return out
