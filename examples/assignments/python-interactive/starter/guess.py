# Guess the number between 1 and 1000 in at most 10 guesses.
# Print a guess on its own line (and flush!), then read the judge's reply:
# "higher", "lower" or "correct".
print(500, flush=True)
reply = input()
