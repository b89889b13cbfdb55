# looks up a remainder it never stored: KeyError unless the first prefix works
n = int(input())
values = list(map(int, input().split()))
seen = {}
total = 0
for i, value in enumerate(values, 1):
    total = (total + value) % n
    if total == 0:
        print(i)
        print(*range(1, i + 1))
        break
    seen[total] = seen[total + 1]
