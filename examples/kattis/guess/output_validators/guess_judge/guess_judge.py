"""Interactive judge of Guess the Number (Kattis convention: exit 42 accepts, 43 rejects).

argv: input_file answer_file feedback_dir [flags]; the submission's output is our stdin,
what we print is its input.
"""

import sys

MAX_GUESSES = 10


def reject(feedback_dir: str, message: str) -> None:
    with open(feedback_dir + "/judgemessage.txt", "w") as f:
        f.write(message + "\n")
    with open(feedback_dir + "/teammessage.txt", "w") as f:
        f.write(message + "\n")
    sys.exit(43)


def main() -> None:
    input_file, _answer_file, feedback_dir = sys.argv[1:4]
    with open(input_file) as f:
        secret = int(f.read().split()[0])
    for guess_number in range(1, MAX_GUESSES + 1):
        line = sys.stdin.readline()
        if not line:
            reject(feedback_dir, f"your program stopped guessing after {guess_number - 1} guesses")
        try:
            guess = int(line.strip())
        except ValueError:
            reject(feedback_dir, f"guess {guess_number} is not a number: {line.strip()[:40]!r}")
        if guess == secret:
            print("correct", flush=True)
            if sys.stdin.read(1):
                reject(feedback_dir, "your program printed more after the correct guess")
            sys.exit(42)
        print("lower" if secret < guess else "higher", flush=True)
    reject(feedback_dir, f"no correct guess in {MAX_GUESSES} guesses")


main()
