"""A small stock-keeping class (bad: raises on unknown items and on an empty shop)."""

from __future__ import annotations


class Inventory:
    """How many of each item a shop has in stock."""

    def __init__(self) -> None:
        self._stock: dict[str, int] = {}

    def add(self, item: str, quantity: int = 1) -> None:
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive integer, got {quantity!r}")
        self._stock[item] = self._stock.get(item, 0) + quantity

    def remove(self, item: str, quantity: int = 1) -> None:
        if not isinstance(quantity, int) or quantity <= 0:
            raise ValueError(f"quantity must be a positive integer, got {quantity!r}")
        have = self._stock[item]
        if quantity > have:
            raise ValueError(f"only {have} of {item!r} in stock, cannot remove {quantity}")
        if quantity == have:
            del self._stock[item]
        else:
            self._stock[item] = have - quantity

    def count(self, item: str) -> int:
        return self._stock[item]  # KeyError for an unknown item

    def __contains__(self, item: object) -> bool:
        return self.count(item) > 0

    def items(self) -> list[str]:
        return sorted(self._stock)

    def total(self) -> int:
        return sum(self._stock.values())

    def most_stocked(self) -> str | None:
        return min(self._stock, key=lambda name: (-self._stock[name], name))

    def low_stock(self, threshold: int) -> list[str]:
        return sorted(name for name, n in self._stock.items() if n < threshold)
