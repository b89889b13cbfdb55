print(500, flush=True)
reply = input()
print(int(reply), flush=True)  # "higher" is not a number: ValueError
