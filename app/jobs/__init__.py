"""The worker's jobs (SPEC §11): the schedule, the record of runs, and `GET /v1/jobs`."""
