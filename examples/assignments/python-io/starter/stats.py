"""Summary statistics of exam scores.

Read the statement (statement.md) first. Run your program with

    python3 stats.py < scores.txt      # scores on standard input
    python3 stats.py scores.txt        # scores in a file
"""

import sys

PASS_MARK = 50


def main(argv: list[str]) -> int:
    # TODO: read the scores (from the file named in argv[1], or from standard input),
    # check that each one is an integer from 0 to 100, and print the summary.
    text = sys.stdin.read()
    print(f"count {len(text.split())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
