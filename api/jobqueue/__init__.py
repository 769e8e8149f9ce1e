"""Who runs queued jobs: the in-process runners (the default) or the PostgreSQL queue's workers (api/jobqueue/).

A request that queues a job calls one function, `handoff.hand_over`, whichever it is. The job's status, progress
and errors stay in our own tables either way, so the API and the pages read them the same.
"""
