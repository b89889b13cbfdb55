import numpy as np
from code_feedback import Feedback
from pl_helpers import name, points
from pl_unit_test import PLTestCase


class Test(PLTestCase):
    @points(1)
    @name("x is a float array of the right shape")
    def test_0(self):
        if Feedback.check_numpy_array_features("x", self.ref.x, self.st.x):
            Feedback.set_score(1)
        else:
            Feedback.set_score(0)

    @points(3)
    @name("x solves Ax = b")
    def test_1(self):
        if Feedback.check_numpy_array_allclose("x", self.ref.x, self.st.x):
            Feedback.set_score(1)
        else:
            Feedback.set_score(0)

    @points(1)
    @name("The residual is small (half credit below 0.1)")
    def test_2(self):
        x = np.asarray(self.st.x, dtype=float)
        residual = np.linalg.norm(self.ref.A @ x - self.ref.b)
        if residual < 1e-6:
            Feedback.set_score(1)
        elif residual < 0.1:
            Feedback.add_feedback(f"the residual is {residual:.2g}: close, not exact")
            Feedback.set_score(0.5)
        else:
            Feedback.add_feedback(f"the residual is {residual:.2g}")
            Feedback.set_score(0)
