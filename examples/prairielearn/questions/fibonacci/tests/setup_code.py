# Nothing is given to the student for this question.
