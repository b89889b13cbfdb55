import unittest

import numpy as np

from smooth import moving_average, zscores


class TestSmooth(unittest.TestCase):
    def test_moving_average_values(self):
        result = moving_average([1, 2, 3, 4, 5], 2)
        np.testing.assert_allclose(result, [1.5, 2.5, 3.5, 4.5])

    def test_moving_average_is_a_float_array(self):
        result = moving_average([1, 2, 3], 3)
        self.assertIsInstance(result, np.ndarray)
        self.assertEqual(result.dtype, np.float64)
        self.assertEqual(result.shape, (1,))

    def test_window_too_large_or_small(self):
        self.assertEqual(moving_average([1, 2], 3).size, 0)
        with self.assertRaises(ValueError):
            moving_average([1, 2], 0)

    def test_zscores(self):
        np.testing.assert_allclose(zscores([2, 4, 4, 4, 5, 5, 7, 9]), [-1.5, -0.5, -0.5, -0.5, 0, 0, 1, 2])

    def test_zscores_of_constant_values_are_zero_arrays(self):
        result = zscores([3, 3, 3])
        self.assertIsInstance(result, np.ndarray)
        np.testing.assert_array_equal(result, [0.0, 0.0, 0.0])
