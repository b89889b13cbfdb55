"""A small stock-keeping class. Read statement.md, then fill in every method.

Run the visible tests with:  python3 -m unittest -v test_inventory
"""

from __future__ import annotations


class Inventory:
    """How many of each item a shop has in stock."""

    def __init__(self) -> None:
        self._stock: dict[str, int] = {}

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
