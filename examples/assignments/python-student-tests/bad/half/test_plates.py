from plates import is_valid


def test_length():
    assert not is_valid("CS50000")


def test_digits_at_the_end():
    assert not is_valid("CS50P")
