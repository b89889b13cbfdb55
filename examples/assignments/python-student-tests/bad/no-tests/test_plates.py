from plates import is_valid


def check_valid():  # not a test: pytest collects nothing
    assert is_valid("CS50")
