"""inventory.py: nothing implemented; the other files of this submission try to
replace the grader's tests and modules with ones that always pass."""

from __future__ import annotations


class Inventory:
    def add(self, item: str, quantity: int = 1) -> None:
        raise NotImplementedError

    def remove(self, item: str, quantity: int = 1) -> None:
        raise NotImplementedError

    def count(self, item: str) -> int:
        raise NotImplementedError

    def __contains__(self, item: object) -> bool:
        raise NotImplementedError

    def items(self) -> list[str]:
        raise NotImplementedError

    def total(self) -> int:
        raise NotImplementedError

    def most_stocked(self) -> str | None:
        raise NotImplementedError

    def low_stock(self, threshold: int) -> list[str]:
        raise NotImplementedError
