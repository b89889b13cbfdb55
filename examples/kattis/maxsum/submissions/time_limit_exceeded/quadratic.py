# every start and end: fine for groups 1 and 2, far too slow for group 3
n = int(input())
gains = list(map(int, input().split()))
best = gains[0]
for start in range(n):
    total = 0
    for end in range(start, n):
        total += gains[end]
        best = max(best, total)
print(best)
