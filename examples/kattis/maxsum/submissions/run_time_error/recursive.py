# recursion one level per stretch: Python's stack gives out past about 1000


def best_ending(gains, i):
    if i == 0:
        return gains[0], gains[0]
    best, current = best_ending(gains, i - 1)
    current = max(gains[i], current + gains[i])
    return max(best, current), current


n = int(input())
gains = list(map(int, input().split()))
print(best_ending(gains, n - 1)[0])
