print(500, flush=True)
answer = input().strip()
if answer != "correct":
    raise RuntimeError("gave up after one guess")
