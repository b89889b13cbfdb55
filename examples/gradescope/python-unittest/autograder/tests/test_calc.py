import importlib
import unittest

from gsutils.decorators import number, partial_credit, tags, visibility, weight


def calc():
    return importlib.import_module("calc")


class TestCalc(unittest.TestCase):
    @weight(2)
    @number("1")
    def test_add(self):
        """add adds two numbers"""
        self.assertEqual(calc().add(2, 3), 5)
        self.assertEqual(calc().add(-4, 4), 0)

    @weight(2)
    @number("2")
    @tags("lists")
    def test_mean(self):
        """mean of a list"""
        self.assertAlmostEqual(calc().mean([1, 2, 3, 4]), 2.5)
        self.assertEqual(calc().mean([]), 0)

    @partial_credit(4)
    @number("3")
    def test_primes(self, set_score):
        """is_prime on eight numbers (half a point each)"""
        cases = {1: False, 2: True, 3: True, 4: False, 17: True, 21: False, 97: True, 100: False}
        right = sum(calc().is_prime(n) == want for n, want in cases.items())
        set_score(right * 0.5)
        self.assertEqual(right, len(cases), f"{right} of {len(cases)} right")

    @weight(2)
    @number("4")
    @visibility("hidden")
    def test_fizzbuzz(self):
        """fizzbuzz up to 15"""
        want = ["1", "2", "Fizz", "4", "Buzz", "Fizz", "7", "8", "Fizz", "Buzz", "11", "Fizz",
                "13", "14", "FizzBuzz"]
        self.assertEqual(calc().fizzbuzz(15), want)
