"""The page routers, one module per area (each owns templates/<area>/)."""

from __future__ import annotations

from assay.web.ui.pages import analytics, apidocs, assignments, auth, courses, staff, submissions

MODULES = (auth, courses, assignments, submissions, staff, analytics, apidocs)
