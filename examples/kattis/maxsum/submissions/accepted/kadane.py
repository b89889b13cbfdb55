n = int(input())
gains = list(map(int, input().split()))
best, current = gains[0], 0
for gain in gains:
    current = max(gain, current + gain)
    best = max(best, current)
print(best)
