import sys


def read_amount():
    while True:
        text = input("Amount: ")
        if text == "quit":
            sys.exit(1)
        if text.isdigit() and int(text) > 0:
            return int(text)


def main():
    print(f"Balance: {read_amount()}")


if __name__ == "__main__":
    main()
