"""The HTTP face of Assay: the JSON API under /api/v1 (and the UI, later)."""
