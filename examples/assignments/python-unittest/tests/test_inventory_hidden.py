"""Hidden spec tests for inventory.py (never shown to students)."""

import unittest

from inventory import Inventory


class HiddenInventoryTest(unittest.TestCase):
    def test_most_stocked_breaks_ties_alphabetically(self) -> None:
        inv = Inventory()
        inv.add("cherry", 4)
        inv.add("banana", 4)
        inv.add("apple", 1)
        self.assertEqual(inv.most_stocked(), "banana")

    def test_most_stocked_after_adding(self) -> None:
        inv = Inventory()
        inv.add("kiwi")
        self.assertIsNotNone(inv.most_stocked())

    def test_low_stock_is_strictly_below_threshold(self) -> None:
        inv = Inventory()
        inv.add("lime", 1)
        inv.add("kiwi", 2)
        inv.add("plum", 3)
        self.assertEqual(
            inv.low_stock(3),
            ["kiwi", "lime"],
            msg="SECRET-HIDDEN-CHECK low stock means strictly below the threshold",
        )

    def test_restock_after_selling_out(self) -> None:
        inv = Inventory()
        inv.add("fig", 2)
        inv.remove("fig", 2)
        inv.add("fig", 4)
        self.assertEqual(inv.count("fig"), 4)

    def test_total_after_mixed_operations(self) -> None:
        inv = Inventory()
        inv.add("apple", 10)
        inv.add("pear", 9)
        inv.remove("apple", 2)
        self.assertEqual(inv.total(), 17)

    def test_instances_do_not_share_stock(self) -> None:
        first, second = Inventory(), Inventory()
        first.add("date", 5)
        self.assertEqual(second.count("date"), 0)


if __name__ == "__main__":
    unittest.main()
