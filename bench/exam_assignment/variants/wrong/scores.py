"""Count, maximum and mean of the scores (bad: fails on no scores at all)."""

import sys


def main() -> None:
    scores = [int(word) for word in sys.stdin.read().split()]
    print(f"count {len(scores)}")
    print(f"max {max(scores)}")  # bug: max() of nothing raises ValueError
    print(f"mean {sum(scores) / len(scores):.2f}")


main()
