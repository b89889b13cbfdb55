"""The judge of "Guess the number" (a Kattis output validator for an interactive problem).

Called as ``validator.py input_file answer_file feedback_dir/``: the input file holds
the secret number; standard input is what the submission writes, standard output
what it reads. Exit 42: accepted, 43: wrong answer. teammessage.txt is shown to
the student, judgemessage.txt to staff only.
"""

import sys

MAX_GUESSES = 10

secret = int(open(sys.argv[1]).read())
feedback = sys.argv[3]


def verdict(code: int, team: str, judge: str = "") -> None:
    with open(feedback + "teammessage.txt", "w") as f:
        f.write(team)
    with open(feedback + "judgemessage.txt", "w") as f:
        f.write(judge or team)
    sys.exit(code)


for turn in range(1, MAX_GUESSES + 1):
    line = sys.stdin.readline()
    if not line:
        verdict(43, "your program stopped before it found the number", f"secret {secret}")
    try:
        guess = int(line)
    except ValueError:
        verdict(43, f"expected a number, got {line.strip()[:40]!r}")
    if guess == secret:
        print("correct", flush=True)
        verdict(42, f"found in {turn} guesses")
    print("higher" if guess < secret else "lower", flush=True)
verdict(43, f"not found in {MAX_GUESSES} guesses", f"the secret was {secret}")
