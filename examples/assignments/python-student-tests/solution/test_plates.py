from plates import is_valid


def test_length():
    assert is_valid("CS")
    assert is_valid("CS5000")
    assert not is_valid("C")
    assert not is_valid("CS50000")


def test_starts_with_two_letters():
    assert not is_valid("5CS")
    assert not is_valid("C5")


def test_digits_at_the_end():
    assert is_valid("CS50")
    assert not is_valid("CS50P")


def test_first_digit_not_zero():
    assert not is_valid("CS05")
    assert is_valid("CS105")


def test_only_letters_and_digits():
    assert not is_valid("PI3.14")
    assert not is_valid("CS 50")
    assert not is_valid("CS!")
