"""The durable job queue: jobs are rows, claimed with row locks (see ``jobs.py``);
``InMemoryJobQueue`` is the same behaviour without a database, for unit tests of the
queue's users; ``JobQueueProtocol`` is what both offer (``base.py``)."""

from assay.queue.base import ClaimedJob, ClaimHook, JobQueueProtocol
from assay.queue.jobs import JobQueue
from assay.queue.memory import InMemoryJobQueue

__all__ = ["ClaimHook", "ClaimedJob", "InMemoryJobQueue", "JobQueue", "JobQueueProtocol"]
