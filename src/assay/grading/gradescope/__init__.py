"""Gradescope autograders, unchanged: their layout, their results file, their import."""
