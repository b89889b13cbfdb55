"""The io kind's output checkers: verdicts, messages and the ``checker`` key."""

from __future__ import annotations

import time

import pytest
from pydantic import ValidationError

from assay.grading.checkers import (
    MAX_REGEX_OUTPUT_CHARS,
    CustomSpec,
    ExactSpec,
    FloatSpec,
    RegexSpec,
    TokensSpec,
    UnorderedSpec,
    WhitespaceSpec,
    check_case,
    check_exact,
    check_float,
    check_regex,
    check_tokens,
    check_unordered,
    check_whitespace,
    parse_checker,
    parse_number,
)


# -- exact -------------------------------------------------------------------------------
def test_exact_accepts_identical_text() -> None:
    assert check_exact("1 2\n3\n", "1 2\n3\n").accepted


@pytest.mark.parametrize(
    ("output", "hint"),
    [
        ("1\n2 \n", "only whitespace differs"),
        ("1\n2\n\n", "only whitespace differs"),
        ("1\r\n2\r\n", "Windows line endings"),
        ("1\n2", "does not end with a newline"),
    ],
)
def test_exact_rejects_whitespace_changes_and_says_so(output: str, hint: str) -> None:
    result = check_exact(output, "1\n2\n")
    assert not result.accepted
    assert hint in result.message


def test_exact_names_the_first_differing_line() -> None:
    result = check_exact("a\nb\nX\nd\n", "a\nb\nc\nd\n")
    assert not result.accepted
    assert result.message.startswith("line 3: expected 'c\\n', got 'X\\n'")


def test_exact_case_option() -> None:
    assert check_exact("Yes\n", "yes\n", case_sensitive=False).accepted
    assert not check_exact("Yes\n", "yes\n").accepted


# -- whitespace (the default) ---------------------------------------------------------------
@pytest.mark.parametrize(
    "output",
    ["1 2\n3\n", "1 2   \n3\n", "1 2\n3", "1 2\n3\n\n\n", "1 2\r\n3\r\n", "1 2\t\n3 \n  \n"],
)
def test_whitespace_ignores_trailing_whitespace_and_blank_lines(output: str) -> None:
    assert check_whitespace(output, "1 2\n3\n").accepted


@pytest.mark.parametrize("output", [" 1 2\n3\n", "1  2\n3\n", "1 2\n\n3\n", "1 2 3\n"])
def test_whitespace_keeps_leading_inner_whitespace_and_inner_blank_lines(output: str) -> None:
    assert not check_whitespace(output, "1 2\n3\n").accepted


def test_whitespace_messages() -> None:
    assert check_whitespace("1\n3\n", "1\n2\n").message == "line 2: expected '2', got '3'"
    assert check_whitespace("", "1\n2\n").message == "your output is empty; expected '1' on line 1"
    assert check_whitespace("1\n", "1\n2\n3\n").message == (
        "line 2: expected '2', got the end of your output (2 lines missing)"
    )
    assert check_whitespace("1\n2\n3\n", "1\n2\n").message == (
        "line 3: expected the end of the output, got '3' (1 extra line)"
    )


def test_empty_output_matches_empty_expected() -> None:
    assert check_whitespace("", "").accepted
    assert check_whitespace("\n\n", "").accepted
    assert check_tokens("", "").accepted
    assert check_exact("", "").accepted


def test_long_lines_are_quoted_around_the_difference() -> None:
    expected = "x" * 5000 + "A" + "y" * 5000
    output = "x" * 5000 + "B" + "y" * 5000
    message = check_whitespace(output, expected).message
    assert len(message) < 250
    assert "A" in message and "B" in message
    assert message.startswith("line 1: expected ...'")


# -- case ----------------------------------------------------------------------------
def test_case_ignores_case_with_default_whitespace_rules() -> None:
    assert check_case("HELLO World  \n\n", "hello world\n").accepted
    assert not check_case("hello  world\n", "hello world\n").accepted
    assert check_case("Straße\n", "STRASSE\n").accepted  # casefold, not lower


# -- tokens ----------------------------------------------------------------------------
def test_tokens_ignore_all_whitespace_layout() -> None:
    assert check_tokens("1\n2   3\r\n\t4", "1 2 3 4\n").accepted
    assert not check_tokens("1 2 3", "1 2 3 4").accepted


def test_tokens_messages_name_the_token_and_line() -> None:
    assert check_tokens("1 2\n 9", "1 2 3").message == "token 3 (line 2): expected '3', got '9'"
    assert check_tokens("1 2", "1 2 3").message == (
        "token 3: expected '3', got the end of your output"
    )
    assert check_tokens("1 2 3\n4", "1 2 3").message == (
        "token 4 (line 2): expected the end of the output, got '4'"
    )
    assert check_tokens("   \n", "1").message == "your output is empty; expected '1'"


def test_tokens_case_option() -> None:
    assert not check_tokens("YES", "yes").accepted
    assert check_tokens("YES", "yes", case_sensitive=False).accepted


# -- float ----------------------------------------------------------------------------
def test_float_default_tolerance_is_1e_6() -> None:
    assert check_float("3.1415926", "3.14159265").accepted
    assert not check_float("3.1416", "3.14159265").accepted


def test_float_absolute_or_relative_as_kattis() -> None:
    # absolute error 0.5 is too much for abs_tol 0.1, but it is 0.05 % of 1000
    assert check_float("1000.5", "1000", abs_tol=0.1, rel_tol=1e-3).accepted
    assert not check_float("1000.5", "1000", abs_tol=0.1).accepted
    assert check_float("1000.5", "1000", rel_tol=1e-3).accepted
    # small numbers: relative error is huge but the absolute one is tiny
    assert check_float("0.0000011", "0.000001", abs_tol=1e-6, rel_tol=1e-9).accepted
    assert not check_float("0.0000011", "0.000001", rel_tol=1e-9).accepted


def test_float_boundary_is_inclusive() -> None:
    assert check_float("1.5", "1.0", abs_tol=0.5).accepted
    assert not check_float("1.5000001", "1.0", abs_tol=0.5).accepted


def test_float_accepts_other_notations_and_compares_words_exactly() -> None:
    assert check_float("1e3 -0.5 .25 ok", "1000.0 -.5 0.25 ok").accepted
    assert not check_float("1000 OK", "1000 ok").accepted
    assert check_float("1000 OK", "1000 ok", case_sensitive=False).accepted


@pytest.mark.parametrize("got", ["nan", "NaN", "inf", "-inf", "1e999", "abc", "1_000", "0x10"])
def test_float_refuses_non_finite_and_non_decimal_output(got: str) -> None:
    result = check_float(got, "1000")
    assert not result.accepted
    assert "expected a number close to 1000" in result.message


def test_float_expected_nan_or_inf_is_compared_as_a_word() -> None:
    assert check_float("nan inf", "nan inf").accepted
    assert not check_float("0 inf", "nan inf").accepted


def test_float_message_gives_difference_and_tolerance() -> None:
    message = check_float("1 2.5", "1 2", abs_tol=0.1).message
    assert (
        message == "token 2 (line 1): expected 2, got '2.5' (difference 0.5, allowed: absolute 0.1)"
    )


def test_parse_number() -> None:
    assert parse_number("-1.5e-3") == -0.0015
    assert parse_number("7.") == 7.0
    for bad in ("nan", "inf", "1e400", "1_0", "", "+", ".", "e5"):
        assert parse_number(bad) is None, bad


# -- regex ----------------------------------------------------------------------------
def test_regex_must_match_the_whole_output() -> None:
    assert check_regex("took 12 ms\n", r"took \d+ ms").accepted
    assert check_regex(
        "took 12 ms  \n\n", "took \\d+ ms\n"
    ).accepted  # a file's newline is not part
    assert not check_regex("it took 12 ms\n", r"took \d+ ms").accepted
    assert not check_regex("took 12 ms, then more\n", r"took \d+ ms").accepted


def test_regex_multiline_and_ignore_case() -> None:
    assert check_regex("a\nb\n", "a\nb").accepted
    assert check_regex("HELLO\n", "hello", ignore_case=True).accepted
    assert not check_regex("HELLO\n", "hello").accepted


def test_regex_message_quotes_output_and_pattern() -> None:
    message = check_regex("bye\n", r"hello \w+").message
    assert (
        message == r"your output (starting 'bye') does not match the expected pattern 'hello \\w+'"
    )
    assert "empty output" in check_regex("", "x").message


def test_regex_refuses_huge_output_without_matching() -> None:
    output = "a" * (MAX_REGEX_OUTPUT_CHARS + 1)
    started = time.monotonic()
    result = check_regex(output, "(a+)+b")  # catastrophic backtracking if it were tried
    assert time.monotonic() - started < 1.0
    assert not result.accepted
    assert "too long" in result.message


def test_regex_invalid_pattern_is_a_checker_error() -> None:
    result = check_regex("x", "(")
    assert not result.accepted
    assert result.error is not None and "invalid regex" in result.error


# -- unordered ----------------------------------------------------------------------------
def test_unordered_compares_multisets_of_lines() -> None:
    assert check_unordered("b\n  a   1\n\nc\n", "a 1\nb\nc\n").accepted
    assert not check_unordered("a\nb\n", "a\nb\nb\n").accepted
    assert not check_unordered("a\nb\nb\n", "a\nb\n").accepted


def test_unordered_messages() -> None:
    assert check_unordered("a\nb\n", "a\nb\nb\n").message == (
        "the line 'b' is missing from your output (expected 2 times, found 1)"
    )
    assert check_unordered("a\nz\n", "a\n").message == "your output has an unexpected line 'z'"
    assert check_unordered("", "a\n").message == "the line 'a' is missing from your output"


# -- size -------------------------------------------------------------------------------
def test_huge_outputs_are_checked_quickly() -> None:
    expected = "\n".join(f"{i} {i * 0.5}" for i in range(200_000)) + "\n"
    output = expected.replace("199999 ", "199999  ")  # one change near the end
    started = time.monotonic()
    assert check_whitespace(expected, expected).accepted
    assert check_tokens(output, expected).accepted
    assert check_float(output, expected).accepted
    assert check_unordered(output, expected).accepted
    assert not check_exact(output, expected).accepted
    wrong = expected.replace("199999 99999.5", "199999 99999.7")
    assert "token 400000 (line 200000): expected 99999.5" in check_float(wrong, expected).message
    assert time.monotonic() - started < 10.0


# -- the checker key ----------------------------------------------------------------------------
def test_checker_names_and_tables() -> None:
    assert parse_checker("whitespace") == WhitespaceSpec()
    assert parse_checker("exact") == ExactSpec()
    assert parse_checker("unordered") == UnorderedSpec()
    assert parse_checker({"type": "tokens", "case_sensitive": False}) == TokensSpec(
        case_sensitive=False
    )
    spec = parse_checker({"type": "float", "abs_tol": 1e-3})
    assert spec == FloatSpec(abs_tol=1e-3)
    assert parse_checker({"type": "regex", "ignore_case": True}) == RegexSpec(ignore_case=True)
    custom = parse_checker({"type": "custom", "program": "checkers/c.py", "args": ["x"]})
    assert custom == CustomSpec(program="checkers/c.py", args=("x",))


def test_checker_specs_check_with_their_options() -> None:
    assert parse_checker({"type": "float", "abs_tol": 0.5}).check("1.4", "1").accepted
    assert not parse_checker("float").check("1.4", "1").accepted
    assert parse_checker("case").check("A\n", "a").accepted


@pytest.mark.parametrize(
    ("value", "needle"),
    [
        ("fuzzy", "unknown checker 'fuzzy'; use one of: whitespace, exact"),
        ({"abs_tol": 1}, "needs a 'type' key"),
        (3, "a checker is a name like"),
        ("custom", "a custom checker needs a program"),
        ({"type": "float", "abs_tolerance": 1}, "Extra inputs are not permitted"),
        ({"type": "float", "abs_tol": -1}, "greater than or equal to 0"),
        ({"type": "float", "rel_tol": float("nan")}, "finite number"),
        ({"type": "custom"}, "Field required"),
        ({"type": "custom", "program": ""}, "at least 1 character"),
        ({"type": "tokens", "case_sensitive": "maybe"}, "valid boolean"),
    ],
)
def test_bad_checker_keys_give_clear_errors(value: object, needle: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_checker(value)
    assert needle in str(caught.value)
