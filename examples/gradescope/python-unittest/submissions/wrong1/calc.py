# mean fails on an empty list; is_prime calls 1 prime and misses squares of primes
def add(a, b):
    return a + b


def mean(xs):
    return sum(xs) / len(xs)


def is_prime(n):
    return all(n % d for d in range(2, n // 2))


def fizzbuzz(n):
    out = []
    for i in range(1, n + 1):
        word = ("Fizz" if i % 3 == 0 else "") + ("Buzz" if i % 5 == 0 else "")
        out.append(word or str(i))
    return out
