from code_feedback import Feedback
from pl_helpers import name, points
from pl_unit_test import PLTestCase


class Test(PLTestCase):
    @points(1)
    @name("The first two numbers")
    def test_0(self):
        first = Feedback.call_user(self.st.fib, 0)
        second = Feedback.call_user(self.st.fib, 1)
        if Feedback.check_scalar("fib(0)", 0, first) and Feedback.check_scalar("fib(1)", 1, second):
            Feedback.set_score(1)
        else:
            Feedback.set_score(0)

    @points(2)
    @name("fib(10)")
    def test_1(self):
        value = Feedback.call_user(self.st.fib, 10)
        if Feedback.check_scalar("fib(10)", self.ref.fib(10), value):
            Feedback.set_score(1)
        else:
            Feedback.set_score(0)

    @points(3)
    @name("Ten values of n from 2 to 29 (partial credit)")
    def test_2(self):
        right = 0
        for n in range(2, 30, 3):
            value = Feedback.call_user(self.st.fib, n)
            if Feedback.check_scalar(f"fib({n})", self.ref.fib(n), value, report_success=False):
                right += 1
        Feedback.set_score(right / 10)
