# tries every choice, the smallest first: exponential when only a big one works
from itertools import combinations

n = int(input())
values = list(map(int, input().split()))
for size in range(1, n + 1):
    for chosen in combinations(range(n), size):
        if sum(values[i] for i in chosen) % n == 0:
            print(size)
            print(*(i + 1 for i in chosen))
            raise SystemExit
