from plates import is_valid


def test_example():
    assert is_valid("CS50")
