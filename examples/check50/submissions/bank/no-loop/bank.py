import sys


def read_amount():
    text = input("Amount: ")
    if text == "quit":
        sys.exit(2)
    return int(text)


def main():
    print(f"Balance: {read_amount()}")


if __name__ == "__main__":
    main()
