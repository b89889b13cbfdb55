"""The durable job queue: jobs are rows, claimed with row locks (see ``jobs.py``)."""

from assay.queue.jobs import ClaimedJob, JobQueue

__all__ = ["ClaimedJob", "JobQueue"]
