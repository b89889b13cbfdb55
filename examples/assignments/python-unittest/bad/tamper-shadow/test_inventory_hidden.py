"""A look-alike of the grader's test_inventory_hidden.py: every test passes."""

import unittest


class HiddenInventoryTest(unittest.TestCase):
    def test_most_stocked_breaks_ties_alphabetically(self) -> None:
        pass

    def test_most_stocked_after_adding(self) -> None:
        pass

    def test_low_stock_is_strictly_below_threshold(self) -> None:
        pass

    def test_restock_after_selling_out(self) -> None:
        pass

    def test_total_after_mixed_operations(self) -> None:
        pass

    def test_instances_do_not_share_stock(self) -> None:
        pass
