n = int(input())
values = list(map(int, input().split()))
seen = {0: 0}
total = 0
for i, value in enumerate(values, 1):
    total = (total + value) % n
    if total in seen:
        chosen = range(seen[total] + 1, i + 1)
        print(len(chosen))
        print(*chosen)
        break
    seen[total] = i
