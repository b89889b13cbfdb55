"""Summary statistics of exam scores (bad: reading a file never ends)."""

import sys

PASS_MARK = 50


def read_file(name: str) -> str:
    parts = []
    with open(name, encoding="utf-8") as source:
        while True:
            line = source.readline()
            if line is None:  # bug: readline() returns "" at the end, never None
                break
            if line.strip():
                parts.append(line.strip())
    return " ".join(parts)


def main(argv: list[str]) -> int:
    text = read_file(argv[1]) if len(argv) > 1 else sys.stdin.read()
    scores = []
    for token in text.split():
        value = int(token) if token.isdigit() else -1
        if not 0 <= value <= 100:
            print(f"error: invalid score {token}")
            return 1
        scores.append(value)
    print(f"count {len(scores)}")
    if scores:
        print(f"min {min(scores)}")
        print(f"max {max(scores)}")
        print(f"mean {sum(scores) / len(scores):.2f}")
        print(f"passed {sum(1 for s in scores if s >= PASS_MARK)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
