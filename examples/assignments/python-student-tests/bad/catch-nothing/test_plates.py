from plates import is_valid


def test_valid():
    assert is_valid("CS50")
    assert is_valid("HELLO")
