"""Background training jobs: the queue (:mod:`core.jobs.queue`: rows, claims, states, budgets), the
runner handed its workloads by its caller (:mod:`core.jobs.runner`), and the tune worker that joins
a job's study from another process (:mod:`core.jobs.worker`)."""
