# Says more than its guess: the judge expects a number alone on each line.
print("my first guess is 500", flush=True)
print(input())
