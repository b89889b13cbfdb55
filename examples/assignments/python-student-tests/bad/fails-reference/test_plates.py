from plates import is_valid


def test_length():
    assert not is_valid("CS50000")


def test_zero():
    assert is_valid("CS05")  # wrong: a plate's first digit cannot be 0
