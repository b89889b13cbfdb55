"""Summary statistics of exam scores (wrong: 50 does not count as a pass)."""

import sys

PASS_MARK = 50


def parse_scores(text: str) -> list[int]:
    """The scores in ``text``; raises ValueError naming the first invalid token."""
    scores = []
    for token in text.split():
        try:
            value = int(token)
        except ValueError:
            raise ValueError(token) from None
        if not 0 <= value <= 100:
            raise ValueError(token)
        scores.append(value)
    return scores


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        with open(argv[1], encoding="utf-8") as source:
            text = source.read()
    else:
        text = sys.stdin.read()
    try:
        scores = parse_scores(text)
    except ValueError as exc:
        print(f"error: invalid score {exc}")
        return 1
    print(f"count {len(scores)}")
    if scores:
        print(f"min {min(scores)}")
        print(f"max {max(scores)}")
        print(f"mean {sum(scores) / len(scores):.2f}")
        print(f"passed {sum(1 for s in scores if s > PASS_MARK)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
