"""Programs copied into a student's sandbox to run instructor tests there.

They run on the sandbox's own Python with the standard library only, and
are shipped as package data (``importlib.resources``).
"""
