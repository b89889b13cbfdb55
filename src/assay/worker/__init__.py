"""Workers: processes (or threads inside `assay serve`) that take jobs from the queue."""
