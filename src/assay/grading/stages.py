"""The stages of a grading run: one name each for the engine, the services that
record them as run events, the CLI's display and the pages that show them.

Values are what the events store and the API and the UI show: never change one.
"""

from __future__ import annotations

from enum import StrEnum


class Stage(StrEnum):
    QUEUED = "queued"  # the run's job is queued (services)
    CLONING = "cloning"  # a git submission's commit was fetched (services)
    STARTED = "started"  # a worker took the job (services)
    STATIC = "static"  # static checks of the sources (engine)
    SETUP = "setup"  # the sandbox is being prepared (engine)
    BUILDING = "building"  # the build commands run (engine)
    TESTING = "testing"  # test current of total (engine)
    CHECKING = "checking"  # an assignment check grades target current of total
    DONE = "done"  # the report is recorded (terminal)
    ERROR = "error"  # grading failed on our side (terminal)
    CANCELLED = "cancelled"  # a newer submission replaced the run (terminal)
