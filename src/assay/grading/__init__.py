"""Grading: assignment packages, build + test pipelines, checkers, reports."""
