"""A look-alike of the grader's test_inventory.py: every test passes."""

import unittest


class InventoryTest(unittest.TestCase):
    def test_new_inventory_is_empty(self) -> None:
        pass

    def test_add_then_count(self) -> None:
        pass

    def test_unknown_item_counts_zero(self) -> None:
        pass

    def test_contains_added_item(self) -> None:
        pass

    def test_item_gone_after_removing_all(self) -> None:
        pass

    def test_removing_too_many_raises_and_keeps_stock(self) -> None:
        pass

    def test_items_are_sorted(self) -> None:
        pass

    def test_most_stocked_of_empty_is_none(self) -> None:
        pass

    def test_total_is_an_int(self) -> None:
        pass

    def test_add_rejects_non_positive_quantities(self) -> None:
        pass
