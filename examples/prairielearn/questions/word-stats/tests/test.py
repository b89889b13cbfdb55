from code_feedback import Feedback
from pl_helpers import name, points
from pl_unit_test import PLTestCase


class Test(PLTestCase):
    student_code_file = "stats.py"

    @points(2)
    @name("word_counts of a lower-case sentence")
    def test_0(self):
        text = "the cat and the hat"
        got = Feedback.call_user(self.st.word_counts, text, stop_on_exception=False)
        if Feedback.check_dict("word_counts", self.ref.word_counts(text), got):
            Feedback.set_score(1)
        else:
            Feedback.set_score(0)

    @points(2)
    @name("word_counts ignores case and punctuation (a share per text)")
    def test_1(self):
        right = 0
        for text in self.data["params"].get("extra_texts", self.ref.texts):
            got = Feedback.call_user(self.st.word_counts, text, stop_on_exception=False)
            if got == self.ref.word_counts(text):
                right += 1
            else:
                Feedback.add_feedback(f"word_counts({text!r}) is not right")
        Feedback.set_score(right / len(self.ref.texts))

    @points(3)
    @name("top_words (a share per case)")
    def test_2(self):
        if not callable(self.st.top_words):
            Feedback.finish_test("top_words is not defined")
        cases = [("a b c a b a", 2), ("the cat and the hat", 3), ("z y x z y w", 3)]
        right = 0
        for text, k in cases:
            got = Feedback.call_user(self.st.top_words, text, k, stop_on_exception=False)
            expected = self.ref.top_words(text, k)
            if Feedback.check_list("top_words", expected, got, report_success=False) and (
                got == expected
            ):
                right += 1
            else:
                Feedback.add_feedback(f"top_words({text!r}, {k}) should be {expected}")
        Feedback.set_score(right / len(cases))

    @points(1)
    @name("Both functions have docstrings")
    def test_3(self):
        assert self.st.word_counts.__doc__, "word_counts has no docstring"
        assert self.st.top_words.__doc__, "top_words has no docstring"
        Feedback.set_score(1)
