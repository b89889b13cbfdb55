"""inventory.py: answers that compare equal (and unequal) to anything.

A known-bad example for the anti-tamper checks: an assertEqual on one of
these values passes whatever is expected, and so does the complement,
assertNotEqual, which is how the grader notices.
"""

from __future__ import annotations


class Anything(int):
    """An int that is equal and unequal to every value and contains everything."""

    def __eq__(self, other: object) -> bool:
        return True

    def __ne__(self, other: object) -> bool:
        return True

    def __contains__(self, item: object) -> bool:
        return True

    def __hash__(self) -> int:
        return 0


class Inventory:
    """Remembers nothing and answers ``Anything``."""

    def add(self, item: str, quantity: int = 1) -> None:
        if quantity <= 0:
            raise ValueError("quantity must be positive")

    def remove(self, item: str, quantity: int = 1) -> None:
        raise ValueError("nothing to remove")

    def count(self, item: str) -> Anything:
        return Anything()

    def __contains__(self, item: object) -> bool:
        return False

    def items(self) -> Anything:
        return Anything()

    def total(self) -> Anything:
        return Anything()

    def most_stocked(self) -> Anything:
        return Anything()

    def low_stock(self, threshold: int) -> Anything:
        return Anything()
