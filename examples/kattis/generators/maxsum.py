"""Writes data/ of Best Stretch (deterministic): python3 examples/kattis/generators/maxsum.py"""

import random
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "maxsum" / "data"


def best(gains: list[int]) -> int:
    best_sum, current = gains[0], 0
    for gain in gains:
        current = max(gain, current + gain)
        best_sum = max(best_sum, current)
    return best_sum


def write(path: Path, gains: list[int]) -> None:
    path.with_suffix(".in").write_text(f"{len(gains)}\n{' '.join(map(str, gains))}\n")
    path.with_suffix(".ans").write_text(f"{best(gains)}\n")


rng = random.Random(16)  # noqa: S311 (test data, not secrets)
write(DATA / "sample" / "1", [3, -4, 5, -1, 2, -7, 4])
write(DATA / "sample" / "2", [-5, -2, -9])
groups = {
    "group1": [(1, 10), (10, 10), (100, 10), (100, 10**9)],
    "group2": [(1000, 10**6), (1000, 10**9), (999, 10**9)],
    "group3": [(50000, 10**9), (50000, 10**9), (49999, 1000)],
}
for group, cases in groups.items():
    for number, (n, size) in enumerate(cases, 1):
        gains = [rng.randint(-size, size) for _ in range(n)]
        if number == 2:
            gains = [-abs(g) - 1 for g in gains]  # all negative: the best is one stretch
        write(DATA / "secret" / group / f"{number:02d}", gains)
