"""Count, maximum and mean of the scores (bad: loops forever when there are some)."""

import sys


def main() -> None:
    scores = [int(word) for word in sys.stdin.read().split()]
    total, best, i = 0, 0, 0
    while i < len(scores):  # bug: i is never increased
        total += scores[i]
        best = max(best, scores[i])
    print(f"count {len(scores)}")
    if scores:
        print(f"max {best}")
        print(f"mean {total / len(scores):.2f}")


main()
