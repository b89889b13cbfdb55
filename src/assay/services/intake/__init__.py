"""Work coming in and being graded: submissions (uploads and linked git
repositories), grading runs and their live progress, and the worker loop
that claims and runs queued jobs."""
