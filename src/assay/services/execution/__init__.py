"""Running code outside any course: the picobytes-style ``/submit`` API and the
Judge0-compatible API, over one execution core."""
