"""A small, self-written helper in the style of Gradescope's Python utilities:
decorators that give unittest tests points, and a runner that writes results.json."""
