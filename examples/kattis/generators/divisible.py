"""Writes data/ of Divisible Subset (deterministic).

Run: python3 examples/kattis/generators/divisible.py. The .ans files hold one right answer
(the validator accepts any)."""

import random
from pathlib import Path

DATA = Path(__file__).resolve().parent.parent / "divisible" / "data"


def answer(values: list[int]) -> list[int]:
    n, seen, total = len(values), {0: 0}, 0
    for i, value in enumerate(values, 1):
        total = (total + value) % n
        if total in seen:
            return list(range(seen[total] + 1, i + 1))
        seen[total] = i
    raise AssertionError("pigeonhole")


def write(path: Path, values: list[int]) -> None:
    chosen = answer(values)
    path.with_suffix(".in").write_text(f"{len(values)}\n{' '.join(map(str, values))}\n")
    path.with_suffix(".ans").write_text(f"{len(chosen)}\n{' '.join(map(str, chosen))}\n")


rng = random.Random(16)  # noqa: S311 (test data, not secrets)
write(DATA / "sample" / "1", [4, 7, 2, 9])
write(DATA / "sample" / "2", [5])
write(DATA / "secret" / "01", [rng.randint(1, 10**9) for _ in range(100)])
write(DATA / "secret" / "02", [1] * 40)  # only all of them: sum 40
write(DATA / "secret" / "03", [rng.randint(1, 10**9) for _ in range(20000)])
write(DATA / "secret" / "04", [20000 * rng.randint(1, 5000) + 1 for _ in range(19999)] + [1])
