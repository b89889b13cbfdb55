"""Visible spec tests for inventory.py (students get this file with the starter)."""

import unittest

from inventory import Inventory


class InventoryTest(unittest.TestCase):
    def setUp(self) -> None:
        self.inv = Inventory()

    def test_new_inventory_is_empty(self) -> None:
        self.assertEqual(self.inv.items(), [])
        self.assertEqual(self.inv.total(), 0)

    def test_add_then_count(self) -> None:
        self.inv.add("apple", 3)
        self.inv.add("apple", 2)
        self.assertEqual(self.inv.count("apple"), 5)

    def test_unknown_item_counts_zero(self) -> None:
        self.assertEqual(self.inv.count("pear"), 0)

    def test_contains_added_item(self) -> None:
        self.inv.add("apple")
        self.assertIn("apple", self.inv)

    def test_item_gone_after_removing_all(self) -> None:
        self.inv.add("apple", 2)
        self.inv.remove("apple", 2)
        self.assertNotIn("apple", self.inv.items())

    def test_removing_too_many_raises_and_keeps_stock(self) -> None:
        self.inv.add("apple", 3)
        with self.assertRaises(ValueError):
            self.inv.remove("apple", 4)
        self.assertEqual(self.inv.count("apple"), 3)

    def test_items_are_sorted(self) -> None:
        for name in ("cherry", "apple", "banana"):
            self.inv.add(name)
        self.assertEqual(self.inv.items(), ["apple", "banana", "cherry"])

    def test_most_stocked_of_empty_is_none(self) -> None:
        self.assertIsNone(self.inv.most_stocked())

    def test_total_is_an_int(self) -> None:
        self.inv.add("apple", 2)
        self.inv.add("pear", 5)
        self.assertIsInstance(self.inv.total(), int)

    def test_add_rejects_non_positive_quantities(self) -> None:
        for bad in (0, -1):
            with self.assertRaises(ValueError):
                self.inv.add("apple", bad)
        self.assertFalse(
            "apple" in self.inv,
            msg="a rejected add must not create the item",
        )


if __name__ == "__main__":
    unittest.main()
