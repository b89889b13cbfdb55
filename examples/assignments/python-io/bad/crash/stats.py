"""Summary statistics of exam scores (bad: assumes well-formed, non-empty input)."""

import sys


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        with open(argv[1], encoding="utf-8") as source:
            text = source.read()
    else:
        text = sys.stdin.read()
    scores = [int(token) for token in text.split()]
    # min() of an empty list raises ValueError: the program dies with a traceback
    low, high = min(scores), max(scores)
    print(f"count {len(scores)}")
    print(f"min {low}")
    print(f"max {high}")
    print(f"mean {sum(scores) / len(scores):.2f}")
    print(f"passed {sum(1 for s in scores if s >= 50)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
