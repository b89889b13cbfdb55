"""Assay: safe, fast execution and grading of untrusted student code."""

__version__ = "0.1.0"
