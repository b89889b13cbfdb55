"""Count, maximum and mean of the scores on standard input."""

import sys


def main() -> None:
    scores = [int(word) for word in sys.stdin.read().split()]
    print(f"count {len(scores)}")
    if scores:
        print(f"max {max(scores)}")
        print(f"mean {sum(scores) / len(scores):.2f}")


main()
