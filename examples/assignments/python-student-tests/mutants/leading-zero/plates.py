"""Vanity plates: a wrong implementation (leading-zero) (never shown to students)."""


def main():
    plate = input("Plate: ")
    print("Valid" if is_valid(plate) else "Invalid")


def is_valid(text):
    """2 to 6 ASCII letters and digits, starting with two letters; digits only at the
    end, the first of them not 0."""
    if not 2 <= len(text) <= 6 or not text.isascii() or not text.isalnum():
        return False
    if not text[:2].isalpha():
        return False
    seen_digit = False
    for char in text:
        if char.isdigit():
            seen_digit = True
        elif seen_digit:
            return False
    return True


if __name__ == "__main__":
    main()
