def fib(n):
    if n == 0:
        raise ValueError("fib(0) is undefined")
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a
