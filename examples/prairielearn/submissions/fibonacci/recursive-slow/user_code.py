def fib(n):
    # right, but right only for small n: above 20 it answers a wrong value
    if n > 20:
        return -1
    return n if n < 2 else fib(n - 1) + fib(n - 2)
