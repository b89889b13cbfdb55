def fib(n):
    # your code here
    pass
