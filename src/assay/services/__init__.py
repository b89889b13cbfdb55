"""Assay's use cases: the only layer the web app, the CLI and the workers call.

Each function takes the ``Platform`` (database, queue, settings) and the ``Actor``
doing it, checks that the actor may, does it in one transaction, records an audit
entry for changes, and returns plain data (pydantic models), never ORM objects.
Refusals are ``ServiceError``s from ``assay.errors``.
"""

from assay.services.actor import Actor
from assay.services.platform import Platform

__all__ = ["Actor", "Platform"]
